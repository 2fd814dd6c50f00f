# PgBackup's root module: loads the cmdlet assembly for this PowerShell.
#  - PowerShell 7+: PgBackup.dll and its dependencies load into the module's own AssemblyLoadContext (see
#    src/PgBackup.LoadContext), so other modules' Npgsql or AWS SDK versions cannot clash with PgBackup's.
#  - Windows PowerShell 5.1: the netstandard2.0 build, with an AssemblyResolve handler (ModuleInitializer).
# $env:PGBACKUP_TFM = 'netstandard2.0' makes PowerShell 7 load the Windows PowerShell build (tests use it).

$binRoot = Join-Path $PSScriptRoot 'bin'
$importModule = Get-Command -Name Import-Module -Module Microsoft.PowerShell.Core

if ($PSEdition -eq 'Core') {
    $tfm = if ($env:PGBACKUP_TFM) { $env:PGBACKUP_TFM } else { 'net8.0' }
    if (-not ('PgBackup.LoadContext.ModuleLoadContext' -as [type])) {
        Add-Type -Path (Join-Path $binRoot 'net8.0' 'PgBackup.LoadContext.dll')
    }
    $assembly = [PgBackup.LoadContext.ModuleLoadContext]::Initialize((Join-Path $binRoot $tfm))
    $innerModule = & $importModule -Assembly $assembly -PassThru -ErrorAction Stop
}
else {
    $innerModule = & $importModule -Name (Join-Path (Join-Path $binRoot 'netstandard2.0') 'PgBackup.dll') -PassThru -ErrorAction Stop
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
