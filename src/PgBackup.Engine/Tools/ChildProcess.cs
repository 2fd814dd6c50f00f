using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace PgBackup
{
    /// <summary>
    /// A child process (pg_dump, pg_dumpall, pg_restore) with its standard streams as .NET streams, stderr captured
    /// line by line (redacted), secrets passed only through its environment, a kill that also works on Ctrl+C, and an
    /// end that comes with PgBackup's own process, however that ends (<see cref="ChildProcessGuard"/>).
    /// </summary>
    public sealed class ChildProcess : IDisposable
    {
        private const int MaxCapturedStderrLines = 400;
        private readonly Process _process;
        private readonly Redactor _redactor;
        private readonly List<string> _stderr = new List<string>();
        private readonly Thread? _stderrThread;
        private readonly Action<string>? _onStderrLine;
        private int _stderrDropped;
        private volatile bool _killed;

        private ChildProcess(Process process, Redactor redactor, string displayCommandLine, Action<string>? onStderrLine)
        {
            _process = process;
            _redactor = redactor;
            _onStderrLine = onStderrLine;
            DisplayCommandLine = displayCommandLine;
            _stderrThread = new Thread(PumpStderr) { IsBackground = true, Name = "pgbackup-stderr" };
            _stderrThread.Start();
        }

        /// <summary>The command line, with secrets redacted: safe for verbose output.</summary>
        public string DisplayCommandLine { get; }
        public int Id => _process.Id;
        public Stream StandardOutput => _process.StandardOutput.BaseStream;
        public Stream StandardInput => _process.StandardInput.BaseStream;
        public bool WasKilled => _killed;

        /// <summary>
        /// Starts <paramref name="fileName"/>. <paramref name="environment"/> entries are added to (or, with a null value,
        /// removed from) the inherited environment. The tools' own messages are forced to English so that they can be read
        /// (<see cref="ServerMessages.ApplyChildLocale"/>).
        /// </summary>
        public static ChildProcess Start(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment,
            Redactor redactor, bool redirectStdin = false, bool redirectStdout = true, string? workingDirectory = null,
            Action<string>? onStderrLine = null)
        {
            var args = arguments.ToList();
            var psi = new ProcessStartInfo(fileName)
            {
                UseShellExecute = false,
                RedirectStandardError = true,
                RedirectStandardOutput = redirectStdout,
                RedirectStandardInput = redirectStdin,
                CreateNoWindow = true,
                // Relayed server text is in the client encoding (UTF8), not the console's OEM code page (Windows' default here).
                StandardErrorEncoding = ServerMessages.StderrEncoding,
            };
            if (workingDirectory is not null) psi.WorkingDirectory = workingDirectory;
#if NETSTANDARD2_0
            psi.Arguments = CommandLine.Join(args);
#else
            foreach (var a in args) psi.ArgumentList.Add(a);
#endif
            ServerMessages.ApplyChildLocale(psi.Environment);
            if (environment is not null)
                foreach (var kv in environment)
                {
                    if (kv.Value is null) psi.Environment.Remove(kv.Key);
                    else psi.Environment[kv.Key] = kv.Value;
                }
            var display = redactor.Redact(CommandLine.Join(new[] { fileName }.Concat(args)));
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
            {
                // What the C runtime of PostgreSQL's tools would receive changed (ANSI code page) is refused up front.
                var (codePage, ansi) = AnsiArguments.Current();
                AnsiArguments.Check(fileName, args, environment, codePage, ansi, redactor);
            }
            var process = new Process { StartInfo = psi };
            try
            {
                // No BOM before the data on .NET Framework with a UTF-8 console (ChildStdin).
                ChildStdin.Start(() => process.Start(), redirectStdin);
            }
            catch (Win32Exception e)
            {
                process.Dispose();
                throw new PgBackupException(ErrorIds.PgToolNotFound, ErrorKind.NotInstalled,
                    $"Could not start {Path.GetFileName(fileName)}: {e.Message}", fileName, e);
            }
            // Ended with this process, also when it is killed (kill -9, a scheduler's time limit): see ChildProcessGuard.
            ChildProcessGuard.Current.Adopt(process);
            return new ChildProcess(process, redactor, display, onStderrLine);
        }

        private void PumpStderr()
        {
            try
            {
                string? line;
                while ((line = _process.StandardError.ReadLine()) is not null)
                {
                    var clean = _redactor.Redact(line);
                    lock (_stderr)
                    {
                        if (_stderr.Count >= MaxCapturedStderrLines) { _stderr.RemoveAt(0); _stderrDropped++; }
                        _stderr.Add(clean);
                    }
                    _onStderrLine?.Invoke(clean);
                }
            }
            catch (Exception e) when (e is IOException || e is ObjectDisposedException || e is InvalidOperationException) { }
        }

        /// <summary>Captured stderr lines (the last few hundred), redacted.</summary>
        public IReadOnlyList<string> StandardErrorLines
        {
            get { lock (_stderr) return _stderr.ToArray(); }
        }

        public string StandardErrorText
        {
            get
            {
                lock (_stderr)
                    return (_stderrDropped > 0 ? $"[{_stderrDropped} earlier lines omitted]{Environment.NewLine}" : "") + string.Join(Environment.NewLine, _stderr);
            }
        }

        /// <summary>Waits for the process to exit and its stderr to be read; returns the exit code.</summary>
        public int WaitForExit(CancellationToken cancellationToken)
        {
            using (cancellationToken.Register(Kill))
            {
                _process.WaitForExit();
            }
            _stderrThread?.Join(TimeSpan.FromSeconds(10));
            cancellationToken.ThrowIfCancellationRequested();
            return _process.ExitCode;
        }

        public bool HasExited
        {
            get { try { return _process.HasExited; } catch (InvalidOperationException) { return true; } }
        }

        /// <summary>Kills the process (and, on .NET, its children, such as pg_dump's parallel workers).</summary>
        public void Kill()
        {
            _killed = true;
            try
            {
                if (_process.HasExited) return;
#if NETSTANDARD2_0
                _process.Kill();
#else
                _process.Kill(entireProcessTree: true);
#endif
            }
            catch (Exception e) when (e is InvalidOperationException || e is Win32Exception || e is NotSupportedException) { }
        }

        public void Dispose()
        {
            if (!HasExited) Kill();
            try { _process.WaitForExit(5000); } catch (InvalidOperationException) { }
            // One that would not die stays with the guard, which ends it with this process.
            if (HasExited) ChildProcessGuard.Current.Release(_process);
            _process.Dispose();
        }

        public sealed class Result
        {
            public int ExitCode { get; init; }
            public string StandardOutput { get; init; } = "";
            public string StandardError { get; init; } = "";
        }

        /// <summary>Runs a short command to its end and returns its output (version probes, listings).</summary>
        public static Result RunToEnd(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment,
            TimeSpan timeout, Redactor? redactor = null, CancellationToken cancellationToken = default)
        {
            using var p = Start(fileName, arguments, environment, redactor ?? Redactor.None);
            var stdoutTask = Task.Run(() =>
            {
                using var reader = new StreamReader(p.StandardOutput, new UTF8Encoding(false));
                return reader.ReadToEnd();
            });
            using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeoutCts.CancelAfter(timeout);
            int code;
            try
            {
                code = p.WaitForExit(timeoutCts.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new PgBackupException(ErrorIds.PgDumpFailed, ErrorKind.OperationTimeout,
                    $"{Path.GetFileName(fileName)} did not finish within {timeout.TotalSeconds:0} seconds.", fileName);
            }
            return new Result { ExitCode = code, StandardOutput = stdoutTask.GetAwaiter().GetResult(), StandardError = p.StandardErrorText };
        }
    }

    /// <summary>Command-line quoting by the rules the C runtime (and .NET's Process on Unix) use to split arguments.</summary>
    public static class CommandLine
    {
        public static string Join(IEnumerable<string> arguments) => string.Join(" ", arguments.Select(Quote));

        public static string Quote(string argument)
        {
            if (argument.Length > 0 && argument.IndexOfAny(new[] { ' ', '\t', '\n', '\v', '"' }) < 0) return argument;
            var sb = new StringBuilder("\"");
            int backslashes = 0;
            foreach (char c in argument)
            {
                if (c == '\\') { backslashes++; continue; }
                if (c == '"') { sb.Append('\\', backslashes * 2 + 1); sb.Append('"'); }
                else { sb.Append('\\', backslashes); sb.Append(c); }
                backslashes = 0;
            }
            sb.Append('\\', backslashes * 2);
            sb.Append('"');
            return sb.ToString();
        }
    }
}
