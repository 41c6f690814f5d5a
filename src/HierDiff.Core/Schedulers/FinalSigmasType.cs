namespace HierDiff.Core.Schedulers;

/// <summary>The sigma after the last step (diffusers <c>final_sigmas_type</c>).</summary>
public enum FinalSigmasType
{
    /// <summary><c>zero</c>: the last step goes to sigma 0, the clean sample.</summary>
    Zero,

    /// <summary><c>sigma_min</c>: the last step goes to the smallest training sigma.</summary>
    SigmaMin,
}
