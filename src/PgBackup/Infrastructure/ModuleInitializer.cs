using System;
using System.IO;
using System.Management.Automation;
using System.Reflection;
using System.Runtime.InteropServices;

namespace PgBackup.Commands
{
    /// <summary>
    /// On Windows PowerShell 5.1 (.NET Framework) there are no load contexts: an AssemblyResolve handler hands out the
    /// dependency versions shipped beside PgBackup.dll, whatever version another assembly asks for. On PowerShell 7
    /// the module's own load context does this, and the handler is not installed.
    /// </summary>
    public sealed class ModuleInitializer : IModuleAssemblyInitializer
    {
        private static readonly string Folder = Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location) ?? "";
        private static bool _installed;

        public void OnImport()
        {
            if (_installed || !RuntimeInformation.FrameworkDescription.StartsWith(".NET Framework", StringComparison.Ordinal)) return;
            _installed = true;
            AppDomain.CurrentDomain.AssemblyResolve += Resolve;
        }

        private static Assembly? Resolve(object? sender, ResolveEventArgs args)
        {
            var name = new AssemblyName(args.Name).Name;
            if (name is null) return null;
            var candidate = Path.Combine(Folder, name + ".dll");
            return File.Exists(candidate) ? Assembly.LoadFrom(candidate) : null;
        }
    }
}
