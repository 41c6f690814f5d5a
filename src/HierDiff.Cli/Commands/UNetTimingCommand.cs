using HierDiff.Report;

namespace HierDiff.Cli.Commands;

/// <summary><c>hierdiff unet-timing</c>: the UNet's time per call against batch size (<see cref="UNetTiming"/>).</summary>
internal static class UNetTimingCommand
{
    public static Command Create()
    {
        var modelDir = new Option<DirectoryInfo>("--model")
        {
            Description = "An ONNX export folder of a family HierDiff loads; default: the built-in shapes model",
            DefaultValueFactory = _ => new DirectoryInfo(BuiltInModel.Directory),
        };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu" };
        var sizes = new Option<int[]>("--sizes")
        {
            Description = $"Batch sizes to time (1 to {UNetTiming.MaxSize})",
            DefaultValueFactory = _ => UNetTiming.DefaultSizes,
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("unet-timing", "Time the model's guided UNet per call against batch size: what small batches cost against full ones") { modelDir, device, sizes };
        command.SetAction(parse =>
        {
            Console.Write(UNetTiming.Run(parse.GetValue(modelDir)!.ToString(), OnnxDevice.Parse(parse.GetValue(device)!), parse.GetValue(sizes) ?? [], Console.Error.WriteLine));
            return 0;
        });
        return command;
    }
}
