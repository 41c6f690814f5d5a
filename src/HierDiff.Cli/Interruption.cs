using System.Runtime.InteropServices;

namespace HierDiff.Cli;

/// <summary>
/// Ctrl-C and SIGTERM as a cancellation: the run stops at its next model call and removes its own staging folder,
/// rather than the process dying with files half written beside the output. A second signal ends it at once.
/// </summary>
internal sealed class Interruption : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration[] _registrations;

    public Interruption() =>
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal), PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal)];

    /// <summary>The signal that asked the run to stop, if one did.</summary>
    public PosixSignal? Signal { get; private set; }

    public CancellationToken Token => _cancel.Token;

    public void Dispose()
    {
        foreach (PosixSignalRegistration registration in _registrations)
        {
            registration.Dispose();
        }

        _cancel.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        if (Signal is not null)
        {
            return;
        }

        Signal = context.Signal;
        context.Cancel = true;
        _cancel.Cancel();
    }
}
