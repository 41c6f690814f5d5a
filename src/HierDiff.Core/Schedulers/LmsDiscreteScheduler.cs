using HierDiff.Core.Noise;

namespace HierDiff.Core.Schedulers;

/// <summary>
/// Linear multistep sampling of the probability-flow ODE in sigma space (Karras et al. 2022, k-diffusion's
/// sample_lms); mirrors diffusers <c>LMSDiscreteScheduler</c> (schedulers/scheduling_lms_discrete.py) with the
/// order its step uses by default, 4. Default timestep_spacing as in diffusers: linspace.
/// </summary>
/// <remarks>
/// <para>Each step adds sum_k c_k d_{i-k}: the derivatives d = (x - x0) / sigma of the last (up to) four steps,
/// weighted by the integrals over [sigma_i, sigma_{i+1}] of their Lagrange basis polynomials on those steps'
/// sigmas. The weights depend only on the schedule, so they are computed once here, exactly (diffusers integrates
/// the same cubic with scipy.integrate.quad, whose Gauss-Kronrod rule is exact for it).</para>
/// <para>The state keeps diffusers' derivatives, oldest first, at most four, in its array slots.</para>
/// </remarks>
public sealed class LmsDiscreteScheduler : SigmaScheduler
{
    /// <summary>Its name in the <see cref="SchedulerRegistry"/>.</summary>
    public const string RegisteredName = "lms";

    /// <summary>diffusers step(order=4), the order pipelines use.</summary>
    private const int Order = 4;

    private readonly double[][] coefficients;

    public LmsDiscreteScheduler(SchedulerConfig config, int numInferenceSteps)
        : base(RegisteredName, Unscaled(config), numInferenceSteps, SigmaOptions.KarrasSigmas)
    {
        coefficients = new double[NumInferenceSteps][];
        for (int i = 0; i < NumInferenceSteps; i++)
        {
            int order = Math.Min(i + 1, Order);
            coefficients[i] = new double[order];
            for (int k = 0; k < order; k++)
            {
                coefficients[i][k] = LmsCoefficient(order, i, k);
            }
        }
    }

    /// <summary>LMSDiscreteScheduler does not take rescale_betas_zero_snr; diffusers ignores it.</summary>
    private static SchedulerConfig Unscaled(SchedulerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config with { RescaleBetasZeroSnr = null };
    }

    /// <summary>diffusers get_lms_coefficient: the integral from sigma_i to sigma_{i+1} of the Lagrange basis
    /// polynomial that is 1 at sigma_{i-k} and 0 at the other sigma_{i-m}, m &lt; order.</summary>
    private double LmsCoefficient(int order, int i, int k)
    {
        double Basis(double tau)
        {
            double product = 1.0;
            for (int m = 0; m < order; m++)
            {
                if (m != k)
                {
                    product *= (tau - Sigma(i - m)) / (Sigma(i - k) - Sigma(i - m));
                }
            }

            return product;
        }

        // 4-point Gauss-Legendre: exact for polynomials up to degree 7; the basis has degree order - 1 <= 3.
        ReadOnlySpan<double> nodes = [-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526];
        ReadOnlySpan<double> weights = [0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538];
        double a = Sigma(i);
        double b = Sigma(i + 1);
        double half = (b - a) / 2;
        double sum = 0;
        for (int q = 0; q < nodes.Length; q++)
        {
            sum += weights[q] * Basis(a + half + (half * nodes[q]));
        }

        return half * sum;
    }

    private protected override void CheckStateShape(SchedulerState state, int sampleLength)
    {
        int expected = Math.Min(state.StepIndex, Order);
        if (state.Arrays.Count != expected || state.Scalars.Count != 0)
        {
            throw new InvalidOperationException(
                $"The scheduler state is damaged: {Name} at step {state.StepIndex} needs {expected} derivatives and no "
                + $"numbers, not {state.Arrays.Count} arrays and {state.Scalars.Count} numbers.");
        }

        foreach (float[] array in state.Arrays)
        {
            if (array.Length != sampleLength)
            {
                throw new ArgumentException(
                    $"The sample has {sampleLength} values but the state's derivatives have {array.Length}.");
            }
        }
    }

    /// <summary>diffusers step: the derivative at this step joins the history, then the multistep update.</summary>
    private protected override void StepCore(SchedulerState state, ReadOnlySpan<float> modelOutput, Span<float> sample, NoiseStream noise)
    {
        int i = state.StepIndex;
        double sigma = Sigma(i);
        double variance = (sigma * sigma) + 1;
        double vOutputCoeff = -sigma / Math.Sqrt(variance);
        var prediction = Config.PredictionType;
        List<float[]> derivatives = state.MutableArrays;

        // The oldest array is reused once four are kept, so a step allocates nothing.
        float[] derivative = derivatives.Count == Order ? derivatives[0] : new float[sample.Length];
        if (derivatives.Count == Order)
        {
            derivatives.RemoveAt(0);
        }

        for (int j = 0; j < sample.Length; j++)
        {
            double x = sample[j];
            double m = modelOutput[j];
            double original = PredictedOriginal(prediction, x, m, sigma, variance, vOutputCoeff);

            // Kept in float, as diffusers keeps it in the model's dtype.
            derivative[j] = (float)((x - original) / sigma);
        }

        derivatives.Add(derivative);
        double[] c = coefficients[i];
        int newest = derivatives.Count - 1;
        for (int j = 0; j < sample.Length; j++)
        {
            double previous = sample[j];
            for (int k = 0; k < c.Length; k++)
            {
                previous += c[k] * derivatives[newest - k][j];
            }

            sample[j] = (float)previous;
        }
    }
}
