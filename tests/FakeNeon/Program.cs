using System;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using FakeNeon;

// FakeNeon: a local fake of Neon's management API v2 for PgBackup's tests. See README.md beside this file.
//   dotnet FakeNeon.dll --api-key KEY [--api-key KEY2] [--admin-uri postgresql://...] [--port 0] [--parent-pid PID]
//                       [--branch-page-size N] [--project-page-size N] [--operation-ms N] [--lock-lag-ms N] [--no-validate]
// Prints "FakeNeon listening on http://127.0.0.1:PORT" once it serves; the API is under /api/v2, the control routes
// under /_fake. Stops on Ctrl+C, SIGTERM, or when the --parent-pid process ends.

var config = new FakeNeonConfig();
int port = 0;
int? parentPid = null;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--api-key": config.ApiKeys.Add(Next()); break;
        case "--admin-uri": config.AdminConnectionUri = Next(); break;
        case "--port": port = int.Parse(Next()); break;
        case "--parent-pid": parentPid = int.Parse(Next()); break;
        case "--branch-page-size": config.BranchPageSize = int.Parse(Next()); break;
        case "--project-page-size": config.ProjectPageSize = int.Parse(Next()); break;
        case "--operation-ms": config.OperationMs = int.Parse(Next()); break;
        case "--lock-lag-ms": config.LockLagMs = int.Parse(Next()); break;
        case "--no-validate": config.ValidateResponses = false; break;
        default: Console.Error.WriteLine($"Unknown argument {args[i]}"); return 2;
    }
}
config.AdminConnectionUri ??= Environment.GetEnvironmentVariable("FAKENEON_ADMIN_URI");
foreach (var k in (Environment.GetEnvironmentVariable("FAKENEON_API_KEYS") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
    config.ApiKeys.Add(k);
if (config.ApiKeys.Count == 0) { Console.Error.WriteLine("Give at least one --api-key (or FAKENEON_API_KEYS)."); return 2; }

await using var server = new FakeNeonServer(config);
var url = await server.StartAsync(port);
Console.WriteLine($"FakeNeon listening on {url}");
Console.Out.Flush();

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Cancel(); });
if (parentPid is int pid)
{
    _ = Task.Run(async () =>
    {
        // The tests' process died without stopping the fake: stop too (and drop the branch databases).
        while (!stop.IsCancellationRequested)
        {
            try { using var p = Process.GetProcessById(pid); if (p.HasExited) break; }
            catch (ArgumentException) { break; }
            await Task.Delay(1000);
        }
        stop.Cancel();
    });
}
try { await Task.Delay(Timeout.Infinite, stop.Token); } catch (OperationCanceledException) { }
var violations = server.Violations;
if (violations.Count > 0) Console.Error.WriteLine($"FakeNeon: {violations.Count} spec violation(s):\n  " + string.Join("\n  ", violations.Take(50)));
return 0;
