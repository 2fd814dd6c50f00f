# The installable packages (tools/Build-Package.ps1, build.ps1 -Task Package), made from the module under test: their
# exact contents, and installs as a user would make them, each in a fresh `pwsh -NoProfile` whose module path is empty
# and temporary and whose PSResourceGet settings live in a temporary folder (tools/IsolatedPwsh.psm1): from a local
# repository with Install-PSResource, and from the unpacked Azure Automation zip. Each install imports PgBackup by
# name and runs a backup, a listing and a restore drill against the test server.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    Import-Module (Join-Path $RepoRoot 'tools/IsolatedPwsh.psm1') -Force
    $script:Work = New-TestFolder
    $script:Package = & (Join-Path $RepoRoot 'tools/Build-Package.ps1') -ModulePath (Split-Path $env:PGBACKUP_TEST_MODULE) `
        -OutputPath (Join-Path $Work 'package')
    $script:Version = $Package.Version

    # What ships, file by file (paths inside the module folder). PgBackup's own .pdb files ship for stack traces with
    # file and line numbers; no .deps.json, no test assembly, nothing that needs an installer.
    $own = 'PgBackup.dll', 'PgBackup.pdb', 'PgBackup.Engine.dll', 'PgBackup.Engine.pdb'
    $deps = 'AWSSDK.Core.dll', 'AWSSDK.S3.dll', 'BouncyCastle.Cryptography.dll', 'Microsoft.Extensions.DependencyInjection.Abstractions.dll',
        'Microsoft.Extensions.Logging.Abstractions.dll', 'Npgsql.dll', 'System.Diagnostics.DiagnosticSource.dll', 'TimeZoneConverter.dll', 'ZstdSharp.dll'
    $desktopOnly = 'Microsoft.Bcl.AsyncInterfaces.dll', 'Microsoft.Bcl.HashCode.dll', 'System.Buffers.dll', 'System.Collections.Immutable.dll',
        'System.Memory.dll', 'System.Numerics.Vectors.dll', 'System.Runtime.CompilerServices.Unsafe.dll', 'System.Text.Encodings.Web.dll',
        'System.Text.Json.dll', 'System.Threading.Channels.dll', 'System.Threading.Tasks.Extensions.dll'
    # Azure Blob Storage: Azure.Storage.Blobs and Azure.Identity with what they bring (both builds); on net8.0 also the
    # newer System.Text.Json and friends that Azure.Core needs, and the runtime-specific assets NuGet adds.
    $azure = 'Apache.Arrow.dll', 'Azure.Core.dll', 'Azure.Identity.dll', 'Azure.Storage.Blobs.dll', 'Azure.Storage.Common.dll',
        'Microsoft.Extensions.Configuration.Abstractions.dll', 'Microsoft.Extensions.Diagnostics.Abstractions.dll', 'Microsoft.Extensions.FileProviders.Abstractions.dll',
        'Microsoft.Extensions.Hosting.Abstractions.dll', 'Microsoft.Extensions.Options.dll', 'Microsoft.Extensions.Primitives.dll',
        'Microsoft.Identity.Client.dll', 'Microsoft.Identity.Client.Extensions.Msal.dll', 'Microsoft.IdentityModel.Abstractions.dll', 'System.ClientModel.dll',
        'System.IO.Hashing.dll', 'System.IO.Pipelines.dll', 'System.Memory.Data.dll', 'System.Security.Cryptography.ProtectedData.dll'
    $azureCore = 'Microsoft.Bcl.AsyncInterfaces.dll', 'System.Text.Encodings.Web.dll', 'System.Text.Json.dll',
        'runtimes/browser/lib/net8.0/System.Text.Encodings.Web.dll', 'runtimes/win/lib/netstandard2.0/System.Security.Cryptography.ProtectedData.dll'
    $azureDesktop = 'System.ComponentModel.Annotations.dll', 'System.Formats.Asn1.dll', 'System.IO.FileSystem.AccessControl.dll', 'System.Security.AccessControl.dll',
        'System.Security.Cryptography.Cng.dll', 'System.Security.Principal.Windows.dll'
    $formats = 'BackupInfo', 'DatabaseBackupResult', 'ExportResult', 'NeonBackupBranch', 'RestoreResult', 'RetentionDecision', 'ScratchDatabase', 'TestResult'
    $script:ExpectedFiles = @(
        'LICENSE', 'PgBackup.psd1', 'PgBackup.psm1', 'en-US/PgBackup.dll-Help.xml'
        'bin/PgBackup.LoadContext.dll', 'bin/PgBackup.LoadContext.pdb'
        $formats | ForEach-Object { "formats/$_.Format.ps1xml" }
        $own + $deps + $azure + $azureCore | ForEach-Object { "bin/net8.0/$_" }
        $own + $deps + $desktopOnly + $azure + $azureDesktop | ForEach-Object { "bin/netstandard2.0/$_" }
    ) | Sort-Object

    function Get-ZipEntries([string]$Path) {
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [System.IO.Compression.ZipFile]::OpenRead($Path)
        try { @($zip.Entries | ForEach-Object FullName) } finally { $zip.Dispose() }
    }

    # The test database and the script each install runs (DATABASE_URL reaches it through its environment only).
    $script:Database = New-TestDatabaseName 'pkg'
    New-TestDatabase -Server $Main -Name $Database -SqlFile $SampleSql
    $script:ChildEnvironment = @{ DATABASE_URL = (Get-TestPostgresUri -Server $Main -Database $Database) }
    $script:UseModule = @'
param($Framework, $Backups, $ResultFile)
$ErrorActionPreference = 'Stop'
Import-Module PgBackup -ArgumentList $Framework
$module = Get-Module PgBackup
$backup = New-PgBackup -Path $Backups
$listed = @(Get-PgBackup -Path $Backups)
$drill = $listed[0] | Test-PgBackup -Restore
$commands = foreach ($c in Get-Command -Module PgBackup) {
    $help = Get-Help $c.Name -Full
    [pscustomobject]@{ Name = $c.Name; Synopsis = [string]$help.Synopsis; Examples = @($help.examples.example).Count }
}
[pscustomobject]@{
    ModuleBase = $module.ModuleBase
    Version    = $module.Version.ToString()
    Assembly   = (Get-Command New-PgBackup).ImplementingType.Assembly.Location
    Backup     = $backup.Name
    Listed     = @($listed.Name)
    Drill      = $drill.Passed
    DrillKind  = [string]$drill.Kind
    Commands   = @($commands)
} | ConvertTo-Json -Depth 4 | Set-Content $ResultFile
'@

    function Assert-InstalledModuleWorks($Result, [string]$ModuleRoot, [string]$Framework) {
        # What every install must show: PgBackup imported by name from where it was installed, its build, a backup
        # that is listed and passes its drill, every cmdlet with its help.
        $Result.ModuleBase | Should -BeLike "$ModuleRoot*"
        $Result.Version | Should -Be $Version
        $Result.Assembly | Should -BeLike "$ModuleRoot*bin*$Framework*PgBackup.dll"
        $Result.Backup | Should -BeLike "backup_$($Database)_*"
        $Result.Listed | Should -Be @($Result.Backup)
        $Result.Drill | Should -BeTrue
        $Result.DrillKind | Should -Be 'Drill'
        $manifest = Import-PowerShellDataFile $env:PGBACKUP_TEST_MODULE
        @($Result.Commands.Name | Sort-Object) | Should -Be @($manifest.CmdletsToExport | Sort-Object)
        foreach ($c in $Result.Commands) {
            $c.Synopsis | Should -Not -BeNullOrEmpty -Because "$($c.Name) has help"
            $c.Synopsis | Should -Not -Match "^$([regex]::Escape($c.Name))\b" -Because "$($c.Name)'s help is not the generated syntax"
            $c.Examples | Should -BeGreaterThan 0 -Because "$($c.Name) has examples"
        }
    }
}

AfterAll {
    Invoke-TestPsql -Server $Main -Sql "DROP DATABASE IF EXISTS `"$Database`" WITH (FORCE);" | Out-Null
    Remove-TestFolder $Work
}

Describe 'The packages' {
    It 'hold exactly the module''s files: the Gallery package (with NuGet''s own parts) and the zip (under PgBackup/)' {
        $nupkg = Get-ZipEntries $Package.Nupkg | Where-Object { $_ -notmatch '^(\[Content_Types\]\.xml|_rels/\.rels|PgBackup\.nuspec|package/services/metadata/core-properties/[0-9a-f]{32}\.psmdcp)$' }
        @($nupkg | Sort-Object) | Should -Be $ExpectedFiles
        @(Get-ZipEntries $Package.Nupkg).Count | Should -Be ($ExpectedFiles.Count + 4)
        $zip = Get-ZipEntries $Package.Zip
        @($zip | Sort-Object) | Should -Be @($ExpectedFiles | ForEach-Object { "PgBackup/$_" } | Sort-Object)
        ($zip | Where-Object Length -ge 140) | Should -BeNullOrEmpty
        (Get-Item $Package.Zip).Length | Should -BeLessThan 100MB
    }

    It 'are refused when a path in the zip would reach 140 characters (Azure Automation''s limit)' {
        $module = Join-Path $Work 'long/0.1.0'
        New-Item -ItemType Directory -Force -Path $module | Out-Null
        Copy-Item -Path (Join-Path (Split-Path $env:PGBACKUP_TEST_MODULE) '*') -Destination $module -Recurse
        Set-Content -Path (Join-Path $module "bin/$('x' * 127).txt") -Value 'long'
        $output = Join-Path $Work 'long-package'
        { & (Join-Path $RepoRoot 'tools/Build-Package.ps1') -ModulePath $module -OutputPath $output } | Should -Throw '*140 characters*'
        @(Get-ChildItem $output) | Should -BeNullOrEmpty
    }

    It 'carry SHA-256 sums of both, as sha256sum -c reads them' {
        $lines = @(Get-Content $Package.Sums)
        $lines | Should -Be @(
            "$((Get-FileHash -Algorithm SHA256 $Package.Nupkg).Hash.ToLowerInvariant())  PgBackup.$Version.nupkg"
            "$((Get-FileHash -Algorithm SHA256 $Package.Zip).Hash.ToLowerInvariant())  PgBackup.zip"
        )
    }

    It 'ship no dependency twice: each one the two builds share is a different build of it (a shared copy would not serve both)' {
        $bin = Join-Path (Split-Path $env:PGBACKUP_TEST_MODULE) 'bin'
        # Published for netstandard2.0 only (MSAL's token cache protection, brought by Azure.Identity): the same file in both.
        $netstandardOnly = 'System.Security.Cryptography.ProtectedData.dll'
        foreach ($f in Get-ChildItem (Join-Path $bin 'net8.0') -Filter '*.dll' | Where-Object Name -notin $netstandardOnly) {
            $other = Join-Path $bin "netstandard2.0/$($f.Name)"
            if (Test-Path $other) { (Get-FileHash $f.FullName).Hash | Should -Not -Be (Get-FileHash $other).Hash -Because "$($f.Name) differs between the builds" }
        }
    }

    It 'have a manifest that passes Test-ModuleManifest, with what the Gallery shows, release notes from CHANGELOG.md and the MIT license' {
        $unpacked = Join-Path $Work 'manifest-check'
        Expand-Archive -Path $Package.Zip -DestinationPath $unpacked
        $info = Test-ModuleManifest (Join-Path $unpacked 'PgBackup/PgBackup.psd1') -ErrorAction Stop
        $info.Version.ToString() | Should -Match '^\d+\.\d+\.\d+$'
        $info.CompatiblePSEditions | Should -Be @('Desktop', 'Core')
        foreach ($tag in 'PSEdition_Desktop', 'PSEdition_Core', 'Windows', 'Linux', 'MacOS', 'PostgreSQL') { $info.Tags | Should -Contain $tag }
        ($info.Tags | Where-Object { $_ -match '\s' }) | Should -BeNullOrEmpty
        $info.LicenseUri | Should -Be 'https://opensource.org/licenses/MIT'
        $changelog = (Get-Content -Raw (Join-Path $RepoRoot 'CHANGELOG.md')) -replace "`r`n", "`n"
        $section = [regex]::Match($changelog, "(?ms)^## \[$([regex]::Escape($Version))\][^\n]*\n(.*?)(?=^## |\z)").Groups[1].Value.Trim()
        $section | Should -Not -BeNullOrEmpty
        ($info.ReleaseNotes -replace "`r`n", "`n").Trim() | Should -Be $section
        $info.Copyright | Should -Match 'MIT'
        Get-Content -Raw (Join-Path $unpacked 'PgBackup/LICENSE') | Should -Match '^MIT License'
    }
}

Describe 'Installs' {
    It 'Install-PSResource from a local repository into an empty module path: imported by name, backs up, lists and drills' {
        $userHome = Join-Path $Work 'home-gallery'
        $repository = Join-Path $Work 'repository'
        New-Item -ItemType Directory -Path $repository | Out-Null
        Copy-Item $Package.Nupkg $repository
        # The real user's PSResourceGet settings, to check that the install never touched them.
        $settings = Join-Path ([Environment]::GetFolderPath('LocalApplicationData')) 'PSResourceGet/PSResourceRepository.xml'
        $before = if (Test-Path $settings) { (Get-FileHash $settings).Hash } else { 'absent' }
        $result = Join-Path $Work 'gallery.json'
        $install = @'
param($Repository, $Framework, $Backups, $ResultFile, $UseScript)
$ErrorActionPreference = 'Stop'
if (Get-Module -ListAvailable PgBackup) { throw "PgBackup is already on the module path: $((Get-Module -ListAvailable PgBackup).ModuleBase)" }
Register-PSResourceRepository -Name PgBackupTest -Uri $Repository -Trusted
$settings = Join-Path ([Environment]::GetFolderPath('LocalApplicationData')) 'PSResourceGet/PSResourceRepository.xml'
if (-not (Select-String -Path $settings -Pattern 'PgBackupTest' -SimpleMatch -Quiet)) { throw "The repository is not in the temporary settings $settings." }
Install-PSResource -Name PgBackup -Repository PgBackupTest -Scope CurrentUser -TrustRepository
& $UseScript $Framework $Backups $ResultFile
'@
        $useFile = Join-Path $Work 'use.ps1'
        Set-Content -Path $useFile -Value $UseModule
        $r = Invoke-IsolatedPwsh -Script $install -UserHome $userHome -Environment $ChildEnvironment `
            -Arguments @($repository, 'net8.0', (Join-Path $Work 'backups-gallery'), $result, $useFile)
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $after = if (Test-Path $settings) { (Get-FileHash $settings).Hash } else { 'absent' }
        $after | Should -Be $before
        Assert-InstalledModuleWorks -Result (Get-Content -Raw $result | ConvertFrom-Json) -ModuleRoot (Join-Path $userHome ".local/share/powershell/Modules/PgBackup/$Version") -Framework 'net8.0'
    }

    # This file runs once (tests/Invoke-PesterSuite.ps1): the Gallery install runs the net8.0 build, the zip the
    # netstandard2.0 build (Windows PowerShell 5.1's, and PowerShell 7.2's in Azure Automation).
    It 'the Azure Automation zip, unpacked into an empty module path: imported by name with the netstandard2.0 build, backs up, lists and drills' {
        $modules = Join-Path $Work 'modules-zip'
        Expand-Archive -Path $Package.Zip -DestinationPath $modules
        $useFile = Join-Path $Work 'use-zip.ps1'
        Set-Content -Path $useFile -Value $UseModule
        $result = Join-Path $Work 'zip.json'
        $r = Invoke-IsolatedPwsh -Script (Get-Content -Raw $useFile) -UserHome (Join-Path $Work 'home-zip') -ModulePath $modules `
            -Environment $ChildEnvironment -Arguments @('netstandard2.0', (Join-Path $Work 'backups-zip'), $result)
        $r.ExitCode | Should -Be 0 -Because $r.Output
        Assert-InstalledModuleWorks -Result (Get-Content -Raw $result | ConvertFrom-Json) -ModuleRoot (Join-Path $modules 'PgBackup') -Framework 'netstandard2.0'
    }
}
