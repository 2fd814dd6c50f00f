# Whole-server backups: New-PgBackup -AllDatabases (every database, the roles once, -ThrottleLimit, one failure
# never hides the rest), the freshness check against the server's list, and the whole set restored on another server.
# One set of databases serves every test: a backup user that is no superuser, a database it may not connect to, one
# dropped while the run is under way, one whose name is hostile, one with the longest name PostgreSQL allows.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    $script:P = New-TestDatabaseName 'alldb'
    $script:Out = New-TestFolder
    $script:User = "${P}_backup"
    $script:UserPassword = 'b-' + [guid]::NewGuid().ToString('n')
    $script:Owner = "${P}_owner"
    $script:Readers = "${P}_readers"
    function Quote([string]$Name) { '"' + $Name.Replace('"', '""') + '"' }
    function Invoke-Launched([string]$Line) {
        # Runs a line in a fresh pwsh -NoProfile -NonInteractive -File, as a scheduler would, after importing the
        # build under test; returns its output and exit code.
        $launcher = Join-Path $Out ('launch-' + [guid]::NewGuid().ToString('n') + '.ps1')
        Set-Content -Path $launcher -Value "$(Get-TestModuleImport)`n`$global:LASTEXITCODE = 0`n$Line`nexit `$LASTEXITCODE"
        $pwshDll = Join-Path $PSHOME 'pwsh.dll'
        [string[]]$pre = if (Test-Path $pwshDll) { @($pwshDll) } else { @() }
        try { $output = & ([Environment]::ProcessPath) @pre -NoProfile -NonInteractive -File $launcher 2>&1 }
        finally { Remove-Item $launcher }
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = (($output | Out-String) -replace '\x1b\[[0-9;?]*[A-Za-z]', '') }
    }
    function Literal([string]$Text) { "'" + $Text.Replace("'", "''") + "'" }

    # PostgreSQL's order (COLLATE "C"): the long name, a, b, the hostile name, noconnect, zdropped.
    $script:Long = "${P}_" + ('L' * (63 - "${P}_".Length))
    $script:Hostile = "${P}_it's `"q`"`n../x"
    $script:A = "${P}_a"; $script:B = "${P}_b"; $script:NoConnect = "${P}_noconnect"; $script:Dropped = "${P}_zdropped"
    $script:Good = @($Long, $A, $B, $Hostile)

    Invoke-TestPsql -Server $Main -Sql @"
CREATE ROLE $User LOGIN PASSWORD '$UserPassword' IN ROLE pg_read_all_data;
CREATE ROLE $Readers;
CREATE ROLE $Owner LOGIN IN ROLE $Readers;
ALTER ROLE $Owner SET work_mem = '5MB';
"@ | Out-Null
    foreach ($db in $Good + $NoConnect + $Dropped) {
        $rows = if ($db -eq $A) { 3 } else { 1 }
        Invoke-TestPsql -Server $Main -Sql "CREATE DATABASE $(Quote $db) OWNER $Owner;" | Out-Null
        Invoke-TestPsql -Server $Main -Database $db -Sql "SET ROLE $Owner; CREATE TABLE t (id int PRIMARY KEY, name text); INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, $rows) g; GRANT SELECT ON t TO $Readers;" | Out-Null
    }
    Invoke-TestPsql -Server $Main -Sql "REVOKE CONNECT ON DATABASE $(Quote $NoConnect) FROM PUBLIC;" | Out-Null
    $script:UserUri = "postgresql://${User}:${UserPassword}@127.0.0.1:$($Main.Port)/postgres"
    $script:Selection = @{ ConnectionString = $UserUri; IncludeDatabase = "${P}_*" }

    # The first run: ThrottleLimit 1; a lock on A's table holds its pg_dump while $Dropped (last in order) is dropped.
    $script:Run1 = Join-Path $Out 'run1'
    $lock = Start-TableLock -Server $Main -Database $A -Table 't'
    $dropper = Start-Job -ScriptBlock {
        param($psql, $port, $user, $password, $a, $dropped)
        $env:PGPASSWORD = $password
        $base = @('-X', '-q', '-A', '-t', '-h', '127.0.0.1', '-p', $port, '-U', $user, '-d', 'postgres')
        for ($i = 0; $i -lt 600; $i++) {
            $n = & $psql @base -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$a' AND application_name = 'pg_dump' AND wait_event_type = 'Lock';"
            if ([int]$n -gt 0) { break }
            Start-Sleep -Milliseconds 100
        }
        & $psql @base -c "DROP DATABASE `"$dropped`";"
        & $psql @base -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgbackup-test-lock';" | Out-Null
    } -ArgumentList (Get-PsqlPath), $Main.Port, $Main.User, $Main.Password, $A, $Dropped
    try {
        $script:Errors1 = @()
        $script:Summary1 = @(New-PgBackup @Selection -AllDatabases -Path $Run1 -Globals -NoRolePasswords -Summary -ErrorAction SilentlyContinue -ErrorVariable +Errors1)
        $script:Ok1 = $?
    }
    finally {
        $null = $dropper | Wait-Job -Timeout 120 | Receive-Job
        $dropper | Remove-Job -Force
        Stop-TableLock $lock
    }
}

AfterAll {
    foreach ($db in @($Good + $NoConnect + $Dropped)) {
        Invoke-TestPsql -Server $Main -Sql "DROP DATABASE IF EXISTS $(Quote $db) WITH (FORCE);" | Out-Null
        Invoke-TestPsql -Server $Servers.New -Sql "DROP DATABASE IF EXISTS $(Quote $db) WITH (FORCE);" | Out-Null
    }
    foreach ($s in $Main, $Servers.New) {
        Invoke-TestPsql -Server $s -Sql "DROP ROLE IF EXISTS $User; DROP ROLE IF EXISTS $Owner; DROP ROLE IF EXISTS $Readers;" -AllowFailure | Out-Null
    }
    Remove-TestFolder $Out
}

Describe 'New-PgBackup -AllDatabases' {
    It 'backs up every good database, saves the roles beside each, and reports each failure as its own error' {
        $Ok1 | Should -BeFalse -Because 'errors were written, so $? is false'
        $Summary1.Count | Should -Be 6
        ($Summary1 | Where-Object Status -eq Complete).Database | Sort-Object | Should -Be ($Good | Sort-Object)
        $failed = @($Summary1 | Where-Object Status -eq Failed | Sort-Object Database)
        $failed.Database | Should -Be @($NoConnect, $Dropped)
        $failed.ErrorId | Should -Be @('PermissionDenied', 'DatabaseNotFound')

        # One error per failed database, with a single backup's error id and the database as its target.
        $Errors1.Count | Should -Be 2
        ($Errors1 | Sort-Object { $_.TargetObject }).FullyQualifiedErrorId |
            Should -Be @('PermissionDenied,PgBackup.Commands.NewPgBackupCommand', 'DatabaseNotFound,PgBackup.Commands.NewPgBackupCommand')
        ($Errors1.TargetObject | Sort-Object) | Should -Be @($NoConnect, $Dropped)
        $single = $null
        try { New-PgBackup -ConnectionString ($UserUri -replace '/postgres$', "/$NoConnect") -Path (Join-Path $Out 'single') }
        catch { $single = $_ }
        $single.FullyQualifiedErrorId | Should -Be 'PermissionDenied,PgBackup.Commands.NewPgBackupCommand'

        # Each good database: its own backup and manifest, with its rows, the roles beside it.
        $backups = @(Get-PgBackup -Path $Run1)
        $backups.Count | Should -Be 4
        ($backups.Database | Sort-Object) | Should -Be ($Good | Sort-Object)
        foreach ($bk in $backups) {
            $bk.Status | Should -Be Complete
            $bk.HasGlobals | Should -BeTrue
            $bk.Manifest.Globals.WithoutPasswords | Should -BeTrue
            $bk.Manifest.Globals.Roles | Should -Contain $Owner
            $bk.RowCount | Should -Be $(if ($bk.Database -eq $A) { 3 } else { 1 })
        }
        $s = $Summary1 | Where-Object Database -eq $A
        $s.Path | Should -Be ($backups | Where-Object Database -eq $A).Path
        $s.SizeBytes | Should -BeGreaterThan 0
        $s.HasGlobals | Should -BeTrue
        # Nothing else in the folder: no partial, no file of a failed database.
        @(Get-ChildItem $Run1 -Name | Where-Object { $_ -notlike '*.json' -and $_ -notlike '*.globals.sql' }).Count | Should -Be 4
    }

    It 'keeps a hostile database name inside the store, and the backup restores under that name' {
        $bk = Get-PgBackup -Path $Run1 -Database "${P}_it*"
        $bk.Database | Should -Be $Hostile
        $bk.Name | Should -BeLike "backup_${P}_it's _q__.._x_*.sql.gz"
        (Split-Path $bk.Path -Parent) | Should -Be (Resolve-Path $Run1).Path
        Get-ChildItem -Path $Out -Recurse -Force | Where-Object { $_.FullName -notlike "$Run1*" -and $_.FullName -notlike (Join-Path $Out 'single*') } | Should -BeNullOrEmpty
    }

    It 'drills every database of the set, two at a time (Test-PgBackup -ThrottleLimit), one failure hiding none' {
        $missing = [pscustomobject]@{ Path = (Join-Path $Out "backup_${P}_missing_20260101_000000.sql.gz") }
        $in = @(Get-PgBackup -Path $Run1 -Latest | ForEach-Object { [pscustomobject]@{ Path = $_.Path } }) + $missing
        $r = @($in | Test-PgBackup -Restore -ThrottleLimit 2 -ConnectionString (Get-TestPostgresUri -Server $Main) -ErrorAction SilentlyContinue -ErrorVariable err)
        @($r | Where-Object Passed).Count | Should -Be 4
        (@($r | Where-Object Passed).Database | Sort-Object) | Should -Be ($Good | Sort-Object)
        $err.Count | Should -Be 1
        $err[0].TargetObject | Should -Be $missing.Path
        @(Get-DatabaseNames -Server $Main | Where-Object { $_ -like 'pgbackup_drill_*' }).Count | Should -Be 0
    }

    It 'gives the same backups with -ThrottleLimit 2, and -ExcludeDatabase leaves a database out' {
        $run2 = Join-Path $Out 'run2'
        $b2 = @(New-PgBackup @Selection -AllDatabases -ExcludeDatabase "${P}_noconn*" -ThrottleLimit 2 -Path $run2)
        $? | Should -BeTrue
        $b2.Count | Should -Be 4
        $b2[0].GetType().Name | Should -Be 'BackupInfo'
        $one = Get-PgBackup -Path $Run1 | Sort-Object Database | ForEach-Object { "$($_.Database)|$($_.RowCount)|$(($_.Tables | ForEach-Object { "$($_.Schema).$($_.Name)=$($_.Rows)" }) -join ',')" }
        $two = Get-PgBackup -Path $run2 | Sort-Object Database | ForEach-Object { "$($_.Database)|$($_.RowCount)|$(($_.Tables | ForEach-Object { "$($_.Schema).$($_.Name)=$($_.Rows)" }) -join ',')" }
        $two | Should -Be $one
    }

    It '-WhatIf names each database it would back up (the hostile name printable), and writes nothing' {
        $folder = Join-Path $Out 'whatif'
        $r = Invoke-Launched "New-PgBackup -ConnectionString '$UserUri' -AllDatabases -IncludeDatabase '${P}_*' -ExcludeDatabase '${P}_noconn*' -Path '$folder' -WhatIf"
        $r.ExitCode | Should -Be 0 -Because $r.Output
        @([regex]::Matches($r.Output, 'What if: .*Back up database ')).Count | Should -Be 4 -Because $r.Output
        foreach ($db in $Long, $A, $B) { $r.Output | Should -Match ([regex]::Escape("Back up database '$db'")) }
        $r.Output | Should -Not -Match 'noconnect'
        $r.Output | Should -Not -Match "`n\.\./x" -Because 'the newline in the hostile name is shown escaped'
        Test-Path $folder | Should -BeFalse
    }

    It 'stops every database cleanly on Ctrl+C' {
        $folder = Join-Path $Out 'stopped'
        $lock = Start-TableLock -Server $Main -Database $B -Table 't'
        $job = Start-AsyncPipeline -Script {
            param($conn, $pattern, $path)
            New-PgBackup -ConnectionString $conn -AllDatabases -IncludeDatabase $pattern -ThrottleLimit 3 -Path $path
        } -Arguments $UserUri, "${P}_[ab]", $folder
        try {
            Wait-PgDumpWaiting -Server $Main -Database $B
            $job.PowerShell.Stop()
            @(Get-PgDumpProcess $B).Count | Should -Be 0
            @(Get-BackupLikeFiles $folder | Where-Object Name -like '*.partial').Count | Should -Be 0
            @(Get-PgBackup -Path $folder | Where-Object Database -eq $B).Count | Should -Be 0
        }
        finally {
            Stop-AsyncPipeline $job
            Stop-TableLock $lock
        }
    }

    It 'exits non-zero from the job script when a database fails, after backing up the others' {
        $r = Invoke-Launched "& '$(Join-Path $RepoRoot 'examples/scheduled-task/Invoke-PgBackupJob.ps1')' -ConnectionString '$UserUri' -AllDatabases -IncludeDatabase '${P}_[bn]*' -BackupPath '$(Join-Path $Out 'job')' -ModulePath '$($env:PGBACKUP_TEST_MODULE)'"
        $r.ExitCode | Should -Be 1 -Because $r.Output
        $r.Output | Should -Match "backup ok: .*backup_${P}_b_"
        $r.Output | Should -Match "backup FAILED: '${P}_noconnect': PermissionDenied"
        $r.Output | Should -Match 'retention ok: kept 1, removed 0'
        @(Get-PgBackup -Path (Join-Path $Out 'job')).Database | Should -Be @($B)
    }

    It 'fails the runbook''s job when a database fails, after backing up the others to the bucket, with the roles' -Skip:(-not $env:PGBACKUP_TEST_S3) {
        $bucket = New-TestBucket -Server $S3 -Prefix 'alldb'
        $assets = @{
            Variables   = @{ 'PgBackup-ConnectionString' = $UserUri; 'PgBackup-S3Uri' = "s3://$bucket/db1/"; 'PgBackup-S3EndpointUrl' = $S3.Endpoint; 'PgBackup-S3Region' = $S3.Region }
            Credentials = @{ 'PgBackup-S3' = @{ UserName = $S3.AccessKey; Password = $S3.SecretKey } }
            Parameters  = @{ AllDatabases = $true; IncludeDatabase = @("${P}_[bn]*"); Globals = $true; ThrottleLimit = 2; ModulePath = $env:PGBACKUP_TEST_MODULE }
        }
        $file = Join-Path $Out 'assets.json'
        $assets | ConvertTo-Json -Depth 5 | Set-Content -Path $file
        $r = Invoke-Launched "& '$(Join-Path $PSScriptRoot 'harness/Invoke-AutomationRunbook.ps1')' -Runbook '$(Join-Path $RepoRoot 'examples/azure-automation/PgBackup-Runbook.ps1')' -AssetFile '$file'"
        $r.ExitCode | Should -Be 1 -Because $r.Output
        $r.Output | Should -Match "backup ok: s3://$bucket/db1/backup_${P}_b_"
        $r.Output | Should -Match "backup FAILED: '${P}_noconnect': PermissionDenied"
        $r.Output | Should -Match "FAILED at step 'backup': DatabasesFailed"
        $bk = @(Get-PgBackup -Path "s3://$bucket/db1/" @S3Params -Region $S3.Region)
        $bk.Database | Should -Be @($B)
        $bk[0].HasGlobals | Should -BeTrue
    }
}

Describe 'A whole server restored on another one' {
    It 'recreates every database and the roles from the latest set' {
        $new = $Servers.New
        $r = @(Get-PgBackup -Path $Run1 -Latest | Restore-PgBackup -ConnectionString "postgresql://$($new.User):$($new.Password)@127.0.0.1:$($new.Port)" -CreateDatabase -CreateRoles -Confirm:$false)
        $r.Count | Should -Be 4
        foreach ($db in $Good) {
            Invoke-TestPsql -Server $new -Database $db -Sql 'SELECT count(*) FROM t;' | Should -Be $(if ($db -eq $A) { 3 } else { 1 })
            Invoke-TestPsql -Server $new -Database $db -Sql "SELECT tableowner FROM pg_tables WHERE tablename = 't';" | Should -Be $Owner
        }
        Invoke-TestPsql -Server $new -Sql "SELECT pg_has_role('$Owner', '$Readers', 'member'), (SELECT setconfig::text FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = '$Owner');" |
            Should -Be 't|{work_mem=5MB}'

        # Again, without -Force: each database is its own error (TargetDatabaseExists), and every one is tried.
        $again = @(Get-PgBackup -Path $Run1 -Latest | Restore-PgBackup -ConnectionString "postgresql://$($new.User):$($new.Password)@127.0.0.1:$($new.Port)" -CreateDatabase -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable err)
        $again.Count | Should -Be 0
        $err.Count | Should -Be 4
        $err.FullyQualifiedErrorId | Sort-Object -Unique | Should -Be 'TargetDatabaseExists,PgBackup.Commands.RestorePgBackupCommand'
    }

    It 'says clearly when the roles cannot be saved (no pg_dumpall for PostgreSQL 17 here), and still backs up the databases' {
        # PostgreSQL 17 on the server, no pg_dumpall as new here: the native engine backs up, the roles cannot be saved.
        $r = @(New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Servers.New) -AllDatabases -IncludeDatabase $B -Path (Join-Path $Out 'noroles') -Globals -Summary -ErrorAction SilentlyContinue -ErrorVariable err)
        $r.Status | Should -Be Complete
        $r.HasGlobals | Should -BeFalse
        $r.Backup.Engine | Should -Be Native
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'PgTool*,PgBackup.Commands.NewPgBackupCommand'
        $err[0].Exception.Message | Should -Match 'roles \(-Globals\) were not saved'
    }
}

Describe 'Get-PgBackup -MaxAge -ConnectionString' {
    It 'names a database of the server that has never been backed up' {
        $err = $null
        $list = @(Get-PgBackup -Path $Run1 -MaxAge 1.00:00:00 -ConnectionString $UserUri -Database "${P}_*" -ErrorAction SilentlyContinue -ErrorVariable err)
        $list.Count | Should -Be 4
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be 'BackupStale,PgBackup.Commands.GetPgBackupCommand'
        $err[0].TargetObject | Should -Be $NoConnect
        $err[0].Exception.Message | Should -Match 'never been backed up'
    }
}
