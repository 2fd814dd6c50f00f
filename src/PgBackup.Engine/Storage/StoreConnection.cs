using System;
using System.Threading;
using System.Threading.Tasks;

namespace PgBackup
{
    /// <summary>
    /// What the S3 and Azure connections share: the options, and running one request with its failure mapped (by the
    /// connection's own <see cref="Map"/>) to a PgBackup error with a stable id.
    /// </summary>
    internal abstract class StoreConnection
    {
        protected StoreConnection(StoreOptions options)
        {
            options.Validate();
            Options = options;
        }

        public StoreOptions Options { get; }

        /// <summary>Runs one request and maps its failure. <paramref name="write"/>: the request stores something.</summary>
        public T Call<T>(Func<CancellationToken, Task<T>> request, string what, string target, bool write, CancellationToken ct)
        {
            try
            {
                return request(ct).GetAwaiter().GetResult();
            }
            catch (Exception e) when (!(e is PgBackupException) && !(e is OperationCanceledException && ct.IsCancellationRequested))
            {
                throw Map(e, what, target, write);
            }
        }

        public void Call(Func<CancellationToken, Task> request, string what, string target, bool write, CancellationToken ct) =>
            Call<object?>(async c => { await request(c).ConfigureAwait(false); return null; }, what, target, write, ct);

        /// <summary>An SDK or network failure as a PgBackup error with a stable id (never with a secret in it).</summary>
        public abstract PgBackupException Map(Exception e, string what, string target, bool write);

        /// <summary>The id of a failed write (upload) to this service.</summary>
        public abstract string UploadFailedId { get; }

        /// <summary>The request ran out of time (HttpClient's timeout), not cancelled by the user.</summary>
        internal static bool IsTimeout(Exception e)
        {
            for (var x = e; x is not null; x = x.InnerException)
                if (x is TimeoutException || x is TaskCanceledException) return true;
            return false;
        }
    }
}
