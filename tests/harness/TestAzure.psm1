# A throw-away Azure Blob Storage for PgBackup's tests and benchmarks: Azurite (Microsoft's emulator, from npm), blob
# service only, on 127.0.0.1 and a free port, its data in memory (at most 1 GiB of blob content; writing to disk made
# the 5,000-blob listing test four times slower). Start-TestAzurite returns what a client
# needs (endpoint, account, key, connection string); Stop-TestAzurite stops the node process by its id and removes the
# folder. A client for the tests: the Azure SDK from the built module's net8.0 folder, loaded into this process.

Set-StrictMode -Version Latest

$script:AzuriteVersion = '3.37.0'
# The emulator's well-known development account and key (documented by Microsoft; not a secret).
$script:DevAccount = 'devstoreaccount1'
$script:DevKey = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

function Get-AzuritePath {
    # Installs azurite@3.37.0 from npm into output/azurite once (a few seconds from npm's cache); returns main.js.
    $root = Join-Path (Split-Path (Split-Path $PSScriptRoot)) 'output/azurite'
    $main = Join-Path $root 'node_modules/azurite/dist/src/blob/main.js'
    $package = Join-Path $root 'node_modules/azurite/package.json'
    if ((Test-Path $main) -and (Get-Content -Raw $package | ConvertFrom-Json).version -eq $script:AzuriteVersion) { return $main }
    if (-not (Get-Command node -ErrorAction SilentlyContinue) -or -not (Get-Command npm -ErrorAction SilentlyContinue)) {
        throw "The Azure tests need Node.js and npm (Debian packages nodejs npm) for Azurite."
    }
    New-Item -ItemType Directory -Force -Path $root | Out-Null
    Write-Host "Installing azurite@$($script:AzuriteVersion) from npm into $root"
    Push-Location $root
    try {
        $out = & npm install --no-save --no-audit --no-fund --prefer-offline --loglevel=error "azurite@$($script:AzuriteVersion)" 2>&1
        if ($LASTEXITCODE -ne 0) { throw "npm install azurite@$($script:AzuriteVersion) failed: $($out | Select-Object -Last 5)" }
    }
    finally { Pop-Location }
    if (-not (Test-Path $main)) { throw "npm installed azurite, but $main is missing." }
    $main
}

function Get-AzuriteFreePort {
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start()
    try { $listener.LocalEndpoint.Port } finally { $listener.Stop() }
}

function Test-AzuritePort([int]$Port) {
    $client = [System.Net.Sockets.TcpClient]::new()
    try { $client.ConnectAsync('127.0.0.1', $Port).Wait(500) -and $client.Connected }
    catch { $false }
    finally { $client.Dispose() }
}

function Start-TestAzurite {
    <# Starts Azurite's blob service on 127.0.0.1 and a free port (about a second), in memory; Root holds nothing but its debug log. #>
    [CmdletBinding()]
    param([string]$Name = 'azurite')
    $main = Get-AzuritePath
    $root = Join-Path ([System.IO.Path]::GetTempPath()) ("pgbackup-$Name-" + [guid]::NewGuid().ToString('n').Substring(0, 8))
    New-Item -ItemType Directory -Force -Path $root | Out-Null
    $port = Get-AzuriteFreePort
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $start = [System.Diagnostics.ProcessStartInfo]::new('node')
    foreach ($a in @($main, '--blobHost', '127.0.0.1', '--blobPort', "$port", '--skipApiVersionCheck', '--loose', '--silent', '--inMemoryPersistence', '--extentMemoryLimit', '1024')) { $start.ArgumentList.Add($a) }
    $start.UseShellExecute = $false
    $start.RedirectStandardOutput = $true
    $start.RedirectStandardError = $true
    $process = [System.Diagnostics.Process]::Start($start)
    # Drain its output so that it never blocks on a full pipe.
    $process.BeginOutputReadLine(); $process.BeginErrorReadLine()
    $endpoint = "http://127.0.0.1:$port/$($script:DevAccount)"
    $server = [pscustomobject]@{
        PSTypeName       = 'PgBackup.TestAzurite'
        Root             = $root
        Port             = $port
        ProcessId        = $process.Id
        Account          = $script:DevAccount
        AccountKey       = $script:DevKey
        Endpoint         = $endpoint
        ConnectionString = "DefaultEndpointsProtocol=http;AccountName=$($script:DevAccount);AccountKey=$($script:DevKey);BlobEndpoint=$endpoint;"
    }
    $deadline = [DateTime]::UtcNow.AddSeconds(30)
    while (-not (Test-AzuritePort $port)) {
        if ($process.HasExited -or [DateTime]::UtcNow -gt $deadline) {
            Stop-TestAzurite -Server $server
            throw "Azurite did not start on port $port (exit code: $(if ($process.HasExited) { $process.ExitCode } else { 'still running' }))."
        }
        Start-Sleep -Milliseconds 100
    }
    $server | Add-Member -NotePropertyName StartSeconds -NotePropertyValue ([math]::Round($clock.Elapsed.TotalSeconds, 1))
    $server
}

function Stop-TestAzurite {
    <# Stops the Azurite process that Start-TestAzurite started (by its id) and removes its data folder. #>
    param([Parameter(Mandatory, ValueFromPipeline)]$Server)
    process {
        if (-not $Server) { return }
        $p = Get-Process -Id $Server.ProcessId -ErrorAction SilentlyContinue
        if ($p) { $p.Kill(); $null = $p.WaitForExit(10000) }
        Remove-Item -Recurse -Force $Server.Root -ErrorAction SilentlyContinue
    }
}

# ---- a client for tests ------------------------------------------------------------------------------------------

function Import-TestAzureSdk {
    if ('Azure.Storage.Blobs.BlobServiceClient' -as [type]) { return }
    $bin = Join-Path (Split-Path $env:PGBACKUP_TEST_MODULE) 'bin/net8.0'
    foreach ($dll in 'System.ClientModel', 'System.Memory.Data', 'Azure.Core', 'Azure.Storage.Common', 'Azure.Storage.Blobs') {
        Add-Type -Path (Join-Path $bin "$dll.dll")
    }
}

function Get-TestAzureContainer {
    # A container client for the test server (created when -Create is given), with the account's key.
    param([Parameter(Mandatory)]$Server, [Parameter(Mandatory)][string]$Name, [switch]$Create)
    Import-TestAzureSdk
    $service = [Azure.Storage.Blobs.BlobServiceClient]::new($Server.ConnectionString)
    $c = $service.GetBlobContainerClient($Name)
    if ($Create) { $null = $c.CreateIfNotExists() }
    $c
}

function New-TestContainer {
    # Creates a container with a unique name; returns its name.
    param([Parameter(Mandatory)]$Server, [string]$Prefix = 'pester')
    $name = "$Prefix-" + [guid]::NewGuid().ToString('n').Substring(0, 12)
    $null = Get-TestAzureContainer -Server $Server -Name $name -Create
    $name
}

function Get-TestBlobName {
    # Every committed blob's name in a container (under a prefix).
    param([Parameter(Mandatory)]$Server, [Parameter(Mandatory)][string]$Container, [string]$Prefix = '')
    $c = Get-TestAzureContainer -Server $Server -Name $Container
    @($c.GetBlobs([Azure.Storage.Blobs.Models.BlobTraits]::None, [Azure.Storage.Blobs.Models.BlobStates]::None, $Prefix, [System.Threading.CancellationToken]::None) | ForEach-Object Name)
}

function Write-TestBlob {
    # Writes blobs (text, bytes or a file) under the given names, many at a time (replacing what is there).
    param([Parameter(Mandatory)]$Server, [Parameter(Mandatory)][string]$Container, [Parameter(Mandatory)][string[]]$Name,
        [string]$Text = 'x', [byte[]]$Bytes, [string]$File)
    $c = Get-TestAzureContainer -Server $Server -Name $Container
    $data = if ($File) { [System.BinaryData]::FromBytes([System.IO.File]::ReadAllBytes($File)) }
    elseif ($null -ne $Bytes) { [System.BinaryData]::FromBytes($Bytes) }
    else { [System.BinaryData]::FromString($Text) }
    $pending = [System.Collections.Generic.List[System.Threading.Tasks.Task]]::new()
    foreach ($n in $Name) {
        $pending.Add($c.GetBlobClient($n).UploadAsync($data, $true))
        if ($pending.Count -ge 64) { [System.Threading.Tasks.Task]::WaitAll($pending.ToArray()); $pending.Clear() }
    }
    [System.Threading.Tasks.Task]::WaitAll($pending.ToArray())
}

function Read-TestBlob {
    # A blob's bytes.
    param([Parameter(Mandatory)]$Server, [Parameter(Mandatory)][string]$Container, [Parameter(Mandatory)][string]$Name)
    $c = Get-TestAzureContainer -Server $Server -Name $Container
    $c.GetBlobClient($Name).DownloadContent().Value.Content.ToArray()
}

function New-TestAzureSas {
    # A SAS token (without '?') for a container: read, add, create, write, delete, list, for an hour.
    param([Parameter(Mandatory)]$Server, [Parameter(Mandatory)][string]$Container, [string]$Permissions = 'racwdl')
    $c = Get-TestAzureContainer -Server $Server -Name $Container
    $builder = [Azure.Storage.Sas.BlobSasBuilder]::new()
    $builder.BlobContainerName = $Container
    $builder.Resource = 'c'
    $builder.ExpiresOn = [DateTimeOffset]::UtcNow.AddHours(1)
    $builder.SetPermissions($Permissions)
    $credential = [Azure.Storage.StorageSharedKeyCredential]::new($Server.Account, $Server.AccountKey)
    $builder.ToSasQueryParameters($credential).ToString()
}

Export-ModuleMember -Function Start-TestAzurite, Stop-TestAzurite, Get-AzuritePath, Import-TestAzureSdk, Get-TestAzureContainer, New-TestContainer, Get-TestBlobName, Write-TestBlob, Read-TestBlob, New-TestAzureSas
