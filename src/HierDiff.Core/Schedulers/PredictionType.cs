namespace HierDiff.Core.Schedulers;

/// <summary>What the denoiser predicts (diffusers <c>prediction_type</c>).</summary>
public enum PredictionType
{
    /// <summary><c>epsilon</c>: the noise.</summary>
    Epsilon,

    /// <summary><c>v_prediction</c>: v = sqrt(alpha_cumprod) * noise - sqrt(1 - alpha_cumprod) * x0.</summary>
    VPrediction,

    /// <summary><c>sample</c>: the clean sample x0.</summary>
    Sample,
}
