using System;
using System.Collections.Concurrent;
using System.IO;
using System.Reflection;
using System.Runtime.Loader;

namespace PgBackup.LoadContext
{
    /// <summary>
    /// PgBackup's own assembly load context on PowerShell 7. This small assembly is the only one loaded into
    /// PowerShell's default context; PgBackup.dll and its dependencies (Npgsql, AWS SDK, BouncyCastle...) load into
    /// this context from the module's bin folder, so they never clash with other versions loaded by other modules.
    /// </summary>
    public sealed class ModuleLoadContext : AssemblyLoadContext
    {
        private static readonly ConcurrentDictionary<string, ModuleLoadContext> Contexts =
            new ConcurrentDictionary<string, ModuleLoadContext>(StringComparer.Ordinal);

        private readonly string _folder;
        private readonly string _runtimeFolder;

        private ModuleLoadContext(string folder) : base("PgBackup", isCollectible: false)
        {
            _folder = folder;
            _runtimeFolder = Path.GetDirectoryName(typeof(object).Assembly.Location) ?? "";
            MainAssembly = LoadFromAssemblyPath(Path.Combine(folder, "PgBackup.dll"));
        }

        /// <summary>PgBackup.dll, loaded in this context.</summary>
        public Assembly MainAssembly { get; }

        /// <summary>
        /// Loads PgBackup.dll from <paramref name="folder"/> into its own context (once per folder) and returns it,
        /// for <c>Import-Module -Assembly</c>.
        /// </summary>
        public static Assembly Initialize(string folder)
        {
            var full = Path.GetFullPath(folder);
            return Contexts.GetOrAdd(full, f => new ModuleLoadContext(f)).MainAssembly;
        }

        protected override Assembly? Load(AssemblyName assemblyName)
        {
            if (assemblyName.Name is null) return null;
            if (assemblyName.Name == typeof(ModuleLoadContext).Assembly.GetName().Name) return typeof(ModuleLoadContext).Assembly;

            var candidate = Path.Combine(_folder, assemblyName.Name + ".dll");
            if (!File.Exists(candidate)) return null; // PowerShell's own assemblies and the runtime's: the default context.

            // A runtime assembly (System.Memory, System.Text.Json...) that the running .NET provides in the same or a
            // newer version comes from the runtime: a second copy would split its types in two.
            var runtimeCopy = Path.Combine(_runtimeFolder, assemblyName.Name + ".dll");
            if (File.Exists(runtimeCopy))
            {
                try
                {
                    var runtimeVersion = AssemblyName.GetAssemblyName(runtimeCopy).Version;
                    if (assemblyName.Version is null || (runtimeVersion is not null && runtimeVersion >= assemblyName.Version))
                        return null;
                }
                catch (BadImageFormatException)
                {
                    return null;
                }
            }
            return LoadFromAssemblyPath(candidate);
        }

        protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
        {
            var candidate = Path.Combine(_folder, unmanagedDllName);
            return File.Exists(candidate) ? LoadUnmanagedDllFromPath(candidate) : IntPtr.Zero;
        }
    }
}
