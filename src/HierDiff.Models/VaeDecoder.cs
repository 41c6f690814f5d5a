using HierDiff.Models.Images;
using HierDiff.Models.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace HierDiff.Models;

/// <summary>The VAE decoder (<c>vae_decoder/model.onnx</c>): latent_sample / scaling_factor → sample in [-1, 1].</summary>
public sealed class VaeDecoder : IDisposable
{
    private static readonly Port[] Inputs = [new("latent_sample", Port.Floats, [4])];
    private static readonly Port[] Outputs = [new("sample", Port.Floats, [4])];

    private readonly OnnxModel _model;

    internal VaeDecoder(string path, OnnxDevice device, double scalingFactor)
    {
        _model = OnnxModel.Open(path, device, Inputs, Outputs);
        ScalingFactor = scalingFactor;
    }

    public double ScalingFactor { get; }

    /// <summary>Decodes latents (each channels x height x width) in batches into 8-bit RGB images.</summary>
    public IReadOnlyList<RgbImage> Decode(IReadOnlyList<float[]> latents, int channels, int height, int width, int batchSize = 4)
    {
        var images = new List<RgbImage>(latents.Count);
        int length = channels * height * width;
        for (int first = 0; first < latents.Count; first += batchSize)
        {
            int count = Math.Min(batchSize, latents.Count - first);
            using var input = new ModelTensor(_model.InputType("latent_sample"), [count, channels, height, width]);
            var scaled = new float[length];
            for (int b = 0; b < count; b++)
            {
                float[] latent = latents[first + b];
                for (int j = 0; j < length; j++)
                {
                    scaled[j] = (float)(latent[j] / ScalingFactor);
                }

                input.WriteFloats(b * length, scaled);
            }

            using var runOptions = new RunOptions();
            using IDisposableReadOnlyCollection<OrtValue> outputs = _model.Session.Run(runOptions, ["latent_sample"], [input.Value], ["sample"]);
            long[] shape = outputs[0].GetTensorTypeAndShape().Shape;
            float[] pixels = TextEncoder.ReadFloats(outputs[0]);
            int perImage = pixels.Length / count;
            for (int b = 0; b < count; b++)
            {
                images.Add(RgbImage.FromPlanar(pixels.AsSpan(b * perImage, perImage), (int)shape[2], (int)shape[3]));
            }
        }

        return images;
    }

    public void Dispose() => _model.Dispose();
}
