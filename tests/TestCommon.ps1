# Dot-sourced by every *.Tests.ps1 in BeforeAll: imports the built module (the build named by
# $env:PGBACKUP_TEST_FRAMEWORK, which Invoke-PesterSuite.ps1 sets, passed as the module's argument) and the test
# harness, and describes the servers that build.ps1 started.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
if (-not $env:PGBACKUP_TEST_MODULE) { throw 'Run the tests with: dotnet pwsh ./build.ps1 -Task Test' }
Import-Module $env:PGBACKUP_TEST_MODULE -ArgumentList $env:PGBACKUP_TEST_FRAMEWORK -Force

function Get-TestModuleImport {
    # The line that imports the build under test, for scripts that run in another process or runspace.
    "Import-Module '$($env:PGBACKUP_TEST_MODULE)' -ArgumentList '$($env:PGBACKUP_TEST_FRAMEWORK)'"
}
Import-Module (Join-Path $PSScriptRoot 'harness/TestServers.psm1') -Force
Import-Module (Join-Path $PSScriptRoot 'harness/TestS3.psm1') -Force
$script:Servers = $env:PGBACKUP_TEST_SERVERS | ConvertFrom-Json
# The S3 server build.ps1 started, and the parameters that reach it as its owner.
$script:S3 = if ($env:PGBACKUP_TEST_S3) { $env:PGBACKUP_TEST_S3 | ConvertFrom-Json } else { $null }
$script:S3Params = if ($S3) {
    @{ S3Credential = [pscredential]::new($S3.AccessKey, (ConvertTo-SecureString $S3.SecretKey -AsPlainText -Force)); EndpointUrl = $S3.Endpoint }
} else { @{} }
# The Azurite build.ps1 started, and the parameters that reach it with the account's key.
Import-Module (Join-Path $PSScriptRoot 'harness/TestAzure.psm1') -Force
$script:Azure = if ($env:PGBACKUP_TEST_AZURE) { $env:PGBACKUP_TEST_AZURE | ConvertFrom-Json } else { $null }
$script:AzureParams = if ($Azure) {
    @{ AzureAccountKey = (ConvertTo-SecureString $Azure.AccountKey -AsPlainText -Force); AzureEndpointUrl = $Azure.Endpoint }
} else { @{} }
$script:Main = $Servers.Main
$script:RepoRoot = Split-Path $PSScriptRoot
$script:SampleSql = Join-Path $PSScriptRoot 'fixtures/sample.sql'

function New-TestFolder {
    # A new empty folder under the temp folder; removed by Remove-TestFolder.
    $path = Join-Path ([System.IO.Path]::GetTempPath()) ('pgbackup-t-' + [guid]::NewGuid().ToString('n').Substring(0, 10))
    New-Item -ItemType Directory -Path $path | Out-Null
    $path
}

function Remove-TestFolder([string]$Path) {
    if ($Path -and (Test-Path $Path)) { Remove-Item -Recurse -Force $Path -ErrorAction SilentlyContinue }
}

function New-TestDatabaseName([string]$Prefix = 'db') {
    "${Prefix}_" + [guid]::NewGuid().ToString('n').Substring(0, 8)
}

function Get-DatabaseFingerprint {
    <#
    What must survive a backup and restore: the schema as pg_dump --schema-only prints it (without its header and
    the \restrict keys, which differ on every run) and, per table, the row count and a hash of all rows.
    #>
    param([Parameter(Mandatory)]$Server, [Parameter(Mandatory)][string]$Database, [switch]$Catalog)
    if ($Catalog -or $Server.Major -gt 15) {
        # Servers newer than the pg_dump here: the schema as the catalog describes it (Get-CatalogSchema).
        $schema = Get-CatalogSchema -Server $Server -Database $Database
    }
    else {
        $pgDump = Join-Path (Get-InstalledPostgresBin) 'pg_dump'
        $env:PGPASSWORD = $Server.Password
        try {
            $schema = & $pgDump --schema-only --no-password -h 127.0.0.1 -p $Server.Port -U $Server.User -d $Database 2>&1
            if ($LASTEXITCODE -ne 0) { throw "pg_dump --schema-only failed: $schema" }
        }
        finally { Remove-Item Env:PGPASSWORD -ErrorAction SilentlyContinue }
        $schema = ($schema | Where-Object { $_ -notmatch '^\\(un)?restrict ' -and $_ -notmatch '^-- Dumped (from|by)' }) -join "`n"
    }
    # One query (one psql process) for every table's row count and data hash, the large objects and the sequences.
    $lines = Invoke-TestPsql -Server $Server -Database $Database -Sql @"
SELECT 'T ' || format('%I.%I', n.nspname, c.relname) || ' ' ||
       (xpath('/row/v/text()', query_to_xml(format(
           'SELECT count(*) || '':'' || coalesce(md5(string_agg(x::text, E''\n'' ORDER BY x::text)), '''') AS v FROM %I.%I x', n.nspname, c.relname),
           false, true, '')))[1]::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE (c.relkind = 'r' OR c.relkind = 'm' AND c.relispopulated) AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
UNION ALL SELECT 'L ' || coalesce(string_agg(md5(lo_get(oid)), ',' ORDER BY oid), '') FROM pg_largeobject_metadata
UNION ALL SELECT 'S ' || coalesce(string_agg(format('%I.%I=%s', schemaname, sequencename, coalesce(last_value::text, 'null')), ',' ORDER BY schemaname, sequencename), '') FROM pg_sequences
ORDER BY 1;
"@
    $data = [ordered]@{}
    $lobs = ''; $sequences = ''
    foreach ($line in $lines) {
        if ($line -match '^T (.+) (\d+:[0-9a-f]*)$') { $data[$Matches[1]] = $Matches[2] }
        elseif ($line -like 'L *') { $lobs = $line.Substring(2) }
        elseif ($line -like 'S *') { $sequences = $line.Substring(2) }
    }
    [pscustomobject]@{ Schema = $schema; Data = $data; LargeObjects = $lobs; Sequences = $sequences }
}

function Get-CatalogSchema {
    <#
    A database's schema as its catalog describes it, with SQL only (works on any server version, where pg_dump here
    cannot): one sorted line per fact about every object kind the native engine writes, definitions from the server's
    pg_get_*def functions, with owners, ACLs, comments and security labels (tests/fixtures/catalog-schema.sql).
    #>
    param([Parameter(Mandatory)]$Server, [Parameter(Mandatory)][string]$Database)
    (Invoke-TestPsql -Server $Server -Database $Database -Sql (Get-Content -Raw (Join-Path $PSScriptRoot 'fixtures/catalog-schema.sql'))) -join "`n"
}

function Restore-WithStockTools {
    # Restores a backup made by New-PgBackup into a new database using only gunzip/zstd, psql and pg_restore.
    param([Parameter(Mandatory)]$Server, [Parameter(Mandatory)]$Backup, [Parameter(Mandatory)][string]$Database)
    New-TestDatabase -Server $Server -Name $Database
    $bin = Get-InstalledPostgresBin
    $conn = @('-h', '127.0.0.1', '-p', $Server.Port, '-U', $Server.User, '-d', $Database)
    $env:PGPASSWORD = $Server.Password
    try {
        $cmd = switch ($Backup.Format) {
            'Plain' {
                $decompress = switch ($Backup.Compression) { 'Gzip' { "gzip -dc" } 'Zstd' { "zstd -dcq" } default { "cat" } }
                "$decompress '$($Backup.Path)' | '$bin/psql' -X -q -v ON_ERROR_STOP=1 $($conn -join ' ') >/dev/null"
            }
            default { "'$bin/pg_restore' --exit-on-error -j 2 $($conn -join ' ') '$($Backup.Path)'" }
        }
        $out = & bash -c "set -o pipefail; $cmd" 2>&1
        if ($LASTEXITCODE -ne 0) { throw "Restoring $($Backup.Path) with the stock tools failed: $out" }
    }
    finally { Remove-Item Env:PGPASSWORD -ErrorAction SilentlyContinue }
}

function Get-DatabaseNames {
    # The databases on a test server.
    param([Parameter(Mandatory)]$Server)
    @(Invoke-TestPsql -Server $Server -Sql 'SELECT datname FROM pg_database ORDER BY 1;')
}

function Assert-SameDatabase {
    # Fails unless two fingerprints (Get-DatabaseFingerprint) are equal.
    param($Expected, $Actual)
    $Actual.Schema | Should -Be $Expected.Schema
    ($Actual.Data | ConvertTo-Json) | Should -Be ($Expected.Data | ConvertTo-Json)
    $Actual.LargeObjects | Should -Be $Expected.LargeObjects
    $Actual.Sequences | Should -Be $Expected.Sequences
}

function Start-IdleSession {
    # An idle session on a database (psql waiting in pg_sleep); stop it with Stop-TableLock.
    param([Parameter(Mandatory)]$Server, [Parameter(Mandatory)][string]$Database, [string]$Name = 'pgbackup-test-lock')
    $psi = [System.Diagnostics.ProcessStartInfo]::new((Get-PsqlPath))
    foreach ($a in @('-X', '-q', '-h', '127.0.0.1', '-p', "$($Server.Port)", '-U', $Server.User, '-d', $Database, '-c', 'SELECT pg_sleep(120);')) { $psi.ArgumentList.Add($a) }
    $psi.Environment['PGPASSWORD'] = $Server.Password
    $psi.Environment['PGAPPNAME'] = $Name
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $p = [System.Diagnostics.Process]::Start($psi)
    $p | Add-Member -NotePropertyName Server -NotePropertyValue $Server
    for ($i = 0; $i -lt 100; $i++) {
        $n = Invoke-TestPsql -Server $Server -Sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$Name' AND datname = '$Database';"
        if ([int]($n | Select-Object -Last 1) -gt 0) { return $p }
        Start-Sleep -Milliseconds 100
    }
    throw "The idle session on $Database did not start."
}

function Invoke-ChildPwsh([string]$Script) {
    # Runs a script in a fresh PowerShell process of the same version (which imports the module with
    # Get-TestModuleImport); returns its output as one string.
    $file = Join-Path ([System.IO.Path]::GetTempPath()) ("pgbackup-child-" + [guid]::NewGuid().ToString('n') + '.ps1')
    Set-Content -Path $file -Value $Script
    try {
        $pwshDll = Join-Path $PSHOME 'pwsh.dll'
        $out = if (Test-Path $pwshDll) { & ([Environment]::ProcessPath) $pwshDll -NoProfile -NonInteractive -File $file 2>&1 }
        else { & ([Environment]::ProcessPath) -NoProfile -NonInteractive -File $file 2>&1 }
        ($out | Out-String)
    }
    finally { Remove-Item $file }
}

function Get-BackupLikeFiles([string]$Folder) {
    # Every file or folder whose name looks like a backup, a manifest or a partial.
    @(Get-ChildItem -Path $Folder -Force -ErrorAction SilentlyContinue | Where-Object Name -like 'backup_*')
}

function Start-TableLock {
    <#
    Holds an ACCESS EXCLUSIVE lock on a table from another session, so that pg_dump (which locks every table it dumps
    before it writes anything) waits: a dump that is reliably still running while a test looks at it.
    #>
    param([Parameter(Mandatory)]$Server, [Parameter(Mandatory)][string]$Database, [Parameter(Mandatory)][string]$Table)
    $psi = [System.Diagnostics.ProcessStartInfo]::new((Get-PsqlPath))
    foreach ($a in @('-X', '-q', '-h', '127.0.0.1', '-p', "$($Server.Port)", '-U', $Server.User, '-d', $Database,
            '-c', "BEGIN; LOCK TABLE $Table IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);")) { $psi.ArgumentList.Add($a) }
    $psi.Environment['PGPASSWORD'] = $Server.Password
    $psi.Environment['PGAPPNAME'] = 'pgbackup-test-lock'
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $p = [System.Diagnostics.Process]::Start($psi)
    $p | Add-Member -NotePropertyName Server -NotePropertyValue $Server
    # Wait until the lock is held.
    for ($i = 0; $i -lt 100; $i++) {
        $held = Invoke-TestPsql -Server $Server -Database $Database -Sql "SELECT count(*) FROM pg_locks WHERE relation = '$Table'::regclass AND mode = 'AccessExclusiveLock' AND granted;"
        if ([int]($held | Select-Object -Last 1) -gt 0) { return $p }
        Start-Sleep -Milliseconds 100
    }
    Stop-TableLock $p
    throw "Could not lock $Table."
}

function Stop-TableLock($Process) {
    if (-not $Process) { return }
    if (-not $Process.HasExited) { $Process.Kill(); $Process.WaitForExit() }
    # pg_sleep does not notice that its client is gone: end the session, which releases the lock.
    Invoke-TestPsql -Server $Process.Server -Sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgbackup-test-lock';" | Out-Null
}

function Wait-PgDumpWaiting {
    # Waits until a pg_dump session on the database waits for a lock; returns the pg_dump process ids on this machine.
    param([Parameter(Mandatory)]$Server, [Parameter(Mandatory)][string]$Database, [int]$TimeoutSeconds = 30)
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ([DateTime]::UtcNow -lt $deadline) {
        $n = Invoke-TestPsql -Server $Server -Sql "SELECT count(*) FROM pg_stat_activity WHERE datname = '$Database' AND application_name = 'pg_dump' AND wait_event_type = 'Lock';"
        if ([int]($n | Select-Object -Last 1) -gt 0) { return }
        Start-Sleep -Milliseconds 100
    }
    throw "pg_dump did not start waiting on $Database."
}

function Get-PgDumpProcess([string]$Database) {
    # pg_dump processes on this machine whose command line names the database.
    @(Get-ChildItem /proc -Directory -ErrorAction SilentlyContinue | Where-Object Name -match '^\d+$' | ForEach-Object {
            $cmd = try { [System.IO.File]::ReadAllText("/proc/$($_.Name)/cmdline") } catch { '' }
            if ($cmd -match '(^|/)pg_dump\x00' -and $cmd -like "*$Database*") { [int]$_.Name }
        })
}

function Start-AsyncPipeline {
    # Runs a script in a new runspace of this process (with the module imported); returns the PowerShell instance.
    param([Parameter(Mandatory)][scriptblock]$Script, [object[]]$Arguments = @())
    $iss = [System.Management.Automation.Runspaces.InitialSessionState]::CreateDefault2()
    $ps = [powershell]::Create($iss)
    # One script, not a batch (AddStatement): a batch stopped and then disposed can append to its closed error stream
    # from a pool thread, which ends the process.
    $null = $ps.AddScript("$(Get-TestModuleImport)`n& {`n$Script`n} @args")
    foreach ($a in $Arguments) { $null = $ps.AddArgument($a) }
    $handle = $ps.BeginInvoke()
    [pscustomobject]@{ PowerShell = $ps; Handle = $handle }
}

function Stop-AsyncPipeline($Job) {
    if (-not $Job) { return }
    try { $Job.PowerShell.Stop() } catch { }
    $Job.PowerShell.Dispose()
}

function Lock-TestPath {
    <#
    Makes a backup's data impossible to delete, so that a removal fails the way it does in the field (a file held by
    another owner, a read-only share). As root, permissions do not stop a deletion, so the file is made immutable
    (chattr +i); otherwise its folder is made read-only. Returns what Unlock-TestPath needs to undo it.
    #>
    param([Parameter(Mandatory)][string]$Path)
    if ((& id -u) -eq '0') {
        $out = & chattr +i $Path 2>&1
        if ($LASTEXITCODE -ne 0) { throw "chattr +i $Path failed (is the file system ext4, xfs or btrfs?): $out" }
        [pscustomobject]@{ Kind = 'Immutable'; Path = $Path }
    }
    else {
        $folder = Split-Path $Path
        & chmod a-w $folder
        if ($LASTEXITCODE -ne 0) { throw "chmod a-w $folder failed." }
        [pscustomobject]@{ Kind = 'ReadOnlyFolder'; Path = $folder }
    }
}

function Unlock-TestPath($Lock) {
    if (-not $Lock) { return }
    if ($Lock.Kind -eq 'Immutable') { & chattr -i $Lock.Path 2>&1 | Out-Null } else { & chmod u+w $Lock.Path }
}

function Set-ManifestTime {
    # Moves a backup made by New-PgBackup to another time, by rewriting its manifest's start and end time.
    param([Parameter(Mandatory)][string]$Path, [Parameter(Mandatory)][datetime]$Time)
    $m = Get-Content -Raw "$Path.json" | ConvertFrom-Json
    $m.startTime = $Time.ToUniversalTime().ToString('o')
    $m.endTime = $Time.ToUniversalTime().AddSeconds(2).ToString('o')
    $m | ConvertTo-Json -Depth 10 | Set-Content "$Path.json"
}

function Use-TestGpgHome([string]$Path) {
    # A throw-away gpg home (GNUPGHOME) for real gpg, as the tests' gpg commands and keys use it.
    New-Item -ItemType Directory $Path | Out-Null
    & chmod 700 $Path
    $env:GNUPGHOME = $Path
}

function Invoke-Gpg([string[]]$Arguments, [string]$InputText) {
    # Runs gpg without a terminal (passphrases with --passphrase); stops the test when it fails.
    $all = @('--batch', '--yes', '--no-tty', '--pinentry-mode', 'loopback') + $Arguments
    $out = if ($InputText) { $InputText | & gpg @all 2>&1 } else { & gpg @all 2>&1 }
    if ($LASTEXITCODE -ne 0) { throw "gpg $($Arguments -join ' ') failed: $out" }
    $out
}

function New-TestGpgKey {
    # A key made by gpg itself ('<Name> <<Name>@example.com>', never expiring), exported to <Folder>/<Name>.pub.asc and .sec.asc.
    param([Parameter(Mandatory)][string]$Name, [Parameter(Mandatory)][string]$Algorithm, [string]$Usage = 'default',
        [Parameter(Mandatory)][string]$Passphrase, [Parameter(Mandatory)][string]$Folder)
    Invoke-Gpg @('--passphrase', $Passphrase, '--quick-gen-key', "$Name <$Name@example.com>", $Algorithm, $Usage, 'never') | Out-Null
    Invoke-Gpg @('--armor', '--output', (Join-Path $Folder "$Name.pub.asc"), '--export', "$Name@example.com") | Out-Null
    Invoke-Gpg @('--passphrase', $Passphrase, '--armor', '--output', (Join-Path $Folder "$Name.sec.asc"), '--export-secret-keys', "$Name@example.com") | Out-Null
}
