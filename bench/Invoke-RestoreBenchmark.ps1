<#
.SYNOPSIS
Times Restore-PgBackup against the guide's restore of the same file, on a benchmark database of more than 0.5 GB,
and reports median wall time, the ratio to the guide's restore in the same run, CPU and the PowerShell process's
peak memory.
.DESCRIPTION
Run by hand: dotnet pwsh ./bench/Invoke-RestoreBenchmark.ps1 -ModuleManifest ./output/PgBackup/<version>/PgBackup.psd1

Uses the benchmark's cached PostgreSQL cluster (bench/BenchDatabase.psm1: pgbench's tables plus play_events, a jsonb
table with a primary key and an index; -Scale 25 gives one million play events, about 0.8 GB). Once per run it makes
the guide's backup (pg_dump | gzip, backup_bench_<stamp>.sql.gz) and a Custom backup (New-PgBackup -Format Custom),
and loads the guide's file into the database restore_target. Then each round restores over restore_target with
every variant, in an order rotated from round to round:

  Guide        bash: psql -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public'; gunzip -c f.sql.gz | psql
  Default      Restore-PgBackup f.sql.gz -Force                (PgBackup's executor, the guide's file)
  Jobs2        Restore-PgBackup f.sql.gz -Force -Jobs 2
  Custom       Restore-PgBackup <custom>.dump -Force           (pg_restore)
  CustomJobs2  Restore-PgBackup <custom>.dump -Force -Jobs 2

Each Restore-PgBackup runs in a fresh 'pwsh -NoProfile' process that reports the call's time, its CPU, and its peak
resident memory (VmHWM) and the memory after Import-Module (what the restore adds is the difference). With
-SmallScale, Default also runs on a small database: the peak memory does not grow with the database's size.
Writes <OutDir>/restore-results.json and a table to the console.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)][string]$ModuleManifest,
    [int]$Rounds = 3,
    [int]$Scale = 25,
    [int]$SmallScale = 4,
    [ValidateSet('Guide', 'Default', 'Jobs2', 'Custom', 'CustomJobs2')]
    [string[]]$Variants = @('Guide', 'Default', 'Jobs2', 'Custom', 'CustomJobs2'),
    [string]$OutDir = (Join-Path $PSScriptRoot '../output/bench'),
    [string]$CacheDir
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'BenchDatabase.psm1') -Force
Import-Module (Join-Path $PSScriptRoot '../tests/harness/TestServers.psm1')
$ModuleManifest = (Resolve-Path $ModuleManifest).Path
if (-not $CacheDir) { $CacheDir = Get-BenchCacheDir }
New-Item -ItemType Directory -Force -Path $OutDir | Out-Null
$pwshDll = Join-Path $PSHOME 'pwsh.dll'
$pwsh = if ((Test-Path $pwshDll) -and [Environment]::ProcessPath -match 'dotnet(\.exe)?$') { @([Environment]::ProcessPath, $pwshDll) } else { @([Environment]::ProcessPath) }

# The measuring process: one timed Restore-PgBackup, its CPU and memory; parameters as JSON, the result as JSON.
$measure = @'
param([string]$Module, [string]$Parameters, [string]$ResultFile)
$ErrorActionPreference = 'Stop'
function Get-Status([string]$f) { [long]((Select-String -Path /proc/self/status -Pattern "^${f}:\s+(\d+) kB").Matches[0].Groups[1].Value) * 1024 }
Import-Module $Module
$params = @{}
foreach ($p in (ConvertFrom-Json $Parameters).PSObject.Properties) { $params[$p.Name] = $p.Value }
$idle = Get-Status 'VmRSS'
# The high-water mark starts again from here: what the restore adds over an idle pwsh with the module imported.
[IO.File]::WriteAllText('/proc/self/clear_refs', '5')
$self = [Diagnostics.Process]::GetCurrentProcess()
$cpu0 = $self.TotalProcessorTime
$sw = [Diagnostics.Stopwatch]::StartNew()
$r = Restore-PgBackup @params -Force -Confirm:$false
$sw.Stop()
$self.Refresh()
@{ Seconds = $sw.Elapsed.TotalSeconds; CpuSeconds = ($self.TotalProcessorTime - $cpu0).TotalSeconds; PeakRssBytes = Get-Status 'VmHWM'
   IdleRssBytes = $idle; RowCount = $r.RowCount; Verified = $r.Verified } | ConvertTo-Json | Set-Content $ResultFile
'@

function Invoke-Restore($Server, [string]$Name, [hashtable]$Parameters, [string]$Work) {
    $serverCpu = Get-ServerCpuSeconds $Server
    $uri = Get-TestPostgresUri -Server $Server -Database restore_target
    if ($Name -eq 'Guide') {
        $env:PGPASSWORD = $Server.Password
        $psql = "'$(Get-PsqlPath)' -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $($Server.Port) -U postgres -d restore_target"
        $children0 = Get-ProcCpuSeconds -ProcessId $PID -Children
        $own0 = Get-ProcCpuSeconds -ProcessId $PID
        $sw = [Diagnostics.Stopwatch]::StartNew()
        & bash -c "set -o pipefail; $psql -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public' >/dev/null 2>&1 && gunzip -c '$($Parameters.Path)' | $psql >/dev/null"
        $sw.Stop()
        Remove-Item Env:PGPASSWORD
        if ($LASTEXITCODE -ne 0) { throw "The guide's restore failed ($LASTEXITCODE)." }
        # gunzip's and psql's CPU: what the guide's restore costs on the client.
        $clientCpu = ((Get-ProcCpuSeconds -ProcessId $PID -Children) - $children0) - ((Get-ProcCpuSeconds -ProcessId $PID) - $own0)
        return [pscustomobject]@{ Variant = $Name; Seconds = $sw.Elapsed.TotalSeconds; CpuSeconds = $clientCpu; PeakRssBytes = $null; IdleRssBytes = $null
            ServerCpuSeconds = (Get-ServerCpuSeconds $Server) - $serverCpu }
    }
    $script = Join-Path $Work 'measure-restore.ps1'
    Set-Content -Path $script -Value $measure
    $result = Join-Path $Work "$Name.json"
    Remove-Item $result -ErrorAction SilentlyContinue
    $json = (@{ ConnectionString = $uri } + $Parameters) | ConvertTo-Json -Compress
    & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -File $script -Module $ModuleManifest -Parameters $json -ResultFile $result | Out-Host
    if ($LASTEXITCODE -ne 0 -or -not (Test-Path $result)) { throw "$Name failed ($LASTEXITCODE)." }
    $m = Get-Content -Raw $result | ConvertFrom-Json
    if (-not $m.Verified) { throw "$Name restored without verification." }
    [pscustomobject]@{ Variant = $Name; Seconds = [double]$m.Seconds; CpuSeconds = [double]$m.CpuSeconds; PeakRssBytes = [long]$m.PeakRssBytes
        IdleRssBytes = [long]$m.IdleRssBytes; ServerCpuSeconds = (Get-ServerCpuSeconds $Server) - $serverCpu }
}

function Initialize-Restores($Server, [string]$Work) {
    # The guide's file, a Custom backup, and the database both restore over.
    New-Item -ItemType Directory -Force -Path $Work | Out-Null
    Get-ChildItem $Work -Filter 'backup_*' | Remove-Item -Recurse -Force
    $guide = Join-Path $Work 'backup_bench_20240315_143022.sql.gz'
    Invoke-TestPsql -Server $Server -Sql 'DROP DATABASE IF EXISTS restore_target WITH (FORCE); CREATE DATABASE restore_target;' | Out-Null
    # Invoke-TestPsql takes PGPASSWORD away when it is done: set it for the shell pipelines after it.
    $env:PGPASSWORD = $Server.Password
    try {
        & bash -c "set -o pipefail; '$(Join-Path $Server.BinDir 'pg_dump')' -h 127.0.0.1 -p $($Server.Port) -U postgres bench | gzip > '$guide'"
        if ($LASTEXITCODE -ne 0) { throw 'pg_dump | gzip failed.' }
        & bash -c "set -o pipefail; gunzip -c '$guide' | '$(Get-PsqlPath)' -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $($Server.Port) -U postgres -d restore_target >/dev/null"
        if ($LASTEXITCODE -ne 0) { throw 'Loading restore_target failed.' }
    }
    finally { Remove-Item Env:PGPASSWORD -ErrorAction SilentlyContinue }
    Import-Module $ModuleManifest
    $custom = New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Server -Database bench) -Path $Work -Format Custom
    @{
        Guide = @{ Path = $guide }; Default = @{ Path = $guide }; Jobs2 = @{ Path = $guide; Jobs = 2 }
        Custom = @{ Path = $custom.Path }; CustomJobs2 = @{ Path = $custom.Path; Jobs = 2 }
    }
}

function Get-Median([double[]]$v) {
    $v = @($v | Sort-Object)
    if ($v.Count -eq 0) { return $null }
    if ($v.Count % 2) { $v[[int][math]::Floor($v.Count / 2)] } else { ($v[$v.Count / 2 - 1] + $v[$v.Count / 2]) / 2 }
}

$results = [ordered]@{ Date = (Get-Date).ToUniversalTime().ToString('u'); LoadBefore = (Get-Content /proc/loadavg); Runs = @(); Small = @() }
$server = Start-BenchPostgres -Scale $Scale -CacheDir $CacheDir
try {
    Write-Host ("Benchmark database: {0:N0} MB (pgbench scale {1})" -f ($server.SizeBytes / 1MB), $Scale)
    $work = Join-Path $CacheDir 'restore'
    $runs = Initialize-Restores $server $work
    for ($round = 1; $round -le $Rounds; $round++) {
        $k = ($round - 1) % $Variants.Count
        $order = @($Variants[$k..($Variants.Count - 1)]) + @(if ($k -gt 0) { $Variants[0..($k - 1)] })
        foreach ($name in $order) {
            $r = Invoke-Restore $server $name $runs[$name] $work
            $r | Add-Member Round $round
            $results.Runs += $r
            Write-Host ('  round {0}/{1} {2,-12} {3,7:N2} s  server CPU {4,6:N1} s  {5}' -f $round, $Rounds, $name, $r.Seconds, $r.ServerCpuSeconds,
                $(if ($r.PeakRssBytes) { '{0:N0} MB peak, {1:N0} MB after import, {2:N1} s CPU' -f ($r.PeakRssBytes / 1MB), ($r.IdleRssBytes / 1MB), $r.CpuSeconds }))
        }
    }
}
finally { Stop-BenchPostgres -Server $server }
if ($SmallScale -gt 0) {
    $small = Start-BenchPostgres -Scale $SmallScale -CacheDir $CacheDir
    try {
        $work = Join-Path $CacheDir 'restore-small'
        $smallRuns = Initialize-Restores $small $work
        $r = Invoke-Restore $small 'Default' $smallRuns.Default $work
        $results.Small += $r
        Write-Host ('  small database ({0:N0} MB): Default {1:N2} s, {2:N0} MB peak, {3:N0} MB after import' -f ($small.SizeBytes / 1MB), $r.Seconds, ($r.PeakRssBytes / 1MB), ($r.IdleRssBytes / 1MB))
    }
    finally { Stop-BenchPostgres -Server $small }
}
$results.LoadAfter = Get-Content /proc/loadavg
$results | ConvertTo-Json -Depth 5 | Set-Content (Join-Path $OutDir 'restore-results.json')
# Ratios: the median of per-round ratios, each run against the guide's restore of the same round.
Write-Host "`nVariant       median s   vs Guide (range)      peak MB  added MB  client CPU s  server CPU s"
foreach ($name in $Variants) {
    $rs = @($results.Runs | Where-Object Variant -eq $name)
    $ratios = @(foreach ($r in $rs) { $g = $results.Runs | Where-Object { $_.Variant -eq 'Guide' -and $_.Round -eq $r.Round }; if ($g) { $r.Seconds / $g.Seconds } })
    $mem = @($rs | Where-Object PeakRssBytes)
    Write-Host ('{0,-12} {1,9:N2} {2,8:N2}x ({3:N2}-{4:N2}) {5,8} {6,9} {7,13:N1} {8,13:N1}' -f $name, (Get-Median @($rs.Seconds)), (Get-Median $ratios),
        ($ratios | Measure-Object -Minimum).Minimum, ($ratios | Measure-Object -Maximum).Maximum,
        $(if ($mem) { '{0:N0}' -f (($mem | Measure-Object PeakRssBytes -Maximum).Maximum / 1MB) } else { '-' }),
        $(if ($mem) { '{0:N0}' -f (($mem | ForEach-Object { $_.PeakRssBytes - $_.IdleRssBytes } | Measure-Object -Maximum).Maximum / 1MB) } else { '-' }),
        (Get-Median @($rs | ForEach-Object CpuSeconds)), (Get-Median @($rs | ForEach-Object ServerCpuSeconds)))
}
