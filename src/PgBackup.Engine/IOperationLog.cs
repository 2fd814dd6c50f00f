using System;

namespace PgBackup
{
    /// <summary>Progress of a long operation, reported by the engine from any thread.</summary>
    public sealed class ProgressInfo
    {
        public ProgressInfo(string activity, string status)
        {
            Activity = activity;
            Status = status;
        }

        public string Activity { get; }
        public string Status { get; }
        /// <summary>0-100, or -1 when the total is unknown.</summary>
        public int PercentComplete { get; init; } = -1;
        public string? CurrentOperation { get; init; }
        public int SecondsRemaining { get; init; } = -1;
        public bool Completed { get; init; }
        /// <summary>Distinguishes nested activities (0 for the outermost).</summary>
        public int ActivityId { get; init; }
    }

    /// <summary>
    /// What the engine tells its caller while it works. Implementations must be thread-safe: the engine calls them
    /// from worker threads; the cmdlets queue the messages and write them on the pipeline thread.
    /// Messages never contain a secret (see <see cref="Redactor"/>).
    /// </summary>
    public interface IOperationLog
    {
        void Verbose(string message);
        void Warning(string message);
        void Progress(ProgressInfo progress);
    }

    /// <summary>A log that drops everything (tests, nested calls).</summary>
    public sealed class NullLog : IOperationLog
    {
        public static readonly NullLog Instance = new NullLog();
        public void Verbose(string message) { }
        public void Warning(string message) { }
        public void Progress(ProgressInfo progress) { }
    }
}
