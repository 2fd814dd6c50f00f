using System;
using System.Threading;
using System.Threading.Tasks;

namespace PgBackup
{
    /// <summary>
    /// Work started on a pool thread beside the caller's own, whose result the caller takes later. Disposing it stops
    /// the work (its own cancellation, linked to the caller's) and waits for it, so that a caller that fails first
    /// leaves nothing running; its failure then is not the one reported.
    /// </summary>
    internal sealed class BackgroundWork<T> : IDisposable
    {
        private readonly CancellationTokenSource _stop;
        private readonly Task<T> _task;

        private BackgroundWork(Func<CancellationToken, T> work, CancellationToken cancellationToken)
        {
            _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var token = _stop.Token;
            _task = Task.Run(() => work(token), token);
        }

        public static BackgroundWork<T> Start(Func<CancellationToken, T> work, CancellationToken cancellationToken) =>
            new BackgroundWork<T>(work, cancellationToken);

        /// <summary>Waits for the work and returns its result, or throws its exception.</summary>
        public T Result() => _task.GetAwaiter().GetResult();

        public void Dispose()
        {
            _stop.Cancel();
            try { _task.Wait(); }
            catch (AggregateException) { }
            _stop.Dispose();
        }
    }
}
