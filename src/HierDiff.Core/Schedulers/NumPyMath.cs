namespace HierDiff.Core.Schedulers;

/// <summary>
/// The few NumPy functions diffusers uses to build schedules, with NumPy's exact arithmetic, so that timesteps
/// (which are rounded, half to even) come out the same as in Python.
/// </summary>
internal static class NumPyMath
{
    /// <summary>np.linspace(start, stop, num): start + i * step, and the last element exactly stop.</summary>
    public static double[] Linspace(double start, double stop, int num)
    {
        var result = new double[num];
        if (num <= 1)
        {
            // NumPy's step is undefined here; the single element is start.
            if (num == 1)
            {
                result[0] = start;
            }

            return result;
        }

        double step = (stop - start) / (num - 1);
        for (int i = 0; i < num; i++)
        {
            result[i] = (i * step) + start;
        }

        result[num - 1] = stop;
        return result;
    }

    /// <summary>np.arange(start, stop, step) for floats. The length is ceil((stop - start) / step), and element i
    /// is start + i * delta with delta = (start + step) - start, as NumPy's fill loop computes it.</summary>
    public static double[] Arange(double start, double stop, double step)
    {
        double count = Math.Ceiling((stop - start) / step);
        int length = count > 0 ? checked((int)count) : 0;
        var result = new double[length];
        if (length == 0)
        {
            return result;
        }

        result[0] = start;
        if (length == 1)
        {
            return result;
        }

        result[1] = start + step;
        double delta = result[1] - start;
        for (int i = 2; i < length; i++)
        {
            result[i] = start + (i * delta);
        }

        return result;
    }

    /// <summary>np.expm1 (torch.expm1): e^x - 1, accurate for small x (Kahan's formula; .NET has no expm1).</summary>
    public static double Expm1(double x)
    {
        double u = Math.Exp(x);
        if (u == 1.0)
        {
            return x;
        }

        double um1 = u - 1.0;
        if (um1 == -1.0 || double.IsPositiveInfinity(u))
        {
            return um1;
        }

        return um1 * x / Math.Log(u);
    }

    /// <summary>np.round: to the nearest integer, halves to even.</summary>
    public static double Round(double value) => Math.Round(value, MidpointRounding.ToEven);

    /// <summary>np.interp(x, arange(fp.Length), fp): linear interpolation on the integer grid, clamped at both ends.</summary>
    public static double InterpOnIntegerGrid(double x, IReadOnlyList<double> fp)
    {
        int last = fp.Count - 1;
        if (x <= 0)
        {
            return fp[0];
        }

        if (x >= last)
        {
            return fp[last];
        }

        int j = (int)Math.Floor(x);
        if (x == j)
        {
            return fp[j];
        }

        double slope = fp[j + 1] - fp[j];
        return (slope * (x - j)) + fp[j];
    }
}
