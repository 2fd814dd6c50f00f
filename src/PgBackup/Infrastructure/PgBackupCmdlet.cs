using System;
using System.Collections.Concurrent;
using System.Management.Automation;
using System.Reflection;
using System.Security;
using System.Threading;
using System.Threading.Tasks;

namespace PgBackup.Commands
{
    /// <summary>
    /// The base of every PgBackup cmdlet. It runs engine work on a worker thread and writes the engine's verbose,
    /// warning and progress messages on the pipeline thread (the only thread allowed to). Ctrl+C (StopProcessing), a
    /// message whose writing throws (-WarningAction Stop, or a pipeline that is stopping) and disposal cancel the
    /// work, which kills child processes and removes partial files, and wait for it: no work outlives its cmdlet.
    /// </summary>
    public abstract class PgBackupCmdlet : PSCmdlet, IDisposable
    {
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private static readonly int ActivityBase = Math.Abs(typeof(PgBackupCmdlet).GetHashCode() % 100000);
        /// <summary>The engine work in flight (Run runs one at a time, on the pipeline thread), or null.</summary>
        private Task? _work;
        private bool _disposed;

        protected CancellationToken StopToken => _stop.Token;

        protected override void StopProcessing() => _stop.Cancel();

        /// <summary>True when the parameter <paramref name="name"/> was given (not just its default).</summary>
        protected bool Given(string name) => MyInvocation.BoundParameters.ContainsKey(name);

        /// <summary><paramref name="value"/> when the parameter <paramref name="name"/> was given, else null.</summary>
        protected int? IfGiven(string name, int value) => Given(name) ? value : (int?)null;

        /// <summary>The module's version (the one in PgBackup.psd1, compiled in by build.ps1).</summary>
        protected static string ModuleVersion
        {
            get
            {
                var v = typeof(PgBackupCmdlet).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
                int plus = v.IndexOf('+');
                return plus >= 0 ? v.Substring(0, plus) : v;
            }
        }

        /// <summary>The current PowerShell folder (not the process's), where relative paths and .env are found.</summary>
        protected string CurrentFolder => SessionState.Path.CurrentFileSystemLocation.ProviderPath;

        /// <summary>A path as PowerShell users mean it: relative to $PWD, PS drives resolved; s3:// URIs unchanged.</summary>
        protected string ResolvePath(string path) =>
            StoreFactory.IsRemote(path) ? path : GetUnresolvedProviderPathFromPSPath(path);

        /// <summary>Runs engine work, relaying its messages; engine errors become terminating errors.</summary>
        protected T Run<T>(Func<IOperationLog, CancellationToken, T> work)
        {
            var log = new QueuedLog();
            var task = Task.Factory.StartNew(() =>
            {
                try { return work(log, _stop.Token); }
                finally { log.Complete(); }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            _work = task;
            try
            {
                try
                {
                    foreach (var message in log.Messages)
                        message(this);
                }
                catch
                {
                    // Writing the message threw (-WarningAction Stop, or the pipeline is stopping): the work stops,
                    // and the cmdlet goes on only once it has.
                    StopWork();
                    throw;
                }
                return task.GetAwaiter().GetResult();
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                throw new PipelineStoppedException();
            }
            finally
            {
                _work = null;
            }
        }

        /// <summary>Cancels the engine work and waits until it has ended (its failure is not the one reported).</summary>
        private void StopWork()
        {
            _stop.Cancel();
            try { _work?.Wait(); }
            catch (AggregateException) { }
        }

        protected void Run(Action<IOperationLog, CancellationToken> work) => Run<object?>((log, ct) => { work(log, ct); return null; });

        /// <summary>
        /// Runs engine work that produces results as it goes (from any of its threads): each is handed to
        /// <paramref name="write"/> on the pipeline thread, in the order they came, between the work's messages.
        /// A write that throws (-ErrorAction Stop on an error it writes) stops the work as Ctrl+C does.
        /// </summary>
        protected void Run(Action<IOperationLog, Action<object>, CancellationToken> work, Action<object> write) =>
            Run<object?>((log, ct) =>
            {
                var queue = (QueuedLog)log;
                work(log, item => queue.Post(_ => write(item)), ct);
                return null;
            });

        /// <summary>
        /// Runs engine work for one input object: a PgBackup failure becomes a non-terminating error for that object
        /// (the rest of the pipeline goes on); returns false when it failed.
        /// </summary>
        protected bool TryRun<T>(Func<IOperationLog, CancellationToken, T> work, object? target, out T result)
        {
            try
            {
                result = Run(work);
                return true;
            }
            catch (PgBackupException e)
            {
                WriteError(ToErrorRecord(e, target));
                result = default!;
                return false;
            }
        }

        /// <summary>
        /// ShouldProcess that -Force answers: with -Force (and no explicit -Confirm) the action runs without a prompt;
        /// -WhatIf still only describes it.
        /// </summary>
        protected bool ShouldProcessOrForce(string target, string action, bool force)
        {
            bool whatIf = MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w) ? ((SwitchParameter)w).IsPresent
                : GetVariableValue("WhatIfPreference") is bool b ? b : GetVariableValue("WhatIfPreference") is SwitchParameter sp && sp.IsPresent;
            bool confirm = MyInvocation.BoundParameters.TryGetValue("Confirm", out var c) && ((SwitchParameter)c).IsPresent;
            if (!force || whatIf || confirm) return ShouldProcess(target, action);
            WriteVerbose($"{action} on \"{target}\" (-Force: not asked).");
            return true;
        }

        public static ErrorRecord ToErrorRecord(PgBackupException e, object? target = null)
        {
            // A target given by the user may be an address with a SAS token in it (refused, AzureInvalidUri): never shown.
            if (target is string text) target = Redactor.None.Redact(text);
            var record = new ErrorRecord(e, e.ErrorId, Category(e.Kind), target ?? e.Target);
            if (e.RecommendedAction is not null)
                record.ErrorDetails = new ErrorDetails(e.Message) { RecommendedAction = e.RecommendedAction };
            return record;
        }

        /// <summary>Stops the cmdlet with a PgBackup error.</summary>
        protected void Fail(PgBackupException e, object? target = null) => ThrowTerminatingError(ToErrorRecord(e, target));

        protected void Fail(string errorId, ErrorKind kind, string message, object? target = null) =>
            Fail(new PgBackupException(errorId, kind, message, target));

        public static ErrorCategory Category(ErrorKind kind) => kind switch
        {
            ErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
            ErrorKind.ObjectNotFound => ErrorCategory.ObjectNotFound,
            ErrorKind.ConnectionError => ErrorCategory.ConnectionError,
            ErrorKind.AuthenticationError => ErrorCategory.AuthenticationError,
            ErrorKind.PermissionDenied => ErrorCategory.PermissionDenied,
            ErrorKind.NotInstalled => ErrorCategory.NotInstalled,
            ErrorKind.InvalidData => ErrorCategory.InvalidData,
            ErrorKind.WriteError => ErrorCategory.WriteError,
            ErrorKind.ReadError => ErrorCategory.ReadError,
            ErrorKind.OperationStopped => ErrorCategory.OperationStopped,
            ErrorKind.OperationTimeout => ErrorCategory.OperationTimeout,
            ErrorKind.ResourceExists => ErrorCategory.ResourceExists,
            ErrorKind.ResourceBusy => ErrorCategory.ResourceBusy,
            ErrorKind.SecurityError => ErrorCategory.SecurityError,
            ErrorKind.NotImplemented => ErrorCategory.NotImplemented,
            _ => ErrorCategory.InvalidOperation,
        };

        /// <summary>The plain text of a SecureString, for handing to the engine (never logged).</summary>
        protected static string? Plain(SecureString? secure)
        {
            if (secure is null) return null;
            return new System.Net.NetworkCredential(string.Empty, secure).Password;
        }

        /// <summary>A SecureString's characters, for libraries that take char[]; the caller clears them (OpenPgp.Clear, or disposing the settings that hold them).</summary>
        protected static char[]? Chars(SecureString? secure)
        {
            if (secure is null || secure.Length == 0) return null;
            var ptr = System.Runtime.InteropServices.Marshal.SecureStringToGlobalAllocUnicode(secure);
            try
            {
                var chars = new char[secure.Length];
                System.Runtime.InteropServices.Marshal.Copy(ptr, chars, 0, chars.Length);
                return chars;
            }
            finally { System.Runtime.InteropServices.Marshal.ZeroFreeGlobalAllocUnicode(ptr); }
        }

        /// <summary>
        /// The unlocked key of -SigningKey (null when not given; read once), read before any work starts: a wrong passphrase or a
        /// file without a signing key stops the cmdlet. The passphrase's characters are cleared once the key is read.
        /// </summary>
        protected SigningKey? LoadSigningKey(string? path, SecureString? passphrase)
        {
            if (path is null || _signingKey is not null) return _signingKey;
            var chars = Chars(passphrase);
            try { return _signingKey = SigningKey.Load(GetUnresolvedProviderPathFromPSPath(path), chars); }
            catch (PgBackupException e) { Fail(e, path); return null; }
            finally { OpenPgp.Clear(chars); }
        }

        private SigningKey? _signingKey;
        private SignatureVerifier? _verifier;

        /// <summary>The public keys of -VerifyKey (read once; null when not given); a file that holds none stops the cmdlet.</summary>
        protected SignatureVerifier? Verifier(string? verifyKey)
        {
            if (verifyKey is null || _verifier is not null) return _verifier;
            try { return _verifier = SignatureVerifier.Load(GetUnresolvedProviderPathFromPSPath(verifyKey)); }
            catch (PgBackupException e) { Fail(e, verifyKey); return null; }
        }

        /// <summary>Decryption settings from the parameters every cmdlet that reads backups has; dispose them after use.</summary>
        protected DecryptionSettings Decryption(SecureString? passphrase, string? secretKeyPath, SecureString? secretKeyPassphrase) =>
            passphrase is null && secretKeyPath is null ? DecryptionSettings.None : new DecryptionSettings
            {
                Passphrase = Chars(passphrase),
                SecretKeyPath = secretKeyPath is null ? null : GetUnresolvedProviderPathFromPSPath(secretKeyPath),
                SecretKeyPassphrase = Chars(secretKeyPassphrase),
            };

        protected PgConnectionInfo ResolveConnection(string? connectionString, PSCredential? credential, IOperationLog log)
        {
            string? user = credential is null || credential == PSCredential.Empty ? null : credential.UserName;
            string? password = credential is null || credential == PSCredential.Empty ? null : credential.GetNetworkCredential().Password;
            return ConnectionResolver.Resolve(connectionString, user, password, CurrentFolder, log);
        }

        public void Dispose()
        {
            Dispose(true);
            GC.SuppressFinalize(this);
        }

        protected virtual void Dispose(bool disposing)
        {
            if (!disposing || _disposed) return;
            _disposed = true;
            StopWork();
            _stop.Dispose();
        }

        /// <summary>Messages from worker threads, replayed on the pipeline thread.</summary>
        private sealed class QueuedLog : IOperationLog
        {
            private readonly BlockingCollection<Action<PgBackupCmdlet>> _queue = new BlockingCollection<Action<PgBackupCmdlet>>();

            public System.Collections.Generic.IEnumerable<Action<PgBackupCmdlet>> Messages => _queue.GetConsumingEnumerable();

            public void Complete() => _queue.CompleteAdding();

            public void Post(Action<PgBackupCmdlet> action)
            {
                try { _queue.Add(action); } catch (InvalidOperationException) { }
            }

            public void Verbose(string message) => Post(c => c.WriteVerbose(message));
            public void Warning(string message) => Post(c => c.WriteWarning(message));

            public void Progress(ProgressInfo p) => Post(c =>
            {
                var record = new ProgressRecord(ActivityBase + p.ActivityId, p.Activity, string.IsNullOrEmpty(p.Status) ? p.Activity : p.Status)
                {
                    PercentComplete = p.PercentComplete,
                    SecondsRemaining = p.SecondsRemaining,
                    CurrentOperation = p.CurrentOperation,
                    RecordType = p.Completed ? ProgressRecordType.Completed : ProgressRecordType.Processing,
                };
                c.WriteProgress(record);
            });
        }
    }
}
