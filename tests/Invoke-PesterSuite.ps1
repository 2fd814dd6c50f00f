<#
Runs the Pester suite against one build of the module, in this (fresh) process, and writes the counts to a JSON file.
#>
param(
    [Parameter(Mandatory)][string]$PesterPath,
    [Parameter(Mandatory)][string]$ModuleManifest,
    [Parameter(Mandatory)][ValidateSet('net8.0', 'netstandard2.0')][string]$Framework,
    [Parameter(Mandatory)][string]$ResultFile,
    [string]$Filter
)
$ErrorActionPreference = 'Stop'
Import-Module $PesterPath -MinimumVersion 5.7.1
# The build the tests import (TestCommon.ps1: Import-Module <manifest> -ArgumentList <framework>), in their child processes too.
$env:PGBACKUP_TEST_FRAMEWORK = $Framework
$env:PGBACKUP_TEST_MODULE = $ModuleManifest
$config = New-PesterConfiguration
$paths = Get-ChildItem -Path $PSScriptRoot -Filter '*.Tests.ps1' -File
if ($Filter) {
    $names = $Filter -split ','
    $paths = $paths | Where-Object { $n = $_.Name; $names | Where-Object { $n -like "*$_*" } }
}
# Files whose subject is the same for both builds run against net8.0 only, to keep the suite short: what a killed
# process leaves (the operating system's part: the watchdog, the server's sessions), the packages (each holds both
# builds; Package.Tests checks both folders), and the whole-server runner (it calls the single-backup engine that
# every other file tests on both builds).
$oneBuild = 'Interrupted.Tests.ps1', 'Package.Tests.ps1', 'AllDatabases.Tests.ps1'
if ($Framework -ne 'net8.0') { $paths = $paths | Where-Object Name -NotIn $oneBuild }
if (-not $paths) {
    @{ Passed = 0; Failed = 0; Skipped = 0 } | ConvertTo-Json | Set-Content $ResultFile
    return
}
$config.Run.Path = @($paths.FullName)
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
$config.Output.StackTraceVerbosity = 'Filtered'
$config.TestResult.Enabled = $true
$config.TestResult.OutputPath = [System.IO.Path]::ChangeExtension($ResultFile, '.xml')
$result = Invoke-Pester -Configuration $config
$failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
@{ Passed = $result.PassedCount; Failed = $failed; Skipped = $result.SkippedCount } | ConvertTo-Json | Set-Content $ResultFile
