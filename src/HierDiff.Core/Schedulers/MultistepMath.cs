namespace HierDiff.Core.Schedulers;

/// <summary>What the multistep solvers (DPM-Solver++, UniPC) both compute from a sigma, as diffusers' two schedulers
/// do: the VP coefficients and the data (x0) prediction of convert_model_output.</summary>
internal static class MultistepMath
{
    /// <summary>alpha_t = 1 / sqrt(sigma^2 + 1), sigma_t = sigma * alpha_t, lambda = log(alpha_t) - log(sigma_t).</summary>
    public static (double Alpha, double Sigma, double Lambda) AlphaSigmaLambda(double sigma)
    {
        double alpha = 1.0 / Math.Sqrt((sigma * sigma) + 1);
        double sigmaT = sigma * alpha;
        return (alpha, sigmaT, Math.Log(alpha) - Math.Log(sigmaT));
    }

    /// <summary>The x0 prediction from the model output <paramref name="m"/> at sample <paramref name="x"/>.</summary>
    public static double DataPrediction(PredictionType prediction, double x, double m, double alpha, double sigmaT) => prediction switch
    {
        PredictionType.Epsilon => (x - (sigmaT * m)) / alpha,
        PredictionType.VPrediction => (alpha * x) - (sigmaT * m),
        _ => m,
    };

    /// <summary>diffusers set_timesteps without Karras sigmas: each timestep's sigma interpolated on the training
    /// sigmas, then the final sigma, 0 or (final_sigmas_type sigma_min) the smallest training sigma.</summary>
    public static double[] InterpolatedSigmas(SchedulerConfig config, double[] timesteps, double[] trainingSigmas)
    {
        double[] sigmas = TimestepSchedule.InterpolatedSigmas(timesteps, trainingSigmas);
        if (config.FinalSigmasType == FinalSigmasType.SigmaMin)
        {
            sigmas[^1] = trainingSigmas[0];
        }

        return sigmas;
    }

    /// <summary>diffusers set_timesteps with use_karras_sigmas: Karras sigmas over the whole training range, and the
    /// (unrounded) training timesteps they fall on.</summary>
    public static (double[] Sigmas, double[] Timesteps) KarrasSigmas(double[] trainingSigmas, int steps)
    {
        double[] karras = TimestepSchedule.KarrasSigmas(trainingSigmas[0], trainingSigmas[^1], steps);
        double[] logSigmas = trainingSigmas.Select(s => Math.Log(s)).ToArray();
        return (karras, karras.Select(s => TimestepSchedule.SigmaToTimestep(s, logSigmas)).ToArray());
    }
}
