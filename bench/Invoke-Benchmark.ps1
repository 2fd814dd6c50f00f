<#
.SYNOPSIS
Times New-PgBackup against the guide's `pg_dump "$DATABASE_URL" | gzip > f.sql.gz` on a benchmark database of more
than 1 GB, and reports median wall time, output size and the memory a backup adds to the PowerShell process.
.DESCRIPTION
Run through the build: dotnet pwsh ./build.ps1 -Task Bench [-BenchArgs @{ Rounds = 5 }]

Starts its own PostgreSQL (Debian's package, via the test harness) on a cluster kept in a cache folder
(/var/tmp/pgbackup-bench, or $env:PGBACKUP_BENCH_CACHE): the benchmark database - pgbench's tables at -Scale plus a
play_events table with jsonb and text - is built the first time only. Then it runs -Rounds rounds; each round runs
every variant once, in an order rotated from round to round, so that the variants share the machine's noise:

  Guide      bash: pg_dump "$DATABASE_URL" | gzip > f.sql.gz      (the guide's pipeline, gzip -6)
  PgDump     bash: pg_dump "$DATABASE_URL" > f.sql                (uncompressed: the baseline of the zstd target)
  Default    New-PgBackup                                          (plain SQL, gzip level 6; pg_dump 15 fits the bench server)
  Native     New-PgBackup -Engine Native                           (PgBackup's own dump over Npgsql instead of pg_dump)
  NativeJobs2 New-PgBackup -Engine Native -Jobs 2                  (table data read on two connections)
  Zstd       New-PgBackup -Compression Zstd
  Custom     New-PgBackup -Format Custom
  Directory  New-PgBackup -Format Directory -Jobs 2
  None       New-PgBackup -Compression None                        (not run unless asked for: the pipeline's own cost)
  NativeNone New-PgBackup -Engine Native -Compression None         (not run unless asked for: the native pipeline's own cost)
  Zstd3      New-PgBackup -Compression Zstd -CompressionLevel 3    (not run unless asked for: the zstd CLI's default level)
  S3Part8    New-PgBackup -Path s3://... -S3PartSizeMB 8         (not run unless asked for: the former part size)
  S3Serial   New-PgBackup -Path s3://... -S3UploadConcurrency 1  (not run unless asked for)
  Encrypted  New-PgBackup -EncryptPassphrase <SecureString>       (not run unless asked for: OpenPGP AES-256 in the stream)
  S3         New-PgBackup -Path s3://<bucket>/bench               (not run unless asked for: straight to a local S3 server)
  S3Null     New-PgBackup -Path s3://<bucket>/bench to bench/NullS3.py (not run unless asked for: an endpoint that
             answers the upload's requests and discards the data: what an S3 backup costs PgBackup itself, without
             the work of an S3 server on the same cores; the S3 target is judged on it)
  Azure      New-PgBackup -Path az://devstoreaccount1/<container>/bench (not run unless asked for: straight to Azurite,
             tests/harness/TestAzure.psm1, on the same machine; the connection string reaches the measuring process
             as AZURE_STORAGE_CONNECTION_STRING, never on a command line; Azurite's CPU is reported as the gateway's)

Encrypted gets a passphrase made for the run; it reaches the measuring process in an environment variable, never on a
command line. S3 starts Ceph's RADOS Gateway (tests/harness/TestS3.psm1) only when selected (on free ports, so
a test run may have its own cluster at the same time) and stops it at the end; the measuring
process gets the S3 user's keys as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (the AWS SDK's default chain) and the
endpoint as -EndpointUrl. Its objects are deleted (and the gateway's garbage collected) after every run. The gateway
runs on the same machine as PostgreSQL and the benchmark, and competes with them for the CPU: its CPU time
(radosgw, OSD, monitor) is reported for each run, as are pg_dump's and the PostgreSQL server's.

Each New-PgBackup runs in a fresh `pwsh -NoProfile` process (bench/Measure-NewPgBackup.ps1) that reports the time of
the New-PgBackup call and the memory the call added to the process: its peak resident size during the call (VmHWM,
reset just before it) over its resident size before it (an idle pwsh with the module imported); pg_dump's memory is
not counted. The time of the whole process (PowerShell's start and Import-Module included) is reported too. The first round's outputs are checked
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
    [ValidateSet('Guide', 'PgDump', 'Default', 'Native', 'NativeJobs2', 'NativeNone', 'Zstd', 'Custom', 'Directory', 'None', 'Zstd3', 'Encrypted', 'S3', 'S3Part8', 'S3Serial', 'S3Null', 'Azure')]
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
Import-Module (Join-Path $PSScriptRoot '../tests/harness/TestS3.psm1')
Import-Module (Join-Path $PSScriptRoot '../tests/harness/TestAzure.psm1')

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
    Native    = @{ Kind = 'Module'; Parameters = @{ Engine = 'Native' }; Label = 'New-PgBackup -Engine Native' }
    NativeJobs2 = @{ Kind = 'Module'; Parameters = @{ Engine = 'Native'; Jobs = 2 }; Label = 'New-PgBackup -Engine Native -Jobs 2' }
    NativeNone = @{ Kind = 'Module'; Parameters = @{ Engine = 'Native'; Compression = 'None' }; Label = 'New-PgBackup -Engine Native -Compression None' }
    Zstd      = @{ Kind = 'Module'; Parameters = @{ Compression = 'Zstd' }; Label = 'New-PgBackup -Compression Zstd' }
    Custom    = @{ Kind = 'Module'; Parameters = @{ Format = 'Custom' }; Label = 'New-PgBackup -Format Custom' }
    Directory = @{ Kind = 'Module'; Parameters = @{ Format = 'Directory'; Jobs = 2 }; Label = 'New-PgBackup -Format Directory -Jobs 2' }
    None      = @{ Kind = 'Module'; Parameters = @{ Compression = 'None' }; Label = 'New-PgBackup -Compression None' }
    Zstd3     = @{ Kind = 'Module'; Parameters = @{ Compression = 'Zstd'; CompressionLevel = 3 }; Label = 'New-PgBackup -Compression Zstd -CompressionLevel 3' }
    Encrypted = @{ Kind = 'Module'; Parameters = @{}; Encrypt = $true; Label = 'New-PgBackup -EncryptPassphrase' }
    # The endpoint is added when the gateway has started.
    S3        = @{ Kind = 'Module'; Parameters = @{}; S3 = $true; Label = 'New-PgBackup -Path s3://<bucket>/bench' }
    S3Part8   = @{ Kind = 'Module'; Parameters = @{ S3PartSizeMB = 8 }; S3 = $true; Label = 'New-PgBackup -Path s3://<bucket>/bench -S3PartSizeMB 8' }
    S3Serial  = @{ Kind = 'Module'; Parameters = @{ S3UploadConcurrency = 1 }; S3 = $true; Label = 'New-PgBackup -Path s3://<bucket>/bench -S3UploadConcurrency 1' }
    # The endpoint is added when bench/NullS3.py has started.
    S3Null    = @{ Kind = 'Module'; Parameters = @{}; NullS3 = $true; Label = 'New-PgBackup -Path s3://<bucket>/bench to a null endpoint (no S3 server work)' }
    Azure     = @{ Kind = 'Module'; Parameters = @{}; Azure = $true; Label = 'New-PgBackup -Path az://devstoreaccount1/<container>/bench (Azurite)' }
}
# The passphrase of the Encrypted variant (this run only), and the S3 server of the S3 variant.
$script:Passphrase = 'bench-' + [guid]::NewGuid().ToString('n')
$script:S3Server = $null
$script:S3Bucket = $null
$script:S3Prefix = 'bench'
# The null endpoint of the S3Null variant: its process and address.
$script:NullS3 = $null
$script:NullS3Endpoint = $null
# The Azurite of the Azure variant, and its container.
$script:AzureServer = $null
$script:AzureContainer = $null

$names = @($Variants)
if ($CompareModule) {
    foreach ($name in @($definitions.Keys)) {
        $d = $definitions[$name]
        if ($d.Kind -ne 'Module' -or $name -notin $names) { continue }
        $copy = $d.Clone()
        $copy.Label = "$($d.Label) [compare build]"
        $copy.Module = $CompareModule
        $definitions["$name.Compare"] = $copy
        $names += "$name.Compare"
    }
}

function Get-OutputSize([string]$Path) {
    if (Test-Path $Path -PathType Container) { return [long](Get-ChildItem -Recurse -File $Path | Measure-Object -Sum Length).Sum }
    [long](Get-Item $Path).Length
}

function Test-Decryption([string]$Path) {
    # gpg decrypts the file with the run's passphrase (given on its stdin), and gzip -t checks what comes out. A
    # throw-away GNUPGHOME, whose gpg-agent is stopped afterwards.
    $gpgHome = Join-Path $work 'gnupg'
    New-Item -ItemType Directory -Force -Path $gpgHome | Out-Null
    Invoke-Native chmod -ArgumentList @('700', $gpgHome) | Out-Null
    $env:BENCH_GPG_PASSPHRASE = $script:Passphrase
    $env:BENCH_GPG_FILE = $Path
    $env:BENCH_GPG_HOME = $gpgHome
    try {
        & bash -c 'set -o pipefail; printf %s "$BENCH_GPG_PASSPHRASE" | gpg --homedir "$BENCH_GPG_HOME" --batch --no-tty --pinentry-mode loopback --passphrase-fd 0 --decrypt "$BENCH_GPG_FILE" 2>"$BENCH_GPG_HOME/decrypt.log" | gzip -t'
        $code = $LASTEXITCODE
        $log = @(Get-Content (Join-Path $gpgHome 'decrypt.log') -ErrorAction SilentlyContinue)
    }
    finally {
        Remove-Item Env:BENCH_GPG_PASSPHRASE, Env:BENCH_GPG_FILE, Env:BENCH_GPG_HOME -ErrorAction SilentlyContinue
        & gpgconf --homedir $gpgHome --kill gpg-agent 2>$null
        Remove-Item -Recurse -Force $gpgHome -ErrorAction SilentlyContinue
    }
    $global:LASTEXITCODE = $code
    "gpg --decrypt | gzip -t (exit code $code): $(($log | ForEach-Object { "$_".Trim() }) -join '; ')"
}

function Test-BackupFile([string]$Path, $Server) {
    # Checks an output with the stock tools (outside the timed part); returns what was checked.
    $global:LASTEXITCODE = 0
    $out = switch -Regex ($Path) {
        '\.gpg$' { Test-Decryption $Path }
        '\.gz$' { & gzip -t $Path 2>&1; 'gzip -t' }
        '\.zst$' { & zstd -q -t $Path 2>&1; 'zstd -t' }
        '\.sql$' { if ((Get-Content -Tail 8 $Path) -join "`n" -notmatch 'PostgreSQL database dump complete') { $global:LASTEXITCODE = 1; 'no footer' } else { 'footer' } }
        default { & (Join-Path $Server.BinDir 'pg_restore') --list $Path 2>&1 | Select-Object -Last 1; 'pg_restore --list' }
    }
    if ($LASTEXITCODE -ne 0) { throw "The output $Path does not check out: $out" }
    "$(@($out)[-1])"
}

function Test-S3Backup([string]$Path, [long]$SizeBytes) {
    # The backup object's size is the one New-PgBackup reported, its manifest object exists (and gives the same size),
    # and the object downloaded passes gzip -t. Outside the timed part. Returns what was checked.
    $prefix = "s3://$($script:S3Bucket)/"
    if (-not $Path.StartsWith($prefix)) { throw "The S3 backup's path $Path is not in the bucket $($script:S3Bucket)." }
    $key = $Path.Substring($prefix.Length)
    $c = Get-TestS3Client -Server $script:S3Server
    try {
        $head = $c.GetObjectMetadataAsync($script:S3Bucket, $key).GetAwaiter().GetResult()
        if ($head.ContentLength -ne $SizeBytes) { throw "The object $key has $($head.ContentLength) bytes; New-PgBackup reported $SizeBytes." }
        $response = $c.GetObjectAsync($script:S3Bucket, "$key.json").GetAwaiter().GetResult()
        try { $manifestText = [IO.StreamReader]::new($response.ResponseStream).ReadToEnd() } finally { $response.Dispose() }
        $manifest = $manifestText | ConvertFrom-Json
        $manifestSize = if ($manifest.PSObject.Properties['sizeBytes']) { [long]$manifest.sizeBytes } else { $null }
        if ($null -ne $manifestSize -and $manifestSize -ne $SizeBytes) { throw "The manifest $key.json gives $manifestSize bytes; the object has $SizeBytes." }
        $local = Join-Path $work 's3-check.sql.gz'
        $response = $c.GetObjectAsync($script:S3Bucket, $key).GetAwaiter().GetResult()
        try {
            $file = [IO.File]::Create($local)
            try { $response.ResponseStream.CopyTo($file) } finally { $file.Dispose() }
        }
        finally { $response.Dispose() }
        $out = & gzip -t $local 2>&1
        if ($LASTEXITCODE -ne 0) { throw "The object $key downloaded does not pass gzip -t: $out" }
        Remove-Item $local
    }
    finally { $c.Dispose() }
    "S3 object $key $SizeBytes bytes (HEAD); manifest $key.json present$(if ($null -ne $manifestSize) { ', same size' } else { ' (no size field)' }); downloaded: gzip -t"
}

function Clear-BenchS3 {
    # Deletes what a run uploaded (and any unfinished multipart upload), then has the gateway collect the garbage
    # now: its OSD keeps objects in memory, and deleted objects' data would otherwise stay for hours.
    $c = Get-TestS3Client -Server $script:S3Server
    try {
        foreach ($k in @(Get-TestS3Key -Server $script:S3Server -Bucket $script:S3Bucket -Prefix "$($script:S3Prefix)/")) {
            $null = $c.DeleteObjectAsync($script:S3Bucket, $k).GetAwaiter().GetResult()
        }
        $uploads = $c.ListMultipartUploadsAsync([Amazon.S3.Model.ListMultipartUploadsRequest]@{ BucketName = $script:S3Bucket }).GetAwaiter().GetResult()
        foreach ($u in @($uploads.MultipartUploads)) {
            if ($u) { $null = $c.AbortMultipartUploadAsync($script:S3Bucket, $u.Key, $u.UploadId).GetAwaiter().GetResult() }
        }
    }
    finally { $c.Dispose() }
    $out = & radosgw-admin -c $script:S3Server.Config gc process --include-all 2>&1
    if ($LASTEXITCODE -ne 0) { Write-Warning "radosgw-admin gc process failed: $($out -join ' ')" }
}

function Get-GatewayCpuSeconds {
    # The S3 server's CPU time: radosgw, the OSD and the monitor.
    if (-not $script:S3Server) { return $null }
    $sum = 0.0
    foreach ($daemon in 'client.rgw.a', 'osd.0', 'mon.a') {
        $pidFile = Join-Path $script:S3Server.Root "run/$daemon.pid"
        if (-not (Test-Path $pidFile)) { return $null }
        $cpu = Get-ProcCpuSeconds -ProcessId ([int](Get-Content -Raw $pidFile).Trim())
        if ($null -eq $cpu) { return $null }
        $sum += $cpu
    }
    $sum
}

function Start-NullS3 {
    # bench/NullS3.py on a free port of 127.0.0.1; returns its process once it listens.
    $python = Get-Command python3 -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $python) { throw 'The S3Null variant needs python3 (bench/NullS3.py).' }
    $info = [Diagnostics.ProcessStartInfo]::new($python.Source)
    $info.ArgumentList.Add((Join-Path $PSScriptRoot 'NullS3.py'))
    $info.RedirectStandardOutput = $true
    $info.UseShellExecute = $false
    $process = [Diagnostics.Process]::Start($info)
    $line = $process.StandardOutput.ReadLine()
    if ($line -notmatch '^port (\d+)$') { $process.Kill(); throw "bench/NullS3.py did not start: $line" }
    $script:NullS3Endpoint = "http://127.0.0.1:$($Matches[1])"
    $process
}

function Test-NullS3Backup([string]$Path, [long]$SizeBytes) {
    # The null endpoint received as many bytes for the backup's object as New-PgBackup reported, and a manifest.
    $key = $Path -replace '^s3://[^/]+/', ''
    $stats = Invoke-RestMethod -Uri "$($script:NullS3Endpoint)/?null-stats"
    $received = $stats.objects.PSObject.Properties[$key]
    if (-not $received -or [long]$received.Value -ne $SizeBytes) { throw "The null endpoint received $(if ($received) { $received.Value } else { 'nothing' }) bytes for $key; New-PgBackup reported $SizeBytes." }
    if (-not $stats.objects.PSObject.Properties["$key.json"]) { throw "The null endpoint received no manifest $key.json." }
    "null endpoint: $SizeBytes bytes received for $key (the size reported), manifest $key.json received"
}

function Get-S3ServerCpuSeconds($Definition) {
    # The CPU time of the storage server a variant sends to: the null endpoint's, Azurite's, or the Ceph gateway's (null if none).
    if ($Definition['NullS3']) { Get-ProcCpuSeconds -ProcessId $script:NullS3.Id }
    elseif ($Definition['Azure']) { Get-ProcCpuSeconds -ProcessId $script:AzureServer.ProcessId }
    else { Get-GatewayCpuSeconds }
}

function Test-AzureBackup([string]$Path, [long]$SizeBytes) {
    # The blob has the size reported, its manifest blob exists, and the blob downloaded passes gzip -t.
    $name = $Path -replace '^az://[^/]+/[^/]+/', ''
    $c = Get-TestAzureContainer -Server $script:AzureServer -Name $script:AzureContainer
    $size = $c.GetBlobClient($name).GetProperties().Value.ContentLength
    if ($size -ne $SizeBytes) { throw "The blob $name has $size bytes; New-PgBackup reported $SizeBytes." }
    if (-not $c.GetBlobClient("$name.json").Exists().Value) { throw "The manifest $name.json is missing." }
    $local = Join-Path $work 'azure-check.sql.gz'
    $null = $c.GetBlobClient($name).DownloadTo($local)
    try { & gzip -t $local 2>&1 | Out-Null; if ($LASTEXITCODE -ne 0) { throw "The blob $name does not pass gzip -t." } }
    finally { Remove-Item $local -ErrorAction SilentlyContinue }
    "blob $name $SizeBytes bytes; manifest $name.json present; downloaded: gzip -t"
}

function Clear-BenchAzure {
    # Deletes what a run stored (Azurite keeps blobs in memory).
    $c = Get-TestAzureContainer -Server $script:AzureServer -Name $script:AzureContainer
    foreach ($n in @(Get-TestBlobName -Server $script:AzureServer -Container $script:AzureContainer)) { $null = $c.DeleteBlobIfExists($n) }
}

function Get-Delta($Before, $After) { if ($null -ne $Before -and $null -ne $After) { $After - $Before } else { $null } }

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
    $r = [ordered]@{ Variant = $Name; Seconds = 0.0; ProcessSeconds = 0.0; SizeBytes = [long]0; PeakRssBytes = $null; IdleRssBytes = $null; AddedPeakBytes = $null; CpuSeconds = $null
        ChildCpuSeconds = $null; ServerCpuSeconds = $null; GatewayCpuSeconds = $null; RowCount = $null; Checked = $null
        GcCommittedBytes = $null; RssAnonBytes = $null; RssFileBytes = $null; Threads = $null; SystemCpuSeconds = $null; GcAllocatedBytes = $null; GcCollections = $null; GcPauseSeconds = $null }
    $serverCpu = Get-ServerCpuSeconds $Server
    $gatewayCpu = Get-S3ServerCpuSeconds $def
    try {
        if ($def.Kind -eq 'Shell') {
            $sw = [Diagnostics.Stopwatch]::StartNew()
            & bash -c "set -o pipefail; $($def.Command)"
            $sw.Stop()
            $r.ServerCpuSeconds = Get-Delta $serverCpu (Get-ServerCpuSeconds $Server)
            $r.GatewayCpuSeconds = Get-Delta $gatewayCpu (Get-S3ServerCpuSeconds $def)
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
            $target = $out
            $extra = @()
            if ($def['Encrypt']) {
                # The passphrase's text goes to the measuring process in its environment, not on its command line.
                $env:PGBACKUP_BENCH_PASSPHRASE = $script:Passphrase
                $extra += '-PassphraseVariable', 'PGBACKUP_BENCH_PASSPHRASE'
            }
            if ($def['S3']) {
                # The S3 user's keys, for the AWS SDK's default credential chain in the measuring process.
                $env:AWS_ACCESS_KEY_ID = $script:S3Server.AccessKey
                $env:AWS_SECRET_ACCESS_KEY = $script:S3Server.SecretKey
                $target = "s3://$($script:S3Bucket)/$($script:S3Prefix)"
            }
            if ($def['NullS3']) {
                # Any keys do: the null endpoint checks no signature (the client still signs every request).
                $env:AWS_ACCESS_KEY_ID = 'BENCHNULLKEY'
                $env:AWS_SECRET_ACCESS_KEY = 'bench-null-secret'
                $target = "s3://bench-null/$($script:S3Prefix)"
            }
            if ($def['Azure']) {
                # The connection string (the emulator's well-known key) in the environment, not on a command line.
                $env:AZURE_STORAGE_CONNECTION_STRING = $script:AzureServer.ConnectionString
                $target = "az://$($script:AzureServer.Account)/$($script:AzureContainer)/$($script:S3Prefix)"
            }
            $sw = [Diagnostics.Stopwatch]::StartNew()
            $manifest = if ($def['Module']) { $def.Module } else { $ModuleManifest }
            & $exe @pre -NoProfile -NonInteractive -File $measureScript -ModuleManifest $manifest -Path $target `
                -ResultFile $resultFile -Parameters $params @extra | Out-Host
            $sw.Stop()
            Remove-Item Env:PGBACKUP_BENCH_PASSPHRASE, Env:AWS_ACCESS_KEY_ID, Env:AWS_SECRET_ACCESS_KEY, Env:AZURE_STORAGE_CONNECTION_STRING -ErrorAction SilentlyContinue
            $r.ServerCpuSeconds = Get-Delta $serverCpu (Get-ServerCpuSeconds $Server)
            $r.GatewayCpuSeconds = Get-Delta $gatewayCpu (Get-S3ServerCpuSeconds $def)
            if ($LASTEXITCODE -ne 0 -or -not (Test-Path $resultFile)) { throw "$($def.Label) failed (exit code $LASTEXITCODE)." }
            $m = Get-Content -Raw $resultFile | ConvertFrom-Json
            $r.Seconds = [double]$m.BackupSeconds
            $r.ProcessSeconds = $sw.Elapsed.TotalSeconds
            $r.PeakRssBytes = [long]$m.PeakRssBytes
            $r.IdleRssBytes = [long]$m.IdleRssBytes
            $r.AddedPeakBytes = if ($null -ne $m.AddedPeakBytes) { [long]$m.AddedPeakBytes } else { $null }
            $r.RowCount = [long]$m.RowCount
            $r.CpuSeconds = [double]$m.CpuSeconds
            $r.ChildCpuSeconds = [double]$m.ChildCpuSeconds
            $r.SystemCpuSeconds = [double]$m.SystemCpuSeconds
            # Where the memory is at the end (the managed heap, anonymous and file-backed pages), and the threads.
            $r.GcCommittedBytes = [long]$m.GcCommittedBytes
            $r.RssAnonBytes = [long]$m.RssAnonBytes
            $r.RssFileBytes = [long]$m.RssFileBytes
            $r.Threads = [int]$m.Threads
            # Allocation and garbage collection during the call: bytes allocated, collections per generation, pauses.
            $r.GcAllocatedBytes = [long]$m.GcAllocatedBytes
            $r.GcCollections = @($m.GcCollections)
            $r.GcPauseSeconds = [double]$m.GcPauseSeconds
            $file = $m.Path
        }
        if ($def['S3']) {
            $r.SizeBytes = [long]$m.SizeBytes
            if ($Check) { $r.Checked = Test-S3Backup -Path $file -SizeBytes $r.SizeBytes }
        }
        elseif ($def['NullS3']) {
            $r.SizeBytes = [long]$m.SizeBytes
            if ($Check) { $r.Checked = Test-NullS3Backup -Path $file -SizeBytes $r.SizeBytes }
        }
        elseif ($def['Azure']) {
            $r.SizeBytes = [long]$m.SizeBytes
            if ($Check) { $r.Checked = Test-AzureBackup -Path $file -SizeBytes $r.SizeBytes }
        }
        else {
            $r.SizeBytes = Get-OutputSize $file
            if ($Check) { $r.Checked = Test-BackupFile -Path $file -Server $Server }
        }
        if ($r.Checked) { Write-Host "  checked $Name`: $($r.Checked)" }
    }
    finally {
        Remove-Item Env:DATABASE_URL, Env:PGDUMP, Env:OUT, Env:PGBACKUP_BENCH_PASSPHRASE, Env:AWS_ACCESS_KEY_ID, Env:AWS_SECRET_ACCESS_KEY -ErrorAction SilentlyContinue
        Remove-Item -Recurse -Force $out -ErrorAction SilentlyContinue
        if ($def['S3'] -and $script:S3Server) { Clear-BenchS3 }
        if ($def['Azure'] -and $script:AzureServer) { Clear-BenchAzure }
        Remove-Item Env:AZURE_STORAGE_CONNECTION_STRING -ErrorAction SilentlyContinue
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
            $mem = if ($null -ne $r.PeakRssBytes) { '{0,6:N1} MB peak, {1,5:N1} MB added, {2,5:N1} s CPU' -f ($r.PeakRssBytes / 1MB), ($r.AddedPeakBytes / 1MB), $r.CpuSeconds } else { '' }
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
            AddedPeakBytes        = if ($null -ne $mine[0].AddedPeakBytes) { [long]($mine.AddedPeakBytes | Measure-Object -Maximum).Maximum } else { $null }
            MedianAddedPeakBytes  = if ($null -ne $mine[0].AddedPeakBytes) { [long](Get-Median ($mine.AddedPeakBytes)) } else { $null }
            MedianCpuSeconds      = if ($mine[0].PeakRssBytes) { Get-Median ($mine.CpuSeconds) } else { $null }
            MedianChildCpuSeconds = if ($mine[0].PeakRssBytes) { Get-Median ($mine.ChildCpuSeconds) } else { $null }
            MedianServerCpuSeconds  = if ($null -ne $mine[0].ServerCpuSeconds) { Get-Median ($mine.ServerCpuSeconds) } else { $null }
            MedianGatewayCpuSeconds = if ($null -ne $mine[0].GatewayCpuSeconds) { Get-Median ($mine.GatewayCpuSeconds) } else { $null }
            RowCount              = $mine[0].RowCount
        }
        foreach ($base in 'Guide', 'PgDump', 'Default') {
            if ($base -notin $Names) { continue }
            $b = @($Runs | Where-Object Variant -eq $base)
            $row["VsMedian$base"] = $row.MedianSeconds / (Get-Median ($b.Seconds))
            $row["VsMedianProcess$base"] = $row.MedianProcessSeconds / (Get-Median ($b.Seconds))
            $perRound = @(foreach ($r in $mine) { $r.Seconds / $byRound["$($r.Round)/$base"].Seconds })
            $row["VsRound$base"] = Get-Median $perRound
            $row["VsRound${base}Min"] = ($perRound | Measure-Object -Minimum).Minimum
            $row["VsRound${base}Max"] = ($perRound | Measure-Object -Maximum).Maximum
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

$useS3 = @($names | Where-Object { $definitions[$_]['S3'] }).Count -gt 0
Install-TestPrerequisites -S3:$useS3 -Azure:(@($names | Where-Object { $definitions[$_]['Azure'] }).Count -gt 0)
$result = [ordered]@{ Machine = $machine; Module = $ModuleManifest; Rounds = $Rounds; Big = $null; Small = $null; S3 = $null; Azure = $null }
$server = $null
$savedTestModule = $env:PGBACKUP_TEST_MODULE
try {
    if ($useS3) {
        # The harness's S3 client (bucket, checks, clean-up) loads the AWS SDK from the built module's folder.
        $env:PGBACKUP_TEST_MODULE = $ModuleManifest
        $script:S3Server = Start-TestS3 -Name bench
        $script:S3Bucket = New-TestBucket -Server $script:S3Server -Prefix 'bench'
        foreach ($name in $names) { if ($definitions[$name]['S3']) { $definitions[$name].Parameters.EndpointUrl = $script:S3Server.Endpoint } }
        $result.S3 = [ordered]@{ Server = 'Ceph RADOS Gateway (Debian radosgw), one monitor, one OSD (memstore), on this machine'
            Version = "$(& radosgw --version 2>$null)".Trim(); Endpoint = $script:S3Server.Endpoint; Bucket = $script:S3Bucket; StartSeconds = $script:S3Server.StartSeconds }
        Write-Host ("S3 (Ceph RADOS Gateway) on {0}, bucket {1}, started in {2} s" -f $script:S3Server.Endpoint, $script:S3Bucket, $script:S3Server.StartSeconds)
    }
    if (@($names | Where-Object { $definitions[$_]['Azure'] }).Count -gt 0) {
        # The harness's Azure client (container, checks, clean-up) loads the SDK from the built module's folder.
        $env:PGBACKUP_TEST_MODULE = $ModuleManifest
        $script:AzureServer = Start-TestAzurite -Name bench-azurite
        $script:AzureContainer = New-TestContainer -Server $script:AzureServer -Prefix 'bench'
        $result.Azure = [ordered]@{ Server = 'Azurite 3.37.0 (blob service, in memory), on this machine'; Endpoint = $script:AzureServer.Endpoint
            Container = $script:AzureContainer; StartSeconds = $script:AzureServer.StartSeconds }
        Write-Host ("Azure Blob Storage (Azurite) on {0}, container {1}" -f $script:AzureServer.Endpoint, $script:AzureContainer)
    }
    if (@($names | Where-Object { $definitions[$_]['NullS3'] }).Count -gt 0) {
        $script:NullS3 = Start-NullS3
        foreach ($name in $names) { if ($definitions[$name]['NullS3']) { $definitions[$name].Parameters.EndpointUrl = $script:NullS3Endpoint } }
        Write-Host "Null S3 endpoint (bench/NullS3.py) on $($script:NullS3Endpoint)"
    }
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
    if ($script:S3Server) { $script:S3Server | Stop-TestS3; $script:S3Server = $null }
    if ($script:AzureServer) { $script:AzureServer | Stop-TestAzurite; $script:AzureServer = $null }
    if ($script:NullS3) { if (-not $script:NullS3.HasExited) { $script:NullS3.Kill() }; $script:NullS3.Dispose(); $script:NullS3 = $null }
    $env:PGBACKUP_TEST_MODULE = $savedTestModule
    Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
}
$machine.LoadAfter = (Get-Content /proc/loadavg)

# The report.
$lines = [System.Collections.Generic.List[string]]::new()
$lines.Add("Benchmark of $($result.Machine.Date): $($machine.Cores) cores ($($machine.Cpu)), $($machine.PowerShell) on $($machine.Runtime), $($result.Machine.PostgreSQL)")
$lines.Add(('Database: pgbench scale {0} plus play_events, {1:N0} MB on disk; {2} rounds, medians; load average before {3}, after {4}' -f `
            $Scale, ($result.Big.DatabaseBytes / 1MB), $Rounds, (($machine.LoadBefore -split ' ')[0..2] -join ' '), (($machine.LoadAfter -split ' ')[0..2] -join ' ')))
$lines.Add('')
$lines.Add('| Variant | Median time | Process time | vs guide | vs pg_dump | vs Default | Output | Size vs guide | Memory added (highest) |')
$lines.Add('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
foreach ($row in $result.Big.Summary) {
    $proc = if ($definitions[$row.Variant].Kind -eq 'Module') { '{0:N2} s' -f $row.MedianProcessSeconds } else { '' }
    $mem = if ($null -ne $row.AddedPeakBytes) { '{0:N0} MB' -f ($row.AddedPeakBytes / 1MB) } else { '' }
    $lines.Add(('| {0} | {1:N2} s | {2} | {3} | {4} | {5} | {6:N1} MB | {7} | {8} |' -f ($row.Label -replace '\|', '\|'), $row.MedianSeconds, $proc,
            (Format-Ratio $row 'VsRoundGuide'), (Format-Ratio $row 'VsRoundPgDump'), (Format-Ratio $row 'VsRoundDefault'), ($row.SizeBytes / 1MB),
            (Format-Ratio $row 'SizeVsGuide'), $mem))
}
# Where the CPU went (medians, seconds): the PowerShell process, pg_dump, the PostgreSQL server, the S3 server.
$lines.Add('')
$lines.Add('CPU time per run (medians): the PowerShell process during the call, pg_dump, the PostgreSQL server (backends), the S3 server (radosgw, OSD, monitor; or the null endpoint)')
$lines.Add('')
$lines.Add('| Variant | PowerShell | pg_dump | PostgreSQL | S3 server |')
$lines.Add('|---|---:|---:|---:|---:|')
foreach ($row in $result.Big.Summary) {
    $f = { param($v) if ($null -ne $v) { '{0:N1} s' -f $v } else { '' } }
    $lines.Add(('| {0} | {1} | {2} | {3} | {4} |' -f ($row.Label -replace '\|', '\|'), (& $f $row.MedianCpuSeconds), (& $f $row.MedianChildCpuSeconds),
            (& $f $row.MedianServerCpuSeconds), (& $f $row.MedianGatewayCpuSeconds)))
}
# The targets, each against Default measured in the same rounds: the Encrypted variant's time, and PgBackup's own cost
# of an S3 backup (the S3Null variant: no S3 server's work on these cores), with the CPU beside it (not counted).
$f1 = { param($v) if ($null -ne $v) { '{0:N1} s' -f $v } else { '?' } }
$defaultRow = $result.Big.Summary | Where-Object Variant -eq 'Default'
foreach ($t in @(@{ Name = 'Encrypted'; Limit = 1.15 }, @{ Name = 'S3Null'; Limit = 1.10 }, @{ Name = 'Native'; Limit = 1.0 }, @{ Name = 'NativeJobs2'; Limit = 0.8 })) {
    $row = $result.Big.Summary | Where-Object Variant -eq $t.Name
    if (-not $row -or -not $row.PSObject.Properties['VsRoundDefault']) { continue }
    $text = '{0} vs Default: {1:N2}x median of per-round ratios ({2:N2}x to {3:N2}x; ratio of medians {4:N2}x); target at most {5:N2}x: {6}' -f $t.Name,
        $row.VsRoundDefault, $row.VsRoundDefaultMin, $row.VsRoundDefaultMax, $row.VsMedianDefault, $t.Limit, $(if ($row.VsRoundDefault -le $t.Limit) { 'met' } else { 'NOT met' })
    if ($t.Name -like 'Native*') {
        $text += ('; output {0:N3}x Default''s (target at most 1.02x: {1}); CPU of the PowerShell process {2} (Default {3}, with pg_dump {4}), PostgreSQL {5} (Default {6})' -f
            ($row.SizeBytes / $defaultRow.SizeBytes), $(if ($row.SizeBytes -le 1.02 * $defaultRow.SizeBytes) { 'met' } else { 'NOT met' }),
            (& $f1 $row.MedianCpuSeconds), (& $f1 $defaultRow.MedianCpuSeconds), (& $f1 $defaultRow.MedianChildCpuSeconds),
            (& $f1 $row.MedianServerCpuSeconds), (& $f1 $defaultRow.MedianServerCpuSeconds))
    }
    if ($t.Name -eq 'S3Null') {
        $ceph = $result.Big.Summary | Where-Object Variant -eq 'S3'
        $text += ('; CPU of the PowerShell process {0} (Default {1})' -f (& $f1 $row.MedianCpuSeconds), (& $f1 $defaultRow.MedianCpuSeconds))
        if ($ceph) {
            $text += ('; to the Ceph gateway instead: {0:N2}x, the gateway using {1} of CPU (not counted)' -f $ceph.VsRoundDefault, (& $f1 $ceph.MedianGatewayCpuSeconds))
        }
    }
    $lines.Add('')
    $lines.Add($text)
}
# Azure: the PowerShell process's CPU at most 1.10x the local backup's (medians), Azurite's CPU beside it (not counted).
$azureRow = $result.Big.Summary | Where-Object Variant -eq 'Azure'
if ($azureRow -and $defaultRow -and $azureRow.MedianCpuSeconds -and $defaultRow.MedianCpuSeconds) {
    $cpuRatio = $azureRow.MedianCpuSeconds / $defaultRow.MedianCpuSeconds
    $lines.Add('')
    $lines.Add(('Azure vs Default: CPU of the PowerShell process {0} vs {1} ({2:N2}x); target at most 1.10x: {3}; time {4:N2}x median of per-round ratios; Azurite used {5} of CPU (not counted)' -f
            (& $f1 $azureRow.MedianCpuSeconds), (& $f1 $defaultRow.MedianCpuSeconds), $cpuRatio, $(if ($cpuRatio -le 1.10) { 'met' } else { 'NOT met' }),
            $(if ($azureRow.PSObject.Properties['VsRoundDefault']) { $azureRow.VsRoundDefault } else { 0 }), (& $f1 $azureRow.MedianGatewayCpuSeconds)))
}
# Memory: what a backup adds over an idle pwsh with the module imported, at most 80 MB for local and S3 backups, and
# flat in the database's size (the small database's runs against the big one's).
$memoryLimit = 80MB
foreach ($row in @($result.Big.Summary | Where-Object { $_.Variant -in 'Default', 'Native', 'NativeJobs2', 'S3', 'S3Null', 'Azure' -and $null -ne $_.AddedPeakBytes })) {
    $small = if ($result.Small) { $result.Small.Summary | Where-Object Variant -eq $row.Variant } else { $null }
    $highest = [math]::Max($row.AddedPeakBytes, $(if ($small) { $small.AddedPeakBytes } else { 0 }))
    $text = 'Memory added by {0}: {1:N0} MB at most (median {2:N0} MB); target at most 80 MB: {3}' -f $row.Variant,
        ($row.AddedPeakBytes / 1MB), ($row.MedianAddedPeakBytes / 1MB), $(if ($highest -le $memoryLimit) { 'met' } else { 'NOT met' })
    if ($small) { $text += ('; small database {0:N0} MB at most (median {1:N0} MB)' -f ($small.AddedPeakBytes / 1MB), ($small.MedianAddedPeakBytes / 1MB)) }
    $lines.Add('')
    $lines.Add($text)
}
if ($CompareModule) {
    $lines.Add('')
    $lines.Add("Against the compare build ($CompareModule), median of the per-round ratios:")
    foreach ($row in $result.Big.Summary) {
        if ($row.PSObject.Properties['VsRoundCompare']) {
            $old = $result.Big.Summary | Where-Object Variant -eq "$($row.Variant).Compare"
            $lines.Add(('  {0}: time {1:N2}x, CPU of the PowerShell process {2:N2}x; memory added {3:N0} MB at most (compare build {4:N0} MB)' -f $row.Variant,
                    $row.VsRoundCompare, $row.CpuVsCompare, ($row.AddedPeakBytes / 1MB), ($old.AddedPeakBytes / 1MB)))
        }
    }
    # The compare build's own ratios to its own Default, round by round, beside this build's.
    if ('Default.Compare' -in $names) {
        foreach ($name in @($names | Where-Object { $_ -notlike '*.Compare' -and $_ -ne 'Default' -and "$_.Compare" -in $names })) {
            $perRound = @(foreach ($r in @($result.Big.Runs | Where-Object Variant -eq "$name.Compare")) {
                    $base = $result.Big.Runs | Where-Object { $_.Variant -eq 'Default.Compare' -and $_.Round -eq $r.Round }
                    $r.Seconds / $base.Seconds })
            $row = $result.Big.Summary | Where-Object Variant -eq $name
            $lines.Add(('  {0} vs Default: {1:N2}x with this build, {2:N2}x with the compare build' -f $name, $row.VsRoundDefault, (Get-Median $perRound)))
        }
    }
}
if ($result.Small) {
    $lines.Add('')
    $lines.Add(('Memory a backup adds to the PowerShell process (peak during the call over the idle process, highest of the runs) by database size: scale {0} ({1:N0} MB) and scale {2} ({3:N0} MB)' -f `
                $SmallScale, ($result.Small.DatabaseBytes / 1MB), $Scale, ($result.Big.DatabaseBytes / 1MB)))
    $lines.Add('')
    $lines.Add('| Variant | Small database | Big database | Growth |')
    $lines.Add('|---|---:|---:|---:|')
    foreach ($row in $result.Small.Summary) {
        $big = $result.Big.Summary | Where-Object Variant -eq $row.Variant
        $lines.Add(('| {0} | {1:N0} MB | {2:N0} MB | {3:+0;-0;0} MB |' -f $row.Label, ($row.AddedPeakBytes / 1MB), ($big.AddedPeakBytes / 1MB), (($big.AddedPeakBytes - $row.AddedPeakBytes) / 1MB)))
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
