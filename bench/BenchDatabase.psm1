# The benchmark's PostgreSQL: one cluster per database size, kept in a cache folder between runs so that the
# benchmark database (pgbench tables plus a play_events table with jsonb and text) is built only once. Uses the test
# harness (tests/harness/TestServers.psm1) for the server binaries, the unprivileged user and psql.

Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot '../tests/harness/TestServers.psm1')

# Bump when the database's contents change: cached clusters of another layout are rebuilt.
$script:Layout = 2

function Get-BenchCacheDir {
    # Outside the work tree (the data is large and must not be committed), reachable by the unprivileged user.
    if ($env:PGBACKUP_BENCH_CACHE) { return $env:PGBACKUP_BENCH_CACHE }
    '/var/tmp/pgbackup-bench'
}

function Get-PlayEventsRows([int]$Scale) {
    # play_events grows with the pgbench scale: 40,000 rows per scale unit, about as much on disk as pgbench's own
    # tables per scale unit (15 MB).
    40000 * $Scale
}

function Start-BenchPostgres {
    <#
    Starts the cached cluster for a pgbench scale (initdb the first time), and builds the benchmark database in it
    when it is missing. Returns the server object the harness's functions take, with Database and SizeBytes added.
    #>
    param([Parameter(Mandatory)][int]$Scale, [string]$CacheDir = (Get-BenchCacheDir), [switch]$Rebuild)
    $bin = Get-InstalledPostgresBin
    if (-not $bin) { throw 'No PostgreSQL server is installed (run Install-TestPrerequisites).' }
    $runAs = $null
    if ((& id -u) -eq '0') { $runAs = if ((& getent passwd postgres)) { 'postgres' } else { 'nobody' } }
    $major = (Split-Path (Split-Path $bin) -Leaf)
    $root = Join-Path $CacheDir "pg$major-scale$Scale"
    $data = Join-Path $root 'data'
    $marker = Join-Path $root 'built.json'
    $pwFile = Join-Path $root 'password'
    $expected = [ordered]@{ Layout = $script:Layout; Scale = $Scale; PlayEvents = (Get-PlayEventsRows $Scale) }

    $cached = $false
    if (-not $Rebuild -and (Test-Path $marker) -and (Test-Path $pwFile)) {
        $m = Get-Content -Raw $marker | ConvertFrom-Json
        $cached = $m.Layout -eq $expected.Layout -and $m.Scale -eq $expected.Scale -and $m.PlayEvents -eq $expected.PlayEvents
    }
    if ((Test-Path (Join-Path $data 'postmaster.pid'))) {
        # A cluster left running by an interrupted benchmark run: stop it before using (or rebuilding) it.
        $pgCtl = Join-Path $bin 'pg_ctl'
        if ($runAs) { & runuser -u $runAs -- $pgCtl status -D $data *> $null } else { & $pgCtl status -D $data *> $null }
        if ($LASTEXITCODE -eq 0) { Stop-BenchCluster -BinDir $bin -DataDir $data -RunAs $runAs }
    }
    if (-not $cached) {
        if (Test-Path $root) { Remove-Item -Recurse -Force $root }
        New-Item -ItemType Directory -Force -Path $root | Out-Null
        Invoke-Native chmod -ArgumentList @('755', $CacheDir, $root) | Out-Null
        $password = 'pw-' + [guid]::NewGuid().ToString('n').Substring(0, 16)
        Set-Content -Path $pwFile -Value $password -NoNewline
        if ($runAs) { Invoke-Native chown -ArgumentList @($runAs, $root, $pwFile) | Out-Null }
        Invoke-Native (Join-Path $bin 'initdb') -RunAs $runAs -ArgumentList @(
            '-D', $data, '-U', 'postgres', '--auth=scram-sha-256', "--pwfile=$pwFile", '-E', 'UTF8', '--locale=C') | Out-Null
    }
    $password = Get-Content -Raw $pwFile
    $port = Get-FreeTcpPort
    # Fast and unsafe settings: the cluster is a throw-away copy that can be rebuilt at any time.
    $options = "-c port=$port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$root -c fsync=off " +
        '-c synchronous_commit=off -c full_page_writes=off -c max_connections=20 -c shared_buffers=128MB ' +
        '-c maintenance_work_mem=256MB -c max_wal_size=4GB -c checkpoint_timeout=30min -c autovacuum=off'
    Invoke-Native (Join-Path $bin 'pg_ctl') -RunAs $runAs -ArgumentList @(
        '-D', $data, '-l', (Join-Path $root 'server.log'), '-w', '-t', '120', '-o', $options, 'start') | Out-Null
    $server = [pscustomobject]@{
        PSTypeName       = 'PgBackup.TestPostgres'
        Name             = "bench-scale$Scale"
        Version          = $major
        Major            = [int]$major
        BinDir           = $bin
        Root             = $root
        DataDir          = $data
        RunAs            = $runAs
        Port             = $port
        User             = 'postgres'
        Password         = $password
        ConnectionString = "postgresql://postgres:$password@127.0.0.1:$port/postgres"
        Database         = 'bench'
        SizeBytes        = [long]0
    }
    try {
        if (-not $cached) {
            New-BenchDatabase -Server $server -Scale $Scale
            $expected | ConvertTo-Json | Set-Content -Path $marker
        }
        $server.SizeBytes = [long](Invoke-TestPsql -Server $server -Database bench -Sql "SELECT pg_database_size('bench');")
    }
    catch {
        Stop-BenchPostgres -Server $server
        throw
    }
    $server
}

function New-BenchDatabase {
    # pgbench's tables at the given scale, then play_events (jsonb and text, like the guide's Spotify time machine).
    param([Parameter(Mandatory)]$Server, [Parameter(Mandatory)][int]$Scale)
    $rows = Get-PlayEventsRows $Scale
    Write-Host "Building the benchmark database (pgbench scale $Scale, $('{0:N0}' -f $rows) play events); it is cached in $($Server.Root)."
    $sw = [Diagnostics.Stopwatch]::StartNew()
    Invoke-TestPsql -Server $Server -Sql 'CREATE DATABASE bench;' | Out-Null
    $env:PGPASSWORD = $Server.Password
    try {
        $out = & (Join-Path $Server.BinDir 'pgbench') -i -s $Scale -q -h 127.0.0.1 -p $Server.Port -U $Server.User bench 2>&1
        if ($LASTEXITCODE -ne 0) { throw "pgbench -i failed: $($out -join "`n")" }
    }
    finally { Remove-Item Env:PGPASSWORD -ErrorAction SilentlyContinue }
    # Deterministic pseudo-random data: the same database on every machine. Names and contexts repeat as real ones
    # do; ids, timestamps and durations vary per row.
    $sql = @"
SELECT setseed(0.42);
CREATE TABLE users (id text PRIMARY KEY, display_name text NOT NULL, email text, country text, created_at timestamptz NOT NULL);
INSERT INTO users SELECT 'user' || g, 'Listener ' || md5(g::text), 'listener' || g || '@example.com',
    (ARRAY['DE','FR','US','GB','SE','BR','JP'])[1 + g % 7], timestamptz '2020-01-01' + g * interval '37 minutes'
FROM generate_series(1, 20000) g;
CREATE TABLE tracks (id text PRIMARY KEY, name text NOT NULL, artist text NOT NULL, album text, duration_ms int NOT NULL);
INSERT INTO tracks SELECT 'spotify:track:' || substr(md5('t' || g), 1, 22), 'Song ' || g || ' ' || substr(md5(g::text), 1, 8),
    'Artist ' || (g % 997), 'Album ' || (g % 4001), 90000 + (g * 7919) % 300000
FROM generate_series(1, 50000) g;
CREATE TABLE play_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     text NOT NULL,
    track_id    text NOT NULL,
    played_at   timestamptz NOT NULL,
    ms_played   integer NOT NULL,
    track_name  text,
    context     jsonb
);
INSERT INTO play_events (user_id, track_id, played_at, ms_played, track_name, context)
SELECT 'user' || (1 + (random() * 19999)::int),
       'spotify:track:' || substr(md5('t' || t), 1, 22),
       timestamptz '2023-01-01' + g * interval '13 seconds' + (random() * 10) * interval '1 second',
       (random() * 300000)::int,
       'Song ' || t || ' ' || substr(md5(t::text), 1, 8),
       jsonb_build_object(
           'device', (ARRAY['phone', 'desktop', 'speaker', 'web', 'car'])[1 + (random() * 4)::int],
           'shuffle', random() < 0.4,
           'offline', random() < 0.05,
           'reason_start', (ARRAY['trackdone', 'clickrow', 'fwdbtn', 'playbtn', 'appload'])[1 + (random() * 4)::int],
           'reason_end', (ARRAY['trackdone', 'endplay', 'fwdbtn', 'logout'])[1 + (random() * 3)::int],
           'ip', (random() * 255)::int || '.' || (random() * 255)::int || '.' || (random() * 255)::int || '.' || (random() * 255)::int,
           'session', md5(((g / 40)::text)),
           'position_ms', (random() * 200000)::int)
FROM (SELECT g, 1 + (random() * 49999)::int AS t FROM generate_series(1, $rows) g) s;
CREATE INDEX play_events_user_played ON play_events (user_id, played_at DESC);
VACUUM ANALYZE;
CHECKPOINT;
"@
    Invoke-TestPsql -Server $Server -Database bench -Sql $sql | Out-Null
    Write-Host ("Built in {0:N0} s." -f $sw.Elapsed.TotalSeconds)
}

function Stop-BenchCluster([string]$BinDir, [string]$DataDir, [string]$RunAs) {
    Invoke-Native (Join-Path $BinDir 'pg_ctl') -RunAs $RunAs -ArgumentList @('-D', $DataDir, '-m', 'fast', '-w', '-t', '120', 'stop') | Out-Null
}

function Stop-BenchPostgres {
    # Stops the cluster cleanly and keeps its data for the next run.
    param([Parameter(Mandatory, ValueFromPipeline)]$Server)
    process {
        try { Stop-BenchCluster -BinDir $Server.BinDir -DataDir $Server.DataDir -RunAs $Server.RunAs }
        catch { Write-Warning "Stopping the benchmark's PostgreSQL: $_" }
    }
}

$script:ClockTicks = [double](& getconf CLK_TCK)
function Get-ProcCpuSeconds([int]$ProcessId, [switch]$Children) {
    # CPU time of a process from /proc/<pid>/stat (utime + stime; with -Children, plus its reaped children's).
    try { $stat = Get-Content -Raw "/proc/$ProcessId/stat" -ErrorAction Stop } catch { return $null }
    $f = ($stat -replace '^.*\) ', '') -split ' '
    $ticks = [long]$f[11] + [long]$f[12]
    if ($Children) { $ticks += [long]$f[13] + [long]$f[14] }
    $ticks / $script:ClockTicks
}

function Get-ServerCpuSeconds($Server) {
    # The PostgreSQL server's CPU time: the postmaster's own, its ended children's (a backend that served a connection
    # is one, counted once it has been reaped), and its children that still run (backends, the checkpointer...).
    # A child reaped while /proc is read would be in neither part: read again until the reaped children's time is the
    # same before and after the scan.
    try { $serverPid = [int](Get-Content (Join-Path $Server.DataDir 'postmaster.pid') -TotalCount 1 -ErrorAction Stop) } catch { return $null }
    for ($attempt = 1; ; $attempt++) {
        $reaped = Get-ProcCpuSeconds -ProcessId $serverPid -Children
        $running = 0.0
        foreach ($dir in [System.IO.Directory]::GetDirectories('/proc')) {
            $name = [System.IO.Path]::GetFileName($dir)
            if ($name -notmatch '^\d+$') { continue }
            try { $stat = [System.IO.File]::ReadAllText("$dir/stat") } catch { continue }
            $f = ($stat -replace '^.*\) ', '') -split ' '
            if ([int]$f[1] -eq $serverPid) { $running += ([long]$f[11] + [long]$f[12]) / $script:ClockTicks }
        }
        if ((Get-ProcCpuSeconds -ProcessId $serverPid -Children) -eq $reaped -or $attempt -ge 20) { return $reaped + $running }
    }
}

Export-ModuleMember -Function Get-BenchCacheDir, Start-BenchPostgres, Stop-BenchPostgres, Get-ProcCpuSeconds, Get-ServerCpuSeconds
