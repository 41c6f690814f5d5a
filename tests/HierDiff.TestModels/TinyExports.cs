namespace HierDiff.TestModels;

/// <summary>A tiny export of each family HierDiff loads, by a short name the tests' theories use.</summary>
public static class TinyExports
{
    /// <summary>SD 1.x; SD 2.x at 768 px with v-prediction (DDIM and Euler configs) and its 512 px base, both with
    /// OpenCLIP's "!" padding; SDXL and Kandinsky 2.2 in fp32 and fp16.</summary>
    public static readonly IReadOnlyList<string> Families = ["sd15", "sd2-768-v-ddim", "sd2-768-v-euler", "sd2-base", "sdxl", "sdxl-fp16", "kandinsky22", "kandinsky22-fp16"];

    /// <summary>Writes the family's export into <paramref name="directory"/>; returns the directory.</summary>
    public static string Write(string family, string directory)
    {
        var sd2 = new TinyModelOptions { HiddenSize = 48, PadToken = "!", PredictionType = "v_prediction", Timestep = TimestepKind.Float32Batch };
        return family switch
        {
            "sd15" => TinyStableDiffusion.Write(directory),
            "sd2-768-v-ddim" => TinyStableDiffusion.Write(directory, sd2 with { LatentSize = 96, SchedulerClass = "DDIMScheduler" }),
            "sd2-768-v-euler" => TinyStableDiffusion.Write(directory, sd2 with { LatentSize = 96, SchedulerClass = "EulerDiscreteScheduler" }),
            "sd2-base" => TinyStableDiffusion.Write(directory, sd2 with { LatentSize = 64, PredictionType = "epsilon", SchedulerClass = "DDIMScheduler" }),
            "sdxl" => TinyStableDiffusionXL.Write(directory),
            "sdxl-fp16" => TinyStableDiffusionXL.Write(directory, new TinyXlOptions { Float16 = true }),
            "kandinsky22" => TinyKandinsky22.Write(directory),
            "kandinsky22-fp16" => TinyKandinsky22.Write(directory, new TinyKandinskyOptions { Float16 = true }),
            _ => throw new ArgumentOutOfRangeException(nameof(family), family, $"one of {string.Join(", ", Families)}"),
        };
    }

    /// <summary>The side of the family's images in pixels.</summary>
    public static int ImageSize(string family) => family switch
    {
        "sd2-768-v-ddim" or "sd2-768-v-euler" => 768,
        "sd2-base" => 512,
        _ => 64,
    };
}
