# A throw-away S3 server for PgBackup's tests and benchmarks: Ceph's RADOS Gateway (Debian's radosgw) on a one-node
# cluster (one monitor, one OSD keeping its data in memory, no manager, no cephx authentication), on 127.0.0.1 only.
# Start-TestS3 returns what a client needs (endpoint, two users' keys); Stop-TestS3 stops the daemons by their pid files
# and removes the cluster's folder. Every port is a free one, so several clusters can run on one machine.

Set-StrictMode -Version Latest


function Test-TcpPortTaken([int]$Port) {
    # True when something listens on 127.0.0.1:$Port (or on every address), so that a daemon could not bind it.
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, $Port)
    try { $listener.Start(); $false }
    catch [System.Net.Sockets.SocketException] { $true }
    finally { try { $listener.Stop() } catch { } }
}

function Get-FreePort {
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start()
    try { $listener.LocalEndpoint.Port } finally { $listener.Stop() }
}

function Invoke-CephTool {
    # Runs a Ceph command-line tool; throws with its output (and the startup log's tail) when it fails.
    param([Parameter(Mandatory)][string]$FilePath, [string[]]$ArgumentList = @(), [string]$InputText, [Parameter(Mandatory)][string]$Root)
    $output = if ($PSBoundParameters.ContainsKey('InputText')) { $InputText | & $FilePath @ArgumentList 2>&1 } else { & $FilePath @ArgumentList 2>&1 }
    if ($LASTEXITCODE -ne 0) {
        $tail = @($output | Select-Object -Last 8) -join "`n"
        throw "$FilePath $($ArgumentList -join ' ') failed with exit code ${LASTEXITCODE}:`n$tail`nLogs: $Root/log"
    }
    $output
}

function New-CephConfig([string]$Root, [string]$Fsid, [int]$MonitorPort, [int]$GatewayPort) {
    # The cluster's ceph.conf. Each non-default setting is here for a reason given beside it.
    @"
[global]
fsid = $Fsid
mon_host = v2:127.0.0.1:$MonitorPort
public_addr = 127.0.0.1
# No cephx: nothing but this machine's loopback reaches the cluster.
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
# Without cephx every messenger must use crc mode; 'secure' (the default for some) makes radosgw retry for ever
# with 'get_initial_auth_request returned -13'.
ms_mon_client_mode = crc
ms_client_mode = crc
ms_mon_cluster_mode = crc
ms_mon_service_mode = crc
ms_cluster_mode = crc
ms_service_mode = crc
keyring = /dev/null
# One OSD: pools of one replica, small placement-group counts, no autoscaler.
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_allow_pool_delete = true
# The monitor shuts itself down when its disk has less free space than this percentage (default 5).
mon_data_avail_crit = 1
mon_data_avail_warn = 2
# Map changes are proposed at once instead of after a second: cluster start-up takes about 2 s instead of 15.
paxos_propose_interval = 0.05
paxos_min_wait = 0.01
# The OSD keeps objects in memory (tests write well under 1 GB).
osd_objectstore = memstore
memstore_device_bytes = 2147483648
osd_memory_target = 939524096
osd_max_object_name_len = 256
osd_max_object_namespace_len = 64
run_dir = $Root/run
admin_socket = $Root/run/`$name.asok
pid_file = $Root/run/`$name.pid
log_file = $Root/log/`$name.log
mon_data = $Root/mon/`$cluster-`$id
osd_data = $Root/osd/`$cluster-`$id
[client]
rgw_frontends = beast endpoint=127.0.0.1:$GatewayPort
rgw_data = $Root/rgw
rgw_enable_usage_log = false
rgw_enable_ops_log = false
rgw_thread_pool_size = 64
"@
}

function Wait-Until([scriptblock]$Condition, [double]$TimeoutSeconds, [string]$What) {
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ([DateTime]::UtcNow -lt $deadline) {
        if (& $Condition) { return }
        Start-Sleep -Milliseconds 200
    }
    throw "Timed out after $TimeoutSeconds s waiting for $What."
}

function Test-HttpAnswers([int]$Port) {
    $client = [System.Net.Http.HttpClient]::new()
    $client.Timeout = [TimeSpan]::FromSeconds(1)
    try { $null = $client.GetAsync("http://127.0.0.1:$Port/").GetAwaiter().GetResult(); $true }
    catch { $false }
    finally { $client.Dispose() }
}

function Start-TestS3 {
    <#
    Starts a throw-away Ceph cluster with an S3 gateway on 127.0.0.1 and a free port (about 2-3 s). Two S3 users:
    'pgbackup' (the tests' own) and 'stranger' (owns nothing: for access-denied tests). Buckets are created by the
    tests. The monitor takes a free port too, so several clusters (test runs in other worktrees, the benchmark) can run side by side.
    #>
    [CmdletBinding()]
    param([string]$Name = 's3')
    foreach ($tool in 'ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'monmaptool', 'ceph') {
        if (-not (Get-Command $tool -ErrorAction SilentlyContinue)) {
            throw "The S3 test server needs $tool (Debian packages ceph-mon ceph-osd radosgw): Install-TestPrerequisites -S3"
        }
    }
    $root = Join-Path ([System.IO.Path]::GetTempPath()) ("pgbackup-$Name-" + [guid]::NewGuid().ToString('n').Substring(0, 8))
    foreach ($d in 'mon/ceph-a', 'osd', 'run', 'log', 'rgw') { New-Item -ItemType Directory -Force -Path (Join-Path $root $d) | Out-Null }
    $conf = Join-Path $root 'ceph.conf'
    $gatewayPort = Get-FreePort
    $monitorPort = Get-FreePort
    $fsid = [guid]::NewGuid().ToString()
    Set-Content -Path $conf -Value (New-CephConfig -Root $root -Fsid $fsid -MonitorPort $monitorPort -GatewayPort $gatewayPort)
    # As root, Debian's daemons drop to the 'ceph' user, which could not write this folder: keep root.
    $identity = if ((& id -u) -eq '0') { @('--setuser', 'root', '--setgroup', 'root') } else { @() }
    $server = [pscustomobject]@{
        PSTypeName      = 'PgBackup.TestS3'
        Name            = $Name
        Root            = $root
        Config          = $conf
        Port            = $gatewayPort
        Endpoint        = "http://127.0.0.1:$gatewayPort"
        Region          = 'us-east-1'
        AccessKey       = 'PGBACKUPTESTKEY' + [guid]::NewGuid().ToString('n').Substring(0, 8).ToUpperInvariant()
        SecretKey       = 'secret-' + [guid]::NewGuid().ToString('n')
        OtherAccessKey  = 'STRANGERKEY' + [guid]::NewGuid().ToString('n').Substring(0, 8).ToUpperInvariant()
        OtherSecretKey  = 'secret-' + [guid]::NewGuid().ToString('n')
        OtherUser       = 'stranger'
        User            = 'pgbackup'
    }
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $common = @('-c', $conf)
    try {
        $phase = { param($what) Write-Verbose ("[{0:n1} s] {1}" -f $clock.Elapsed.TotalSeconds, $what) }
        & $phase 'monitor'
        $monmap = Join-Path $root 'monmap'
        Invoke-CephTool monmaptool -Root $root -ArgumentList @('--create', '--fsid', $fsid, '--addv', 'a', "[v2:127.0.0.1:$monitorPort]", $monmap) | Out-Null
        Invoke-CephTool ceph-mon -Root $root -ArgumentList ($common + @('--mkfs', '-i', 'a', '--monmap', $monmap) + $identity) | Out-Null
        Invoke-CephTool ceph-mon -Root $root -ArgumentList ($common + @('-i', 'a') + $identity) | Out-Null

        & $phase 'osd new'
        $osdUuid = [guid]::NewGuid().ToString()
        $osdId = "$(Invoke-CephTool ceph -Root $root -ArgumentList ($common + @('--connect-timeout', '30', 'osd', 'new', $osdUuid)))".Trim()
        New-Item -ItemType Directory -Force -Path (Join-Path $root "osd/ceph-$osdId") | Out-Null
        Invoke-CephTool ceph-osd -Root $root -ArgumentList ($common + @('-i', $osdId, '--mkfs', '--osd-uuid', $osdUuid) + $identity) | Out-Null
        Invoke-CephTool ceph-osd -Root $root -ArgumentList ($common + @('-i', $osdId) + $identity) | Out-Null
        & $phase 'wait for the osd'
        Wait-Until -TimeoutSeconds 60 -What 'the OSD to come up' -Condition {
            $stat = & ceph @common --connect-timeout 10 osd stat 2>$null
            $LASTEXITCODE -eq 0 -and "$stat" -match '\b[1-9]\d* up\b'
        }

        # The gateway creates its pools lazily (seconds each on first use); create them all now, through one ceph
        # process reading its commands from stdin (every ceph process costs almost half a second of start-up).
        $pools = '.rgw.root', 'default.rgw.control', 'default.rgw.meta', 'default.rgw.log', 'default.rgw.buckets.index',
            'default.rgw.buckets.data', 'default.rgw.buckets.non-ec'
        $commands = ($pools | ForEach-Object { "osd pool create $_ 8 8"; "osd pool application enable $_ rgw" }) -join "`n"
        & $phase 'pools'
        Invoke-CephTool ceph -Root $root -ArgumentList ($common + @('--connect-timeout', '30')) -InputText $commands | Out-Null
        & $phase 'users'

        Invoke-CephTool radosgw-admin -Root $root -ArgumentList ($common + @('user', 'create', "--uid=$($server.User)", '--display-name=PgBackup tests',
                "--access-key=$($server.AccessKey)", "--secret-key=$($server.SecretKey)")) | Out-Null
        Invoke-CephTool radosgw-admin -Root $root -ArgumentList ($common + @('user', 'create', "--uid=$($server.OtherUser)", '--display-name=Owns nothing',
                "--access-key=$($server.OtherAccessKey)", "--secret-key=$($server.OtherSecretKey)")) | Out-Null

        & $phase 'gateway'
        Invoke-CephTool radosgw -Root $root -ArgumentList ($common + @('-n', 'client.rgw.a') + $identity) | Out-Null
        Wait-Until -TimeoutSeconds 60 -What "the S3 gateway on port $gatewayPort" -Condition { Test-HttpAnswers $gatewayPort }
    }
    catch {
        Stop-TestS3 -Server $server -KeepFiles
        throw
    }
    $server | Add-Member -NotePropertyName StartSeconds -NotePropertyValue ([math]::Round($clock.Elapsed.TotalSeconds, 1))
    $server
}

function Stop-TestS3Daemon {
    # Stops one daemon by its pid file: SIGTERM, up to 10 s, then SIGKILL.
    param([Parameter(Mandatory)][string]$PidFile)
    if (-not (Test-Path $PidFile)) { return }
    $daemonPid = [int]((Get-Content -Raw $PidFile).Trim())
    $process = Get-Process -Id $daemonPid -ErrorAction SilentlyContinue
    if (-not $process) { return }
    & kill -TERM $daemonPid 2>$null
    if (-not $process.WaitForExit(10000)) { & kill -KILL $daemonPid 2>$null; $null = $process.WaitForExit(5000) }
}

function Stop-TestS3 {
    <# Stops the gateway, the OSD and the monitor (by their pid files) and removes the cluster's folder. #>
    param([Parameter(Mandatory, ValueFromPipeline)]$Server, [switch]$KeepFiles)
    process {
        if (-not $Server) { return }
        foreach ($daemon in 'client.rgw.a', 'osd.0', 'mon.a') {
            try { Stop-TestS3Daemon -PidFile (Join-Path $Server.Root "run/$daemon.pid") }
            catch { Write-Warning "Stopping $daemon of the test S3 server: $_" }
        }
        if (-not $KeepFiles) { Remove-Item -Recurse -Force $Server.Root -ErrorAction SilentlyContinue }
    }
}

function Stop-TestS3Gateway {
    <# Stops only the gateway (the cluster keeps running); Start-TestS3Gateway starts it again on the same port. #>
    param([Parameter(Mandatory)]$Server)
    Stop-TestS3Daemon -PidFile (Join-Path $Server.Root 'run/client.rgw.a.pid')
}

function Start-TestS3Gateway {
    param([Parameter(Mandatory)]$Server)
    $identity = if ((& id -u) -eq '0') { @('--setuser', 'root', '--setgroup', 'root') } else { @() }
    Invoke-CephTool radosgw -Root $Server.Root -ArgumentList (@('-c', $Server.Config, '-n', 'client.rgw.a') + $identity) | Out-Null
    Wait-Until -TimeoutSeconds 60 -What "the S3 gateway on port $($Server.Port)" -Condition { Test-HttpAnswers $Server.Port }
}

# ---- a client for tests: the AWS SDK from the built module's net8.0 folder, loaded into this process's default
# context (the module keeps its own copy in its own context) -------------------------------------------------------

function Import-TestS3Sdk {
    if ('Amazon.S3.AmazonS3Client' -as [type]) { return }
    $bin = Join-Path (Split-Path $env:PGBACKUP_TEST_MODULE) 'bin/net8.0'
    Add-Type -Path (Join-Path $bin 'AWSSDK.Core.dll')
    Add-Type -Path (Join-Path $bin 'AWSSDK.S3.dll')
}

function Get-TestS3Client {
    # An S3 client for the test server (as its owner, or as the user who owns nothing).
    param([Parameter(Mandatory)]$Server, [switch]$AsStranger)
    Import-TestS3Sdk
    $config = [Amazon.S3.AmazonS3Config]::new()
    $config.ServiceURL = $Server.Endpoint
    $config.ForcePathStyle = $true
    $config.AuthenticationRegion = $Server.Region
    $config.RequestChecksumCalculation = [Amazon.Runtime.RequestChecksumCalculation]::WHEN_REQUIRED
    $config.ResponseChecksumValidation = [Amazon.Runtime.ResponseChecksumValidation]::WHEN_REQUIRED
    $key, $secret = if ($AsStranger) { $Server.OtherAccessKey, $Server.OtherSecretKey } else { $Server.AccessKey, $Server.SecretKey }
    [Amazon.S3.AmazonS3Client]::new([Amazon.Runtime.BasicAWSCredentials]::new($key, $secret), $config)
}

function Wait-Task($Task) { $Task.GetAwaiter().GetResult() }

function New-TestBucket {
    # Creates a bucket with a unique name; returns its name.
    param([Parameter(Mandatory)]$Server, [string]$Prefix = 'pester')
    $name = "$Prefix-" + [guid]::NewGuid().ToString('n').Substring(0, 12)
    $c = Get-TestS3Client -Server $Server
    try { $null = Wait-Task ($c.PutBucketAsync([Amazon.S3.Model.PutBucketRequest]@{ BucketName = $name })) } finally { $c.Dispose() }
    $name
}

function Get-TestS3Key {
    # Every key in a bucket (under a prefix), all pages.
    param([Parameter(Mandatory)]$Server, [Parameter(Mandatory)][string]$Bucket, [string]$Prefix = '')
    $c = Get-TestS3Client -Server $Server
    try {
        $token = $null
        do {
            $page = Wait-Task ($c.ListObjectsV2Async([Amazon.S3.Model.ListObjectsV2Request]@{ BucketName = $Bucket; Prefix = $Prefix; ContinuationToken = $token }))
            if ($page.S3Objects) { $page.S3Objects | ForEach-Object Key }
            $token = if ($page.IsTruncated) { $page.NextContinuationToken } else { $null }
        } while ($token)
    }
    finally { $c.Dispose() }
}

function Get-TestS3Upload {
    # The keys of unfinished multipart uploads in a bucket.
    param([Parameter(Mandatory)]$Server, [Parameter(Mandatory)][string]$Bucket)
    $c = Get-TestS3Client -Server $Server
    try {
        $r = Wait-Task ($c.ListMultipartUploadsAsync([Amazon.S3.Model.ListMultipartUploadsRequest]@{ BucketName = $Bucket }))
        if ($r.MultipartUploads) { $r.MultipartUploads | ForEach-Object Key }
    }
    finally { $c.Dispose() }
}

function Get-TestS3Object {
    # An object's bytes, ETag and size.
    param([Parameter(Mandatory)]$Server, [Parameter(Mandatory)][string]$Bucket, [Parameter(Mandatory)][string]$Key)
    $c = Get-TestS3Client -Server $Server
    try {
        $r = Wait-Task ($c.GetObjectAsync($Bucket, $Key))
        $ms = [System.IO.MemoryStream]::new()
        $r.ResponseStream.CopyTo($ms)
        $r.Dispose()
        [pscustomobject]@{ Bytes = $ms.ToArray(); ETag = $r.ETag; Size = $r.ContentLength; Sha256 = ([System.Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData($ms.ToArray()))).ToLowerInvariant() }
    }
    finally { $c.Dispose() }
}

function Write-TestS3Object {
    # Puts objects (bytes, text or a file) under the given keys, several at a time.
    param([Parameter(Mandatory)]$Server, [Parameter(Mandatory)][string]$Bucket, [Parameter(Mandatory)][string[]]$Key,
        [byte[]]$Bytes, [string]$Text = 'x', [string]$File)
    $c = Get-TestS3Client -Server $Server
    try {
        $pending = [System.Collections.Generic.List[System.Threading.Tasks.Task]]::new()
        foreach ($k in $Key) {
            $request = [Amazon.S3.Model.PutObjectRequest]@{ BucketName = $Bucket; Key = $k }
            if ($File) { $request.FilePath = $File }
            elseif ($null -ne $Bytes) { $request.InputStream = [System.IO.MemoryStream]::new($Bytes) }
            else { $request.ContentBody = $Text }
            $pending.Add($c.PutObjectAsync($request))
            if ($pending.Count -ge 32) { [System.Threading.Tasks.Task]::WaitAll($pending.ToArray()); $pending.Clear() }
        }
        [System.Threading.Tasks.Task]::WaitAll($pending.ToArray())
    }
    finally { $c.Dispose() }
}

function Set-TestS3BucketPolicy {
    # Lets the user who owns nothing list and read a bucket (but not write to it).
    param([Parameter(Mandatory)]$Server, [Parameter(Mandatory)][string]$Bucket)
    $policy = @{
        Version   = '2012-10-17'
        Statement = @(@{
                Effect    = 'Allow'
                Principal = @{ AWS = @("arn:aws:iam:::user/$($Server.OtherUser)") }
                Action    = @('s3:ListBucket', 's3:GetObject')
                Resource  = @("arn:aws:s3:::$Bucket", "arn:aws:s3:::$Bucket/*")
            })
    } | ConvertTo-Json -Depth 6
    $c = Get-TestS3Client -Server $Server
    try { $null = Wait-Task ($c.PutBucketPolicyAsync([Amazon.S3.Model.PutBucketPolicyRequest]@{ BucketName = $Bucket; Policy = $policy })) } finally { $c.Dispose() }
}

Export-ModuleMember -Function Start-TestS3, Stop-TestS3, Stop-TestS3Gateway, Start-TestS3Gateway, Test-TcpPortTaken,
    Get-TestS3Client, New-TestBucket, Get-TestS3Key, Get-TestS3Upload, Get-TestS3Object, Write-TestS3Object, Set-TestS3BucketPolicy
