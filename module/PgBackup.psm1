# PgBackup's root module: loads the cmdlet assembly build that works on this PowerShell (Select-PgBackupBuild).
#  - PowerShell 7: PgBackup.dll and its dependencies load into the module's own AssemblyLoadContext (see
#    src/PgBackup.LoadContext, built for .NET 6), so other modules' Npgsql or AWS SDK versions cannot clash with PgBackup's.
#  - Windows PowerShell 5.1: the netstandard2.0 build, with an AssemblyResolve handler (ModuleInitializer).
param(
    # Which build to load instead of the one for this PowerShell: `Import-Module PgBackup -ArgumentList
    # netstandard2.0` loads the Windows PowerShell build on PowerShell 7 (the tests run that build this way).
    [string]$Framework
)

function Select-PgBackupBuild {
    <#
    The build of PgBackup.dll that loads on a PowerShell of this edition and version, and whether it loads through the
    module's own load context; an error naming the supported versions for any other PowerShell.
      Windows PowerShell 5.1 (.NET Framework)  netstandard2.0, default context (AssemblyResolve)
      PowerShell 7.4 and later (.NET 8+)        net8.0 (or netstandard2.0 when asked for), own load context
      PowerShell 7.2 and 7.3 (.NET 6 and 7)     netstandard2.0, own load context (the net8.0 build needs .NET 8)
      PowerShell 7.0 and 7.1                    not supported (.NET Core 3.1 and .NET 5)
    #>
    param(
        [Parameter(Mandatory)][ValidateSet('Desktop', 'Core')][string]$Edition,
        [Parameter(Mandatory)][version]$Version,
        [string]$Requested
    )
    $supported = 'PgBackup runs on Windows PowerShell 5.1 and on PowerShell 7.2 or later (7.4 or later recommended)'
    if ($Requested -and $Requested -notin 'net8.0', 'netstandard2.0') {
        throw "PgBackup has no build '$Requested': its builds are net8.0 and netstandard2.0."
    }
    if ($Edition -eq 'Desktop') {
        if ($Requested -eq 'net8.0') { throw "The net8.0 build of PgBackup does not load on Windows PowerShell $Version. $supported." }
        return [pscustomobject]@{ Framework = 'netstandard2.0'; LoadContext = $false }
    }
    if ($Version -lt [version]'7.2') {
        throw "$supported; this is PowerShell $Version. Install PowerShell 7.4 or later (https://aka.ms/powershell)."
    }
    if ($Version -lt [version]'7.4') {
        if ($Requested -eq 'net8.0') { throw "The net8.0 build of PgBackup needs PowerShell 7.4 or later (.NET 8); this is PowerShell $Version. $supported." }
        return [pscustomobject]@{ Framework = 'netstandard2.0'; LoadContext = $true }
    }
    [pscustomobject]@{ Framework = if ($Requested) { $Requested } else { 'net8.0' }; LoadContext = $true }
}

$binRoot = Join-Path $PSScriptRoot 'bin'
$importModule = Get-Command -Name Import-Module -Module Microsoft.PowerShell.Core
$build = Select-PgBackupBuild -Edition $PSEdition -Version $PSVersionTable.PSVersion -Requested $Framework

if ($build.LoadContext) {
    if (-not ('PgBackup.LoadContext.ModuleLoadContext' -as [type])) {
        Add-Type -Path (Join-Path $binRoot 'PgBackup.LoadContext.dll')
    }
    $assembly = [PgBackup.LoadContext.ModuleLoadContext]::Initialize((Join-Path $binRoot $build.Framework))
    $innerModule = & $importModule -Assembly $assembly -PassThru -ErrorAction Stop
}
else {
    $innerModule = & $importModule -Name (Join-Path (Join-Path $binRoot $build.Framework) 'PgBackup.dll') -PassThru -ErrorAction Stop
}

# Import-Module -Force reuses the cached assembly module without adding its cmdlets to this module again
# (PowerShell/PowerShell#20710): add them explicitly so that a re-import keeps every cmdlet.
$addExportedCmdlet = [System.Management.Automation.PSModuleInfo].GetMethod(
    'AddExportedCmdlet', [System.Reflection.BindingFlags]'Instance, NonPublic')
if ($innerModule -and $addExportedCmdlet) {
    foreach ($cmdlet in $innerModule.ExportedCmdlets.Values) {
        $addExportedCmdlet.Invoke($ExecutionContext.SessionState.Module, @(, $cmdlet)) | Out-Null
    }
}
