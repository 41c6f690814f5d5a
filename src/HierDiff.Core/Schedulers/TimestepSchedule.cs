namespace HierDiff.Core.Schedulers;

/// <summary>The timestep spacings of diffusers' schedulers (set_timesteps), largest first, and the sigma schedules
/// built on them.</summary>
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

    /// <summary>The spacing of diffusers' multistep solvers (DPM-Solver, UniPC): K + 1 points, the last (t = 0)
    /// dropped, except for trailing spacing, which is the usual one.</summary>
    public static double[] ComputeMultistep(SchedulerConfig config, int steps)
    {
        int trainTimesteps = config.NumTrainTimesteps;
        var values = new double[steps];
        switch (config.TimestepSpacing)
        {
            case TimestepSpacing.Linspace:
                {
                    // np.linspace(0, T - 1, K + 1).round()[::-1][:-1]
                    double[] points = NumPyMath.Linspace(0, trainTimesteps - 1, steps + 1);
                    for (int i = 0; i < steps; i++)
                    {
                        values[i] = NumPyMath.Round(points[steps - i]);
                    }

                    return values;
                }

            case TimestepSpacing.Leading:
                {
                    // (np.arange(0, K + 1) * (T // (K + 1))).round()[::-1][:-1] + steps_offset
                    int ratio = trainTimesteps / (steps + 1);
                    for (int i = 0; i < steps; i++)
                    {
                        values[i] = ((double)(steps - i) * ratio) + config.StepsOffset;
                    }

                    return values;
                }

            default:
                return Compute(TimestepSpacing.Trailing, trainTimesteps, steps, config.StepsOffset, roundLinspace: true);
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

    /// <summary>diffusers _convert_to_karras: <paramref name="count"/> sigmas from <paramref name="sigmaMax"/> down to
    /// <paramref name="sigmaMin"/>, evenly spaced in sigma^(1/rho) with rho = 7 (Karras et al. 2022, eq. 5).</summary>
    public static double[] KarrasSigmas(double sigmaMin, double sigmaMax, int count)
    {
        const double Rho = 7.0;
        double[] ramp = NumPyMath.Linspace(0, 1, count);
        double minInvRho = Math.Pow(sigmaMin, 1 / Rho);
        double maxInvRho = Math.Pow(sigmaMax, 1 / Rho);
        var sigmas = new double[count];
        for (int i = 0; i < count; i++)
        {
            sigmas[i] = Math.Pow(maxInvRho + (ramp[i] * (minInvRho - maxInvRho)), Rho);
        }

        return sigmas;
    }

    /// <summary>diffusers _sigma_to_t: the fractional training timestep of a sigma, interpolating log sigma between
    /// the two training timesteps around it (clamped to the trained range).</summary>
    /// <param name="logSigmas">log of the training sigmas, t = 0..T-1 (increasing).</param>
    public static double SigmaToTimestep(double sigma, IReadOnlyList<double> logSigmas)
    {
        double logSigma = Math.Log(Math.Max(sigma, 1e-10));

        // The last training timestep whose log sigma is at most this one (0 if none), at most T - 2.
        int low = 0;
        for (int t = 0; t < logSigmas.Count; t++)
        {
            if (logSigma - logSigmas[t] >= 0)
            {
                low = t;
            }
        }

        low = Math.Min(low, logSigmas.Count - 2);
        double w = Math.Clamp((logSigmas[low] - logSigma) / (logSigmas[low] - logSigmas[low + 1]), 0, 1);
        return ((1 - w) * low) + (w * (low + 1));
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
