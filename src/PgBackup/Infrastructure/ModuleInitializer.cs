using System;
using System.IO;
using System.Management.Automation;
using System.Reflection;
using System.Runtime.InteropServices;

namespace PgBackup.Commands
{
    /// <summary>
    /// On Windows PowerShell 5.1 (.NET Framework) there are no load contexts: an AssemblyResolve handler hands out the
    /// dependencies shipped beside PgBackup.dll, but only for requests they can answer (<see cref="ShippedAssemblies"/>:
    /// the same name and publisher, the shipped version or an older one), never for any DLL of the same name another
    /// module asks for. On PowerShell 7 the module's own load context does this, and the handler is not installed.
    /// </summary>
    public sealed class ModuleInitializer : IModuleAssemblyInitializer
    {
        private static readonly string Folder = Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location) ?? "";
        private static readonly Lazy<ShippedAssemblies> Shipped = new Lazy<ShippedAssemblies>(() => ShippedAssemblies.In(Folder));
        private static bool _installed;

        public void OnImport()
        {
            if (_installed || !RuntimeInformation.FrameworkDescription.StartsWith(".NET Framework", StringComparison.Ordinal)) return;
            _installed = true;
            AppDomain.CurrentDomain.AssemblyResolve += Resolve;
        }

        private static Assembly? Resolve(object? sender, ResolveEventArgs args)
        {
            var file = Shipped.Value.Answer(args.Name);
            return file is null ? null : Assembly.LoadFrom(file);
        }
    }
}
