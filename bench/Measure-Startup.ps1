<#
.SYNOPSIS
Measures PgBackup's start-up in fresh PowerShell processes: Import-Module, the first Get-PgBackup, and (in another
fresh process) the first New-PgBackup of a small database.
.DESCRIPTION
Each round runs, for each module given, two fresh `pwsh -NoProfile -NonInteractive` processes: one imports the module
and lists a folder with one backup, the other imports it and backs up the sample database (tests/fixtures/sample.sql)
of a throw-away PostgreSQL (tests/harness/TestServers.psm1). The order of the modules is rotated from round to round.
Prints the medians (ms) per module and the load average before and after; -OutFile writes every run as JSON.
.EXAMPLE
dotnet pwsh bench/Measure-Startup.ps1 -Module @{ Default = 'output/PgBackup/0.1.0/PgBackup.psd1'; R2R = '/tmp/r2r/PgBackup.psd1' }
#>
param(
    # Name = path of a PgBackup.psd1; several to compare in the same rounds.
    [Parameter(Mandatory)][hashtable]$Module,
    [int]$Rounds = 7,
    [string]$Framework = 'net8.0',
    [string]$OutFile
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = Split-Path $PSScriptRoot
Import-Module (Join-Path $root 'tests/harness/TestServers.psm1') -Force
Import-Module (Join-Path $root 'tools/IsolatedPwsh.psm1') -Force
$pwsh = @(Get-PwshCommand)

function Get-Load { if (Test-Path /proc/loadavg) { (Get-Content /proc/loadavg).Split(' ')[0..2] -join ' ' } else { 'n/a' } }

$probe = @'
param($Manifest, $Framework, $Mode, $Folder)
$ErrorActionPreference = 'Stop'
$sw = [System.Diagnostics.Stopwatch]::StartNew()
Import-Module $Manifest -ArgumentList $Framework
$import = $sw.Elapsed.TotalMilliseconds
$sw.Restart()
if ($Mode -eq 'List') { $null = Get-PgBackup -Path $Folder } else { $null = New-PgBackup -Path $Folder }
$first = $sw.Elapsed.TotalMilliseconds
# Methods the JIT compiled in this process, and its time: what ReadyToRun code saves.
"RESULT $import $first $([System.Runtime.JitInfo]::GetCompiledMethodCount($false)) $([System.Runtime.JitInfo]::GetCompilationTime($false).TotalMilliseconds)"
'@
$work = Join-Path ([System.IO.Path]::GetTempPath()) ('pgbackup-startup-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
New-Item -ItemType Directory -Path $work | Out-Null
$probeFile = Join-Path $work 'probe.ps1'
Set-Content -Path $probeFile -Value $probe
$server = $null
$runs = [System.Collections.Generic.List[object]]::new()
try {
    Install-TestPrerequisites
    $server = Start-TestPostgres -Name startup
    New-TestDatabase -Server $server -Name sample -SqlFile (Join-Path $root 'tests/fixtures/sample.sql')
    $env:DATABASE_URL = Get-TestPostgresUri -Server $server -Database sample
    $listFolder = Join-Path $work 'list'
    New-Item -ItemType Directory -Path $listFolder | Out-Null
    & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -File $probeFile (@($Module.Values)[0]) $Framework Backup $listFolder | Out-Null
    $loadBefore = Get-Load
    $names = @($Module.Keys | Sort-Object)
    for ($round = 0; $round -lt $Rounds; $round++) {
        $order = @($names[($round % $names.Count)..($names.Count - 1)]) + @(if ($round % $names.Count) { $names[0..(($round % $names.Count) - 1)] })
        foreach ($name in $order) {
            foreach ($mode in 'List', 'Backup') {
                $folder = if ($mode -eq 'List') { $listFolder } else { Join-Path $work "b-$round-$name" }
                $sw = [System.Diagnostics.Stopwatch]::StartNew()
                $out = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -File $probeFile $Module[$name] $Framework $mode $folder
                $process = $sw.Elapsed.TotalMilliseconds
                $line = @($out | Where-Object { $_ -like 'RESULT *' })
                if ($LASTEXITCODE -ne 0 -or $line.Count -ne 1) { throw "The $mode probe of $name failed: $out" }
                $f = $line[0].Split(' ')
                $runs.Add([pscustomobject]@{ Round = $round; Module = $name; Mode = $mode; ImportMs = [double]$f[1]; FirstMs = [double]$f[2]; ProcessMs = $process; JitMethods = [int]$f[3]; JitMs = [double]$f[4] })
                if ($mode -eq 'Backup') { Remove-Item -Recurse -Force $folder }
            }
        }
    }
    $loadAfter = Get-Load
}
finally {
    Remove-Item Env:DATABASE_URL -ErrorAction SilentlyContinue
    if ($server) { $server | Stop-TestPostgres }
    Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
}

function Get-Median([double[]]$v) { $s = @($v | Sort-Object); if ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 } }
$summary = foreach ($name in $Module.Keys | Sort-Object) {
    $list = @($runs | Where-Object { $_.Module -eq $name -and $_.Mode -eq 'List' })
    $backup = @($runs | Where-Object { $_.Module -eq $name -and $_.Mode -eq 'Backup' })
    [pscustomobject]@{
        Module            = $name
        ImportMs          = [math]::Round((Get-Median (@($list.ImportMs) + @($backup.ImportMs))))
        FirstGetMs        = [math]::Round((Get-Median $list.FirstMs))
        FirstBackupMs     = [math]::Round((Get-Median $backup.FirstMs))
        ListProcessMs     = [math]::Round((Get-Median $list.ProcessMs))
        BackupProcessMs   = [math]::Round((Get-Median $backup.ProcessMs))
        BackupJitMethods  = [math]::Round((Get-Median $backup.JitMethods))
        BackupJitMs       = [math]::Round((Get-Median $backup.JitMs))
    }
}
"Rounds: $Rounds, framework $Framework, load average before $loadBefore, after $loadAfter ($([Environment]::ProcessorCount) cores)"
$summary | Format-Table -AutoSize | Out-String -Width 200
if ($OutFile) { @{ Load = @{ Before = $loadBefore; After = $loadAfter }; Summary = $summary; Runs = $runs } | ConvertTo-Json -Depth 4 | Set-Content $OutFile }
