<#
.SYNOPSIS
Makes the installable packages of a built PgBackup module (build.ps1 -Task Package; the install tests call it too).
.DESCRIPTION
Into -OutputPath:
  PgBackup.<version>.nupkg  the PowerShell Gallery package, made by PSResourceGet's own Publish-PSResource into a
                            file-system repository registered for this run only (a unique name, removed in a finally
                            block, in a child pwsh whose PSResourceGet settings live in a temporary folder:
                            tools/IsolatedPwsh.psm1);
  PgBackup.zip              for Azure Automation: the module folder PgBackup/ at the zip's root;
  SHA256SUMS                the SHA-256 of both, as `sha256sum -c SHA256SUMS` reads them.
Refuses to package a module whose manifest does not pass Test-ModuleManifest, a path of 140 characters or more in
the zip (Azure Automation's limit), or a zip of 100 MB or more.
#>
param(
    # The built module's folder (output/PgBackup/<version>, with PgBackup.psd1).
    [Parameter(Mandatory)][string]$ModulePath,
    [Parameter(Mandatory)][string]$OutputPath
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'IsolatedPwsh.psm1') -Force

$ModulePath = (Resolve-Path $ModulePath).Path
$manifest = Test-ModuleManifest (Join-Path $ModulePath 'PgBackup.psd1') -ErrorAction Stop
$version = $manifest.Version.ToString()
$maxPathLength = 139
$maxZipBytes = 100MB

New-Item -ItemType Directory -Force -Path $OutputPath | Out-Null
$OutputPath = (Resolve-Path $OutputPath).Path
$nupkg = Join-Path $OutputPath "PgBackup.$version.nupkg"
$zip = Join-Path $OutputPath 'PgBackup.zip'
Remove-Item $nupkg, $zip, (Join-Path $OutputPath 'SHA256SUMS') -ErrorAction SilentlyContinue

$work = Join-Path ([System.IO.Path]::GetTempPath()) ('pgbackup-package-' + [guid]::NewGuid().ToString('n').Substring(0, 10))
try {
    # The module folder as it ships: named PgBackup, as Publish-PSResource and Azure Automation expect.
    $stage = Join-Path $work 'stage/PgBackup'
    New-Item -ItemType Directory -Force -Path $stage | Out-Null
    Copy-Item -Path (Join-Path $ModulePath '*') -Destination $stage -Recurse

    # Azure Automation: PgBackup/<files> at the zip's root, '/' separators. Made in the work folder and moved to the
    # output only when both packages are made and checked: a refused package leaves nothing that looks complete.
    $finalZip = $zip
    $zip = Join-Path $work 'PgBackup.zip'
    Add-Type -AssemblyName System.IO.Compression.FileSystem
    [System.IO.Compression.ZipFile]::CreateFromDirectory((Split-Path $stage), $zip, [System.IO.Compression.CompressionLevel]::Optimal, $false)
    $archive = [System.IO.Compression.ZipFile]::OpenRead($zip)
    try {
        $long = @($archive.Entries | Where-Object { $_.FullName.Length -gt $maxPathLength })
        if ($long) { throw "PgBackup.zip has paths of 140 characters or more, which Azure Automation refuses: $($long.FullName -join ', ')" }
        $longest = ($archive.Entries | ForEach-Object { $_.FullName.Length } | Measure-Object -Maximum).Maximum
    }
    finally { $archive.Dispose() }
    $zipBytes = (Get-Item $zip).Length
    if ($zipBytes -ge $maxZipBytes) { throw "PgBackup.zip is $([math]::Round($zipBytes / 1MB, 1)) MB; Azure Automation takes at most 100 MB." }

    # The Gallery package: Publish-PSResource into a file-system repository registered for this run only.
    $repository = Join-Path $work 'repository'
    New-Item -ItemType Directory -Path $repository | Out-Null
    $name = 'PgBackupBuild-' + [guid]::NewGuid().ToString('n').Substring(0, 12)
    $publish = @'
param($Name, $Repository, $Source)
$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name $Name -Uri $Repository -Trusted
try { Publish-PSResource -Path $Source -Repository $Name }
finally { Unregister-PSResourceRepository -Name $Name }
if (Get-PSResourceRepository -Name $Name -ErrorAction SilentlyContinue) { throw "The repository $Name is still registered." }
'@
    $r = Invoke-IsolatedPwsh -Script $publish -Arguments @($name, $repository, $stage) -UserHome (Join-Path $work 'home')
    if ($r.ExitCode -ne 0) { throw "Publish-PSResource failed (exit code $($r.ExitCode)): $($r.Output)" }
    $made = Join-Path $repository "PgBackup.$version.nupkg"
    if (-not (Test-Path $made)) { throw "Publish-PSResource made no PgBackup.$version.nupkg: $(@(Get-ChildItem $repository).Name -join ', ') $($r.Output)" }
    Move-Item $made $nupkg
    Move-Item $zip $finalZip
    $zip = $finalZip

    $sums = foreach ($f in $nupkg, $zip) { '{0}  {1}' -f (Get-FileHash -Algorithm SHA256 $f).Hash.ToLowerInvariant(), (Split-Path -Leaf $f) }
    # LF line ends on every system, as sha256sum writes them.
    [System.IO.File]::WriteAllText((Join-Path $OutputPath 'SHA256SUMS'), (($sums -join "`n") + "`n"))
}
finally {
    Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
}

[pscustomobject]@{
    Version          = $version
    Nupkg            = $nupkg
    Zip              = $zip
    Sums             = Join-Path $OutputPath 'SHA256SUMS'
    ZipMB            = [math]::Round($zipBytes / 1MB, 1)
    NupkgMB          = [math]::Round((Get-Item $nupkg).Length / 1MB, 1)
    LongestZipPath   = $longest
}
