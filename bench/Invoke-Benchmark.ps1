<#
.SYNOPSIS
Times New-PgBackup against the guide's `pg_dump "$DATABASE_URL" | gzip > f.sql.gz` on a benchmark database of more
than 1 GB, and reports median wall time, output size and the peak memory of the PowerShell process.
.DESCRIPTION
Run through the build: dotnet pwsh ./build.ps1 -Task Bench [-BenchArgs @{ Rounds = 5 }]

Starts its own PostgreSQL (Debian's package, via the test harness) on a cluster kept in a cache folder
(/var/tmp/pgbackup-bench, or $env:PGBACKUP_BENCH_CACHE): the benchmark database - pgbench's tables at -Scale plus a
play_events table with jsonb and text - is built the first time only. Then it runs -Rounds rounds; each round runs
every variant once, in an order rotated from round to round, so that the variants share the machine's noise:

  Guide      bash: pg_dump "$DATABASE_URL" | gzip > f.sql.gz      (the guide's pipeline, gzip -6)
  PgDump     bash: pg_dump "$DATABASE_URL" > f.sql                (uncompressed: the baseline of the zstd target)
  Default    New-PgBackup                                          (plain SQL, gzip level 6)
  Zstd       New-PgBackup -Compression Zstd
  Custom     New-PgBackup -Format Custom
  Directory  New-PgBackup -Format Directory -Jobs 2
  None       New-PgBackup -Compression None                        (not run unless asked for: the pipeline's own cost)
  Zstd1      New-PgBackup -Compression Zstd -CompressionLevel 1    (not run unless asked for)

Each New-PgBackup runs in a fresh `pwsh -NoProfile` process (bench/Measure-NewPgBackup.ps1) that reports the time of
the New-PgBackup call and its own peak resident memory (VmHWM): pg_dump's memory is not counted. The time of the
whole process (PowerShell's start and Import-Module included) is reported too. The first round's outputs are checked
with gzip -t, zstd -t or pg_restore --list. With -SmallScale, the New-PgBackup variants also run on a small database
to show that the peak memory does not grow with the database's size.

Writes a table to the console and to <OutDir>/results.md, and everything measured to <OutDir>/results.json.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)][string]$ModuleManifest,
    # Rounds of the timing runs on the big database.
    [int]$Rounds = 5,
    # pgbench scale of the big database (40: about 1.3 GB on disk; play_events grows with it).
    [int]$Scale = 40,
    # pgbench scale of the small database of the memory check; 0 skips the check.
    [int]$SmallScale = 4,
    # Rounds on the small database.
    [int]$SmallRounds = 2,
    [ValidateSet('Guide', 'PgDump', 'Default', 'Zstd', 'Custom', 'Directory', 'None', 'Zstd1')]
    [string[]]$Variants = @('Guide', 'PgDump', 'Default', 'Zstd', 'Custom', 'Directory'),
    [string]$OutDir = (Join-Path $PSScriptRoot '../output/bench'),
    # Where the clusters are kept between runs (default /var/tmp/pgbackup-bench).
    [string]$CacheDir,
    # Rebuild the benchmark databases even when a cached one exists.
    [switch]$Rebuild,
    # Another build of the module (its PgBackup.psd1): each New-PgBackup variant also runs with it, as
    # '<Variant>.Compare', in the same rounds (an A/B test of an engine change).
    [string]$CompareModule
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'BenchDatabase.psm1') -Force
Import-Module (Join-Path $PSScriptRoot '../tests/harness/TestServers.psm1')

$ModuleManifest = (Resolve-Path $ModuleManifest).Path
if ($CompareModule) { $CompareModule = (Resolve-Path $CompareModule).Path }
if (-not $CacheDir) { $CacheDir = Get-BenchCacheDir }
New-Item -ItemType Directory -Force -Path $OutDir, $CacheDir | Out-Null
$OutDir = (Resolve-Path $OutDir).Path
$work = Join-Path $CacheDir 'out'

# A fresh PowerShell of this version (the dotnet tool runs as 'dotnet pwsh.dll'), as build.ps1's Invoke-Pwsh.
$pwshDll = Join-Path $PSHOME 'pwsh.dll'
$pwsh = if ((Test-Path $pwshDll) -and [Environment]::ProcessPath -match 'dotnet(\.exe)?$') { @([Environment]::ProcessPath, $pwshDll) } else { @([Environment]::ProcessPath) }
$measureScript = Join-Path $PSScriptRoot 'Measure-NewPgBackup.ps1'

$definitions = [ordered]@{
    Guide     = @{ Kind = 'Shell'; Command = '"$PGDUMP" "$DATABASE_URL" | gzip > "$OUT/f.sql.gz"'; Label = 'pg_dump | gzip > f.sql.gz (guide)' }
    PgDump    = @{ Kind = 'Shell'; Command = '"$PGDUMP" "$DATABASE_URL" > "$OUT/f.sql"'; Label = 'pg_dump > f.sql (uncompressed)' }
    Default   = @{ Kind = 'Module'; Parameters = @{}; Label = 'New-PgBackup' }
    Zstd      = @{ Kind = 'Module'; Parameters = @{ Compression = 'Zstd' }; Label = 'New-PgBackup -Compression Zstd' }
    Custom    = @{ Kind = 'Module'; Parameters = @{ Format = 'Custom' }; Label = 'New-PgBackup -Format Custom' }
    Directory = @{ Kind = 'Module'; Parameters = @{ Format = 'Directory'; Jobs = 2 }; Label = 'New-PgBackup -Format Directory -Jobs 2' }
    None      = @{ Kind = 'Module'; Parameters = @{ Compression = 'None' }; Label = 'New-PgBackup -Compression None' }
    Zstd1     = @{ Kind = 'Module'; Parameters = @{ Compression = 'Zstd'; CompressionLevel = 1 }; Label = 'New-PgBackup -Compression Zstd -CompressionLevel 1' }
}

$names = @($Variants)
if ($CompareModule) {
    foreach ($name in @($definitions.Keys)) {
        $d = $definitions[$name]
        if ($d.Kind -ne 'Module' -or $name -notin $names) { continue }
        $definitions["$name.Compare"] = @{ Kind = 'Module'; Parameters = $d.Parameters; Label = "$($d.Label) [compare build]"; Module = $CompareModule }
        $names += "$name.Compare"
    }
}

function Get-OutputSize([string]$Path) {
    if (Test-Path $Path -PathType Container) { return [long](Get-ChildItem -Recurse -File $Path | Measure-Object -Sum Length).Sum }
    [long](Get-Item $Path).Length
}

function Test-BackupFile([string]$Path, $Server) {
    # Checks an output with the stock tools (outside the timed part).
    $global:LASTEXITCODE = 0
    $out = switch -Regex ($Path) {
        '\.gz$' { & gzip -t $Path 2>&1 }
        '\.zst$' { & zstd -q -t $Path 2>&1 }
        '\.sql$' { if ((Get-Content -Tail 8 $Path) -join "`n" -notmatch 'PostgreSQL database dump complete') { $global:LASTEXITCODE = 1; 'no footer' } }
        default { & (Join-Path $Server.BinDir 'pg_restore') --list $Path 2>&1 | Select-Object -Last 1 }
    }
    if ($LASTEXITCODE -ne 0) { throw "The output $Path does not check out: $out" }
}

function Invoke-Variant {
    param([string]$Name, $Server, [switch]$Check)
    $def = $definitions[$Name]
    $out = Join-Path $work $Name
    Remove-Item -Recurse -Force $out -ErrorAction SilentlyContinue
    New-Item -ItemType Directory -Path $out | Out-Null
    $uri = Get-TestPostgresUri -Server $Server -Database $Server.Database
    $env:DATABASE_URL = $uri
    $env:PGDUMP = Join-Path $Server.BinDir 'pg_dump'
    $env:OUT = $out
    $r = [ordered]@{ Variant = $Name; Seconds = 0.0; ProcessSeconds = 0.0; SizeBytes = [long]0; PeakRssBytes = $null; CpuSeconds = $null; RowCount = $null }
    try {
        if ($def.Kind -eq 'Shell') {
            $sw = [Diagnostics.Stopwatch]::StartNew()
            & bash -c "set -o pipefail; $($def.Command)"
            $sw.Stop()
            if ($LASTEXITCODE -ne 0) { throw "$($def.Label) failed with exit code $LASTEXITCODE." }
            $r.Seconds = $r.ProcessSeconds = $sw.Elapsed.TotalSeconds
            $file = @(Get-ChildItem $out)[0].FullName
        }
        else {
            $resultFile = Join-Path $work "$Name.result.json"
            Remove-Item $resultFile -ErrorAction SilentlyContinue
            $params = $def.Parameters | ConvertTo-Json -Compress
            $exe = $pwsh[0]
            $pre = @($pwsh | Select-Object -Skip 1)
            $sw = [Diagnostics.Stopwatch]::StartNew()
            $manifest = if ($def['Module']) { $def.Module } else { $ModuleManifest }
            & $exe @pre -NoProfile -NonInteractive -File $measureScript -ModuleManifest $manifest -Path $out `
                -ResultFile $resultFile -Parameters $params | Out-Host
            $sw.Stop()
            if ($LASTEXITCODE -ne 0 -or -not (Test-Path $resultFile)) { throw "$($def.Label) failed (exit code $LASTEXITCODE)." }
            $m = Get-Content -Raw $resultFile | ConvertFrom-Json
            $r.Seconds = [double]$m.BackupSeconds
            $r.ProcessSeconds = $sw.Elapsed.TotalSeconds
            $r.PeakRssBytes = [long]$m.PeakRssBytes
            $r.RowCount = [long]$m.RowCount
            $r.CpuSeconds = [double]$m.CpuSeconds
            $file = $m.Path
        }
        $r.SizeBytes = Get-OutputSize $file
        if ($Check) { Test-BackupFile -Path $file -Server $Server }
    }
    finally {
        Remove-Item Env:DATABASE_URL, Env:PGDUMP, Env:OUT -ErrorAction SilentlyContinue
        Remove-Item -Recurse -Force $out -ErrorAction SilentlyContinue
    }
    [pscustomobject]$r
}

function Get-Median([double[]]$Values) {
    $v = @($Values | Sort-Object)
    if ($v.Count -eq 0) { return $null }
    if ($v.Count % 2) { return $v[[int][math]::Floor($v.Count / 2)] }
    ($v[$v.Count / 2 - 1] + $v[$v.Count / 2]) / 2
}

function Invoke-Rounds {
    param($Server, [int]$Count, [string[]]$Names)
    $runs = [System.Collections.Generic.List[object]]::new()
    for ($round = 1; $round -le $Count; $round++) {
        # Rotate the order: no variant always runs first, or always after the same one.
        $k = ($round - 1) % $Names.Count
        $order = @($Names[$k..($Names.Count - 1)]) + @(if ($k -gt 0) { $Names[0..($k - 1)] })
        foreach ($name in $order) {
            $r = Invoke-Variant -Name $name -Server $Server -Check:($round -eq 1)
            $r | Add-Member -NotePropertyName Round -NotePropertyValue $round
            $mem = if ($null -ne $r.PeakRssBytes) { '{0,6:N1} MB peak, {1,5:N1} s CPU' -f ($r.PeakRssBytes / 1MB), $r.CpuSeconds } else { '' }
            Write-Host ('  round {0}/{1}  {2,-10} {3,7:N2} s  {4,9:N1} MB  {5}' -f $round, $Count, $name, $r.Seconds, ($r.SizeBytes / 1MB), $mem)
            $runs.Add($r)
        }
    }
    $runs
}

function Get-Summary($Runs, [string[]]$Names) {
    # Medians per variant, and ratios against the baselines: the ratio of the medians and the median of the
    # per-round ratios (each against the baseline run of the same round).
    $byRound = @{}
    foreach ($r in $Runs) { $byRound["$($r.Round)/$($r.Variant)"] = $r }
    foreach ($name in $Names) {
        $mine = @($Runs | Where-Object Variant -eq $name)
        $row = [ordered]@{
            Variant               = $name
            Label                 = $definitions[$name].Label
            Runs                  = $mine.Count
            MedianSeconds         = Get-Median ($mine.Seconds)
            MedianProcessSeconds  = Get-Median ($mine.ProcessSeconds)
            MinSeconds            = ($mine.Seconds | Measure-Object -Minimum).Minimum
            MaxSeconds            = ($mine.Seconds | Measure-Object -Maximum).Maximum
            SizeBytes             = [long](Get-Median ($mine.SizeBytes))
            PeakRssBytes          = if ($mine[0].PeakRssBytes) { [long]($mine.PeakRssBytes | Measure-Object -Maximum).Maximum } else { $null }
            MedianPeakRssBytes    = if ($mine[0].PeakRssBytes) { [long](Get-Median ($mine.PeakRssBytes)) } else { $null }
            MedianCpuSeconds      = if ($mine[0].PeakRssBytes) { Get-Median ($mine.CpuSeconds) } else { $null }
            RowCount              = $mine[0].RowCount
        }
        foreach ($base in 'Guide', 'PgDump') {
            if ($base -notin $Names) { continue }
            $b = @($Runs | Where-Object Variant -eq $base)
            $row["VsMedian$base"] = $row.MedianSeconds / (Get-Median ($b.Seconds))
            $row["VsMedianProcess$base"] = $row.MedianProcessSeconds / (Get-Median ($b.Seconds))
            $row["VsRound$base"] = Get-Median @(foreach ($r in $mine) { $r.Seconds / $byRound["$($r.Round)/$base"].Seconds })
            $row["SizeVs$base"] = $row.SizeBytes / [double](Get-Median ($b.SizeBytes))
        }
        if ("$name.Compare" -in $Names) {
            $row['VsRoundCompare'] = Get-Median @(foreach ($r in $mine) { $r.Seconds / $byRound["$($r.Round)/$name.Compare"].Seconds })
            $row['CpuVsCompare'] = $row.MedianCpuSeconds / (Get-Median @($Runs | Where-Object Variant -eq "$name.Compare" | ForEach-Object CpuSeconds))
        }
        [pscustomobject]$row
    }
}

function Format-Ratio($row, [string]$prop) {
    if ($row.PSObject.Properties[$prop]) { '{0:N2}x' -f $row.$prop } else { '' }
}

$machine = [ordered]@{
    Date        = (Get-Date).ToUniversalTime().ToString('yyyy-MM-dd HH:mm') + ' UTC'
    Cpu         = ((Get-Content /proc/cpuinfo | Select-String '^model name\s*:\s*(.*)$' | Select-Object -First 1).Matches[0].Groups[1].Value)
    Cores       = [Environment]::ProcessorCount
    MemoryGB    = [math]::Round(((Get-Content /proc/meminfo -TotalCount 1) -replace '\D', '') / 1MB, 1)
    PowerShell  = $PSVersionTable.PSVersion.ToString()
    Runtime     = [System.Runtime.InteropServices.RuntimeInformation]::FrameworkDescription
    Gzip        = (& gzip --version | Select-Object -First 1)
    LoadBefore  = (Get-Content /proc/loadavg)
    LoadAfter   = $null
}

Install-TestPrerequisites
$result = [ordered]@{ Machine = $machine; Module = $ModuleManifest; Rounds = $Rounds; Big = $null; Small = $null }
$server = $null
try {
    Write-Host "Benchmark database: pgbench scale $Scale" -ForegroundColor Cyan
    $server = Start-BenchPostgres -Scale $Scale -CacheDir $CacheDir -Rebuild:$Rebuild
    $result.Machine['PostgreSQL'] = (& (Join-Path $server.BinDir 'postgres') --version)
    Write-Host ('PostgreSQL {0} on port {1}; database bench is {2:N0} MB on disk' -f $server.Version, $server.Port, ($server.SizeBytes / 1MB))
    Write-Host "Running $Rounds rounds of: $($names -join ', ')" -ForegroundColor Cyan
    $runs = Invoke-Rounds -Server $server -Count $Rounds -Names $names
    $result.Big = [ordered]@{ Scale = $Scale; DatabaseBytes = $server.SizeBytes; Summary = @(Get-Summary $runs $names); Runs = @($runs) }
    $server | Stop-BenchPostgres
    $server = $null

    $moduleVariants = @($names | Where-Object { $definitions[$_].Kind -eq 'Module' })
    if ($SmallScale -gt 0 -and $moduleVariants.Count -gt 0) {
        Write-Host "`nMemory check on a small database: pgbench scale $SmallScale" -ForegroundColor Cyan
        $server = Start-BenchPostgres -Scale $SmallScale -CacheDir $CacheDir -Rebuild:$Rebuild
        Write-Host ('Database bench is {0:N0} MB on disk' -f ($server.SizeBytes / 1MB))
        $small = Invoke-Rounds -Server $server -Count $SmallRounds -Names $moduleVariants
        $result.Small = [ordered]@{ Scale = $SmallScale; DatabaseBytes = $server.SizeBytes; Summary = @(Get-Summary $small $moduleVariants); Runs = @($small) }
        $server | Stop-BenchPostgres
        $server = $null
    }
}
finally {
    if ($server) { $server | Stop-BenchPostgres }
    Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
}
$machine.LoadAfter = (Get-Content /proc/loadavg)

# The report.
$lines = [System.Collections.Generic.List[string]]::new()
$lines.Add("Benchmark of $($result.Machine.Date): $($machine.Cores) cores ($($machine.Cpu)), $($machine.PowerShell) on $($machine.Runtime), $($result.Machine.PostgreSQL)")
$lines.Add(('Database: pgbench scale {0} plus play_events, {1:N0} MB on disk; {2} rounds, medians; load average before {3}, after {4}' -f `
            $Scale, ($result.Big.DatabaseBytes / 1MB), $Rounds, (($machine.LoadBefore -split ' ')[0..2] -join ' '), (($machine.LoadAfter -split ' ')[0..2] -join ' ')))
$lines.Add('')
$lines.Add('| Variant | Median time | Process time | vs guide | vs pg_dump | Output | Size vs guide | Peak memory |')
$lines.Add('|---|---:|---:|---:|---:|---:|---:|---:|')
foreach ($row in $result.Big.Summary) {
    $proc = if ($definitions[$row.Variant].Kind -eq 'Module') { '{0:N2} s' -f $row.MedianProcessSeconds } else { '' }
    $mem = if ($row.PeakRssBytes) { '{0:N0} MB' -f ($row.PeakRssBytes / 1MB) } else { '' }
    $lines.Add(('| {0} | {1:N2} s | {2} | {3} | {4} | {5:N1} MB | {6} | {7} |' -f ($row.Label -replace '\|', '\|'), $row.MedianSeconds, $proc,
            (Format-Ratio $row 'VsRoundGuide'), (Format-Ratio $row 'VsRoundPgDump'), ($row.SizeBytes / 1MB), (Format-Ratio $row 'SizeVsGuide'), $mem))
}
if ($CompareModule) {
    $lines.Add('')
    $lines.Add("Against the compare build ($CompareModule), median of the per-round ratios:")
    foreach ($row in $result.Big.Summary) {
        if ($row.PSObject.Properties['VsRoundCompare']) {
            $lines.Add(('  {0}: time {1:N2}x, CPU of the PowerShell process {2:N2}x' -f $row.Variant, $row.VsRoundCompare, $row.CpuVsCompare))
        }
    }
}
if ($result.Small) {
    $lines.Add('')
    $lines.Add(('Peak memory (VmHWM of the PowerShell process, highest of the runs) by database size: scale {0} ({1:N0} MB) and scale {2} ({3:N0} MB)' -f `
                $SmallScale, ($result.Small.DatabaseBytes / 1MB), $Scale, ($result.Big.DatabaseBytes / 1MB)))
    $lines.Add('')
    $lines.Add('| Variant | Small database | Big database | Growth |')
    $lines.Add('|---|---:|---:|---:|')
    foreach ($row in $result.Small.Summary) {
        $big = $result.Big.Summary | Where-Object Variant -eq $row.Variant
        $lines.Add(('| {0} | {1:N0} MB | {2:N0} MB | {3:+0;-0;0} MB |' -f $row.Label, ($row.PeakRssBytes / 1MB), ($big.PeakRssBytes / 1MB), (($big.PeakRssBytes - $row.PeakRssBytes) / 1MB)))
    }
}
$lines.Add('')
$lines.Add('Ratios: the median of the per-round ratios (each run against the baseline run of the same round). Times are of the')
$lines.Add('New-PgBackup call; "Process time" is of the whole fresh pwsh process (its start and Import-Module included).')
$report = $lines -join [Environment]::NewLine
Write-Host ''
Write-Host $report
Set-Content -Path (Join-Path $OutDir 'results.md') -Value $report
$result | ConvertTo-Json -Depth 6 | Set-Content -Path (Join-Path $OutDir 'results.json')
Write-Host "`nWrote $(Join-Path $OutDir 'results.json') and results.md" -ForegroundColor Green
