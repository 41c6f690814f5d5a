namespace HierDiff.TestModels;

/// <summary>How the UNet's <c>timestep</c> input is typed, as different exporters write it.</summary>
public enum TimestepKind
{
    /// <summary><c>timestep</c> is int64 [batch] (optimum's exports).</summary>
    Int64Batch,

    /// <summary><c>timestep</c> is float [batch] (float16 with <see cref="TinyModelOptions.Float16"/>).</summary>
    Float32Batch,

    /// <summary><c>timestep</c> is a float scalar [] (float16 with <see cref="TinyModelOptions.Float16"/>).</summary>
    Float32Scalar,
}
