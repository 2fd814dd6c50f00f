using System;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using PgBackup.Commands;
using Xunit;

namespace PgBackup.Tests
{
    /// <summary>Which requests Windows PowerShell's AssemblyResolve handler answers (ModuleInitializer): only for what the module ships.</summary>
    public sealed class ShippedAssembliesTests
    {
        private const string NpgsqlToken = "5d8b90d52f46fda7";
        private static readonly ShippedAssemblies Shipped = new ShippedAssemblies(new[]
        {
            (new AssemblyName($"Npgsql, Version=8.0.9.0, Culture=neutral, PublicKeyToken={NpgsqlToken}"), "/m/Npgsql.dll"),
            (new AssemblyName("System.Runtime.CompilerServices.Unsafe, Version=6.0.0.0, Culture=neutral, PublicKeyToken=b03f5f7f11d50a3a"), "/m/Unsafe.dll"),
            (new AssemblyName("PgBackup.Engine, Version=0.1.0.0, Culture=neutral, PublicKeyToken=null"), "/m/PgBackup.Engine.dll"),
        });

        [Theory]
        [InlineData("Npgsql, Version=8.0.9.0, Culture=neutral, PublicKeyToken=" + NpgsqlToken, "/m/Npgsql.dll")]
        [InlineData("Npgsql, Version=8.0.0.0, Culture=neutral, PublicKeyToken=" + NpgsqlToken, "/m/Npgsql.dll")]
        [InlineData("System.Runtime.CompilerServices.Unsafe, Version=4.0.4.1, Culture=neutral, PublicKeyToken=b03f5f7f11d50a3a", "/m/Unsafe.dll")]
        [InlineData("PgBackup.Engine, Version=0.1.0.0, Culture=neutral, PublicKeyToken=null", "/m/PgBackup.Engine.dll")]
        [InlineData("Npgsql, Version=9.0.3.0, Culture=neutral, PublicKeyToken=" + NpgsqlToken, null)]       // another module's newer Npgsql
        [InlineData("Npgsql, Version=8.0.0.0, Culture=neutral, PublicKeyToken=0123456789abcdef", null)]    // same name, other publisher
        [InlineData("Npgsql, Version=8.0.0.0, Culture=neutral, PublicKeyToken=null", null)]                // an unsigned look-alike
        [InlineData("Npgsql", null)]                                                                         // no version: anyone's
        [InlineData("Npgsql.resources, Version=8.0.9.0, Culture=de, PublicKeyToken=" + NpgsqlToken, null)] // not shipped
        [InlineData("Npgsql, Version=8.0.9.0, Culture=de, PublicKeyToken=" + NpgsqlToken, null)]           // a satellite
        [InlineData("AWSSDK.Core, Version=4.0.0.0, Culture=neutral, PublicKeyToken=885c28607f98e604", null)]
        [InlineData("not an assembly name, =", null)]
        public void AnswersOnlyForWhatTheModuleShips(string request, string? answer)
        {
            Assert.Equal(answer, Shipped.Answer(request));
        }

        /// <summary>
        /// The Windows PowerShell build as built: every reference one shipped assembly makes to another is answered
        /// (so the policy breaks nothing the module needs), and a newer version of each is not.
        /// </summary>
        [Fact]
        public void AnswersEveryReferenceBetweenTheShippedAssembliesOfTheBuild()
        {
            var root = AppContext.BaseDirectory;
            while (root is not null && !File.Exists(Path.Combine(root, "PgBackup.psd1"))) root = Path.GetDirectoryName(root);
            Assert.True(root is not null, "the repository's root (PgBackup.psd1) was not found");
            var folder = Directory.GetDirectories(Path.Combine(root!, "output", "PgBackup")).Select(v => Path.Combine(v, "bin", "netstandard2.0")).FirstOrDefault(Directory.Exists);
            Assert.True(folder is not null, "build the module first (build.ps1 -Task Build): output/PgBackup/<version>/bin/netstandard2.0 is missing");
            var shipped = ShippedAssemblies.In(folder!);
            var names = Directory.GetFiles(folder!, "*.dll").Select(f => AssemblyName.GetAssemblyName(f)).ToDictionary(n => n.Name!, StringComparer.OrdinalIgnoreCase);
            int checkedReferences = 0;
            foreach (var file in Directory.GetFiles(folder!, "*.dll"))
            {
                using var pe = new PEReader(File.OpenRead(file));
                var md = pe.GetMetadataReader();
                foreach (var handle in md.AssemblyReferences)
                {
                    var reference = md.GetAssemblyReference(handle).GetAssemblyName();
                    if (!names.TryGetValue(reference.Name!, out var target)) continue;
                    Assert.True(shipped.Answer(reference.FullName) is not null, $"{Path.GetFileName(file)} references {reference.FullName}, which is not answered with {target.FullName}");
                    var newer = new AssemblyName(target.FullName) { Version = new Version(target.Version!.Major + 1, 0, 0, 0) };
                    Assert.Null(shipped.Answer(newer.FullName));
                    checkedReferences++;
                }
            }
            Assert.True(checkedReferences > 10, $"only {checkedReferences} references between shipped assemblies");
        }
    }
}
