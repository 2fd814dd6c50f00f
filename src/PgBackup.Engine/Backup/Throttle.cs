using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.ExceptionServices;
using System.Threading;
using System.Threading.Tasks;

namespace PgBackup
{
    /// <summary>
    /// Runs one piece of work per item, at most N at a time (New-PgBackup -AllDatabases, Test-PgBackup -ThrottleLimit):
    /// N threads take the next item as they finish one, so memory is that of N pieces of work, whatever the number of
    /// items. Once <c>ct</c> is cancelled no item starts; the running ones see it and end; then it throws.
    /// </summary>
    public static class Throttle
    {
        public const int MaxLimit = 64;

        public static void Validate(int limit)
        {
            if (limit < 1 || limit > MaxLimit)
                throw new PgBackupException(ErrorIds.InvalidParameter, ErrorKind.InvalidArgument, $"-ThrottleLimit must be between 1 and {MaxLimit}; {limit} was given.", limit);
        }

        /// <param name="work">Called with the item and the worker's number (1..N), on that worker's thread.</param>
        public static void ForEach<T>(IReadOnlyList<T> items, int limit, Action<T, int> work, CancellationToken ct)
        {
            Validate(limit);
            var queue = new ConcurrentQueue<T>(items);
            var workers = Enumerable.Range(1, Math.Min(limit, items.Count)).Select(slot => Task.Factory.StartNew(() =>
            {
                while (!ct.IsCancellationRequested && queue.TryDequeue(out var item)) work(item, slot);
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
            try { Task.WaitAll(workers); }
            catch (AggregateException e)
            {
                ct.ThrowIfCancellationRequested();
                ExceptionDispatchInfo.Capture(e.InnerExceptions.First()).Throw();
            }
            ct.ThrowIfCancellationRequested();
        }
    }

    /// <summary>
    /// One worker's view of a shared log: its lines start with the item's name, and its progress has an activity of
    /// its own (ids <c>slot * 100 + n</c>), so that N pieces of work at once stay apart in PowerShell's output.
    /// </summary>
    public sealed class ItemLog : IOperationLog
    {
        private readonly IOperationLog _log;
        private readonly string _prefix;
        private readonly int _slot;

        public ItemLog(IOperationLog log, string item, int slot)
        {
            _log = log;
            _prefix = item + ": ";
            _slot = slot;
        }

        public void Verbose(string message) => _log.Verbose(_prefix + message);
        public void Warning(string message) => _log.Warning(_prefix + message);

        public void Progress(ProgressInfo p) => _log.Progress(new ProgressInfo(p.Activity, p.Status)
        {
            PercentComplete = p.PercentComplete,
            CurrentOperation = p.CurrentOperation,
            SecondsRemaining = p.SecondsRemaining,
            Completed = p.Completed,
            ActivityId = _slot * 100 + p.ActivityId,
        });
    }
}
