namespace HierDiff.Core.Schedulers;

/// <summary>The timestep spacings of diffusers' DDPM, DDIM and Euler schedulers (set_timesteps), largest first.</summary>
internal static class TimestepSchedule
{
    /// <param name="spacing">The resolved timestep_spacing.</param>
    /// <param name="trainTimesteps">num_train_timesteps (T).</param>
    /// <param name="steps">Number of inference steps (K).</param>
    /// <param name="stepsOffset">steps_offset, added to leading timesteps.</param>
    /// <param name="roundLinspace">DDPM and DDIM round linspace timesteps to integers; Euler keeps them
    /// fractional, as float32 (np.linspace(..., dtype=np.float32)).</param>
    public static double[] Compute(TimestepSpacing spacing, int trainTimesteps, int steps, int stepsOffset, bool roundLinspace)
    {
        switch (spacing)
        {
            case TimestepSpacing.Linspace:
                {
                    // np.linspace(0, T - 1, K)[::-1]
                    double[] values = NumPyMath.Linspace(0, trainTimesteps - 1, steps);
                    Array.Reverse(values);
                    for (int i = 0; i < values.Length; i++)
                    {
                        values[i] = roundLinspace ? NumPyMath.Round(values[i]) : (float)values[i];
                    }

                    return values;
                }

            case TimestepSpacing.Leading:
                {
                    // (np.arange(0, K) * (T // K)).round()[::-1] + steps_offset
                    int ratio = trainTimesteps / steps;
                    var values = new double[steps];
                    for (int i = 0; i < steps; i++)
                    {
                        values[i] = ((double)(steps - 1 - i) * ratio) + stepsOffset;
                    }

                    return values;
                }

            default:
                {
                    // np.round(np.arange(T, 0, -T / K)) - 1. NumPy computes the length of arange as
                    // ceil(T / (T / K)), which rounding makes K + 1 for some K (T = 1000, K = 61: the extra
                    // element is about 1e-13, timestep -1). The spacing means K timesteps; keep the first K.
                    double[] raw = NumPyMath.Arange(trainTimesteps, 0, -(double)trainTimesteps / steps);
                    var values = new double[steps];
                    for (int i = 0; i < steps; i++)
                    {
                        values[i] = NumPyMath.Round(raw[i]) - 1;
                    }

                    return values;
                }
        }
    }

    /// <summary>sqrt((1 - alpha_cumprod) / alpha_cumprod) for every training timestep.</summary>
    public static double[] TrainingSigmas(double[] alphasCumprod)
    {
        var sigmas = new double[alphasCumprod.Length];
        for (int t = 0; t < sigmas.Length; t++)
        {
            sigmas[t] = Math.Sqrt((1 - alphasCumprod[t]) / alphasCumprod[t]);
        }

        return sigmas;
    }

    /// <summary>Sigmas at the (possibly fractional) timesteps by np.interp, followed by a final sigma of 0.</summary>
    public static double[] InterpolatedSigmas(double[] timesteps, double[] trainingSigmas)
    {
        var sigmas = new double[timesteps.Length + 1];
        for (int i = 0; i < timesteps.Length; i++)
        {
            sigmas[i] = NumPyMath.InterpOnIntegerGrid(timesteps[i], trainingSigmas);
        }

        return sigmas;
    }
}
