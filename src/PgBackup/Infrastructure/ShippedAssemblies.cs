using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;

namespace PgBackup.Commands
{
    /// <summary>
    /// The assemblies PgBackup ships beside PgBackup.dll, and which load requests Windows PowerShell's AssemblyResolve
    /// handler answers with them: only a request for one of them, by the same public key token and culture, for its
    /// version or an older one (what a binding redirect would allow). A request for a newer version, another
    /// publisher's assembly of the same name, a satellite assembly or anything not shipped is left to others.
    /// (No PowerShell types here: the xUnit tests compile this file too.)
    /// </summary>
    internal sealed class ShippedAssemblies
    {
        private readonly Dictionary<string, (AssemblyName Name, string Path)> _shipped;

        public ShippedAssemblies(IEnumerable<(AssemblyName Name, string Path)> shipped)
        {
            _shipped = new Dictionary<string, (AssemblyName, string)>(StringComparer.OrdinalIgnoreCase);
            foreach (var s in shipped) if (s.Name.Name is not null) _shipped[s.Name.Name] = s;
        }

        /// <summary>The assemblies in <paramref name="folder"/> (files that are not assemblies are left out).</summary>
        public static ShippedAssemblies In(string folder)
        {
            var found = new List<(AssemblyName, string)>();
            foreach (var file in Directory.GetFiles(folder, "*.dll"))
            {
                try { found.Add((AssemblyName.GetAssemblyName(file), file)); }
                catch (Exception e) when (e is BadImageFormatException || e is IOException || e is UnauthorizedAccessException) { }
            }
            return new ShippedAssemblies(found);
        }

        /// <summary>The file that answers a request for <paramref name="requestedName"/> (an assembly's full name), or null.</summary>
        public string? Answer(string requestedName)
        {
            AssemblyName requested;
            try { requested = new AssemblyName(requestedName); }
            catch (Exception e) when (e is ArgumentException || e is FileLoadException) { return null; }
            return requested.Name is not null && _shipped.TryGetValue(requested.Name, out var s) && Matches(requested, s.Name) ? s.Path : null;
        }

        /// <summary>Whether <paramref name="shipped"/> may stand in for <paramref name="requested"/>.</summary>
        public static bool Matches(AssemblyName requested, AssemblyName shipped)
        {
            if (!string.Equals(requested.Name, shipped.Name, StringComparison.OrdinalIgnoreCase)) return false;
            if (!string.IsNullOrEmpty(requested.CultureName) && !string.Equals(requested.CultureName, shipped.CultureName, StringComparison.OrdinalIgnoreCase)) return false;
            var token = requested.GetPublicKeyToken() ?? Array.Empty<byte>();
            if (!token.SequenceEqual(shipped.GetPublicKeyToken() ?? Array.Empty<byte>())) return false;
            return requested.Version is not null && shipped.Version is not null && requested.Version <= shipped.Version;
        }
    }
}
