BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    $script:Out = New-TestFolder

    function New-RestoreFixture([string]$Prefix = 'rs') {
        # A database with the sample data and its fingerprint.
        $db = New-TestDatabaseName $Prefix
        New-TestDatabase -Server $Main -Name $db -SqlFile $SampleSql
        [pscustomobject]@{ Name = $db; Uri = (Get-TestPostgresUri -Server $Main -Database $db); Fingerprint = (Get-DatabaseFingerprint -Server $Main -Database $db) }
    }

    function Set-Damage([string]$Db) {
        # Changes a database so that a restore has something to undo.
        Invoke-TestPsql -Server $Main -Database $Db -Sql "DELETE FROM play_events WHERE id % 2 = 0; CREATE TABLE stray (x int); UPDATE users SET display_name = 'changed';" | Out-Null
    }

    function New-OwnedDatabase([string]$Name, [string]$RoleOptions = 'CREATEDB', [string]$Sql) {
        # A login role that is neither superuser nor BYPASSRLS, a database it owns, and $Sql run there as that role.
        $role = New-TestDatabaseName "${Name}_role"
        $password = 'pw-' + [guid]::NewGuid().ToString('n')
        $db = New-TestDatabaseName $Name
        Invoke-TestPsql -Server $Main -Sql "CREATE ROLE $role LOGIN $RoleOptions PASSWORD '$password'; CREATE DATABASE $db OWNER $role;" | Out-Null
        if ($Sql) { Invoke-TestPsql -Server $Main -Database $db -Sql "SET ROLE $role;`n$Sql" | Out-Null }
        [pscustomobject]@{
            Role = $role; Password = $password; Database = $db
            Uri = Get-TestPostgresUri -Server $Main -Database $db                    # as the test server's superuser
            AsRole = "postgresql://${role}:$password@127.0.0.1:$($Main.Port)/$db"   # as the role
        }
    }

    function Get-ScratchDatabases {
        @(Get-DatabaseNames -Server $Main | Where-Object { $_ -like '*_pgbackup_*' -or $_ -like 'pgbackup_*' })
    }

    function New-GuideBackup([string]$Db, [string]$Folder, [string]$Stamp = '20240315_143022', [scriptblock]$Edit) {
        # A backup as the guide's backup-database.sh makes it (pg_dump | gzip, no manifest), optionally edited.
        $sqlFile = Join-Path $Folder "dump-$Stamp.sql"
        & bash -c "PGPASSWORD='$($Main.Password)' pg_dump -h 127.0.0.1 -p $($Main.Port) -U postgres '$Db' > '$sqlFile'"
        if ($Edit) { $text = Get-Content -Raw $sqlFile; $text = & $Edit $text; [IO.File]::WriteAllText($sqlFile, $text) }
        $gz = Join-Path $Folder "backup_${Db}_$Stamp.sql.gz"
        & bash -c "gzip -c '$sqlFile' > '$gz' && rm '$sqlFile'"
        $gz
    }
}

AfterAll { Remove-TestFolder $Out }

Describe 'Restore-PgBackup' {
    It 'has the expected parameters and asks before it replaces a database' {
        $expected = 'Path', 'InputObject', 'ConnectionString', 'Credential', 'TargetDatabase', 'CreateDatabase', 'Force', 'Jobs', 'Table',
            'Schema', 'NoOwner', 'NoPrivileges', 'ContinueOnError', 'KeepPrevious', 'PgBinPath', 'CreateRoles', 'Passphrase', 'SecretKeyPath', 'SecretKeyPassphrase', 'VerifyKey',
            'S3Credential', 'ProfileName', 'Region', 'EndpointUrl', 'S3AddressingStyle', 'S3ChecksumMode', 'S3TimeoutSeconds', 'AzureSasToken', 'AzureConnectionString', 'AzureAccountKey', 'AzureEndpointUrl'
        $cmd = Get-Command Restore-PgBackup
        $actual = $cmd.Parameters.Keys | Where-Object { $_ -notin [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters }
        $actual | Sort-Object | Should -Be ($expected | Sort-Object)
        $attr = $cmd.ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
        $attr.ConfirmImpact | Should -Be 'High'
        $attr.SupportsShouldProcess | Should -BeTrue
    }

    Context 'replacing a database' {
        It 'restores a <Format> backup (<Compression>, jobs <Jobs>) and verifies it' -ForEach @(
            @{ Format = 'Plain'; Compression = 'Gzip'; Jobs = 1 }
            @{ Format = 'Plain'; Compression = 'Zstd'; Jobs = 1 }
            @{ Format = 'Custom'; Compression = 'Gzip'; Jobs = 2 }
            @{ Format = 'Directory'; Compression = 'Gzip'; Jobs = 2 }
        ) {
            $f = New-RestoreFixture
            $b = New-PgBackup -ConnectionString $f.Uri -Path (Join-Path $Out $f.Name) -Format $Format -Compression $Compression
            Set-Damage $f.Name
            $r = $b | Restore-PgBackup -ConnectionString $f.Uri -Jobs $Jobs -Confirm:$false
            $r.PSObject.TypeNames[0] | Should -Be 'PgBackup.RestoreResult'
            $r.Mode | Should -Be 'Replaced'
            $r.Database | Should -Be $f.Name
            $r.Verified | Should -BeTrue
            $r.TableCount | Should -Be 3
            $r.RowCount | Should -Be 4440
            Assert-SameDatabase -Expected $f.Fingerprint -Actual (Get-DatabaseFingerprint -Server $Main -Database $f.Name)
            Get-ScratchDatabases | Should -BeNullOrEmpty
        }

        It '-WhatIf says what would be dropped and restored, and changes nothing' {
            $f = New-RestoreFixture
            $b = New-PgBackup -ConnectionString $f.Uri -Path (Join-Path $Out $f.Name)
            Set-Damage $f.Name
            $before = Get-DatabaseFingerprint -Server $Main -Database $f.Name
            # What-if text goes to the host: run it in a child PowerShell and read its output.
            $out = Invoke-ChildPwsh "$(Get-TestModuleImport); Restore-PgBackup -Path '$($b.Path)' -ConnectionString '$($f.Uri)' -WhatIf"
            $out | Should -Match "Replace database '$($f.Name)'"
            $out | Should -Match '4 tables now'
            $out | Should -Match '3 tables, 4,440 rows'
            Assert-SameDatabase -Expected $before -Actual (Get-DatabaseFingerprint -Server $Main -Database $f.Name)
            Get-ScratchDatabases | Should -BeNullOrEmpty
        }

        It 'keeps the database''s own settings, grants and comment, and its name' {
            $f = New-RestoreFixture
            Invoke-TestPsql -Server $Main -Sql @"
DO `$`$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_reader') THEN CREATE ROLE app_reader; END IF; END `$`$;
ALTER DATABASE "$($f.Name)" SET work_mem = '7MB';
ALTER DATABASE "$($f.Name)" SET search_path = public, pg_catalog;
COMMENT ON DATABASE "$($f.Name)" IS 'the app''s database';
REVOKE ALL ON DATABASE "$($f.Name)" FROM PUBLIC;
GRANT CONNECT ON DATABASE "$($f.Name)" TO app_reader;
"@ | Out-Null
            $query = "SELECT array_to_string(setconfig, ';') FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = '$($f.Name)' UNION ALL SELECT shobj_description(oid, 'pg_database') || ' ' || datacl::text FROM pg_database WHERE datname = '$($f.Name)';"
            $before = Invoke-TestPsql -Server $Main -Sql $query
            $b = New-PgBackup -ConnectionString $f.Uri -Path (Join-Path $Out $f.Name) -Format Custom
            $b | Restore-PgBackup -ConnectionString $f.Uri -Force | Out-Null
            Invoke-TestPsql -Server $Main -Sql $query | Should -Be $before
        }

        It 'keeps the previous contents with -KeepPrevious' {
            $f = New-RestoreFixture
            $b = New-PgBackup -ConnectionString $f.Uri -Path (Join-Path $Out $f.Name)
            Set-Damage $f.Name
            $r = $b | Restore-PgBackup -ConnectionString $f.Uri -Force -KeepPrevious
            $r.PreviousDatabase | Should -BeLike "$($f.Name)_pgbackup_previous_*"
            Invoke-TestPsql -Server $Main -Database $r.PreviousDatabase -Sql "SELECT count(*) FROM stray" | Should -Be '0'
            Invoke-TestPsql -Server $Main -Sql "DROP DATABASE `"$($r.PreviousDatabase)`";" | Out-Null
        }

        It 'restores a <Format> backup over a database whose own settings would hinder the load, and gives them to the restored one (jobs <Jobs>)' -ForEach @(
            @{ Format = 'Plain'; Jobs = 2 }, @{ Format = 'Custom'; Jobs = 2 }
        ) {
            # Settings meant for the users' sessions (a database set read-only, a connection
            # limit below -Jobs): they were given to the new database before its load, which they then refused.
            $o = New-OwnedDatabase 'guarded' -Sql "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(1, 50000) g; CREATE TABLE u (id int PRIMARY KEY); INSERT INTO u SELECT generate_series(1, 10);"
            $role = $o.Role; $db = $o.Database
            $b = New-PgBackup -ConnectionString $o.Uri -Path (Join-Path $Out "guarded-$Format") -Format $Format
            Invoke-TestPsql -Server $Main -Sql "ALTER DATABASE $db SET default_transaction_read_only = on; ALTER DATABASE $db SET search_path = nowhere; ALTER DATABASE $db CONNECTION LIMIT 1; ALTER ROLE $role IN DATABASE $db SET work_mem = '1234kB';" | Out-Null
            $r = $b | Restore-PgBackup -ConnectionString $o.AsRole -Jobs $Jobs -Force -Confirm:$false -WarningAction Stop
            $r.Verified | Should -BeTrue
            Invoke-TestPsql -Server $Main -Sql "SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = '$db' ORDER BY s.setrole" |
                Should -Be @('default_transaction_read_only=on,search_path=nowhere', 'work_mem=1234kB')
            Invoke-TestPsql -Server $Main -Sql "SELECT datconnlimit FROM pg_database WHERE datname = '$db'" | Should -Be '1'
            # -Table changes the target itself, whose sessions are read-only: refused, rolled back, with what to do.
            $err = $null
            try { $b | Restore-PgBackup -ConnectionString $o.AsRole -Table public.u -Confirm:$false } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'RestoreStatementFailed,PgBackup.Commands.RestorePgBackupCommand'
            $err.ErrorDetails.RecommendedAction | Should -BeLike '*default_transaction_read_only*'
            Get-ScratchDatabases | Should -BeNullOrEmpty
        }

        It 'restores over a template database: the restored one is a template, and the previous copy is dropped' {
            # PostgreSQL refuses to drop a template: the previous copy was left behind (a warning), and the restored
            # database was no template.
            $f = New-RestoreFixture
            $b = New-PgBackup -ConnectionString $f.Uri -Path (Join-Path $Out "$($f.Name)-tpl")
            Invoke-TestPsql -Server $Main -Sql "ALTER DATABASE $($f.Name) WITH IS_TEMPLATE true" | Out-Null
            try {
                ($b | Restore-PgBackup -ConnectionString $f.Uri -Force -Confirm:$false -WarningAction Stop).Verified | Should -BeTrue
                Invoke-TestPsql -Server $Main -Sql "SELECT datistemplate FROM pg_database WHERE datname = '$($f.Name)'" | Should -Be 't'
                Get-ScratchDatabases | Should -BeNullOrEmpty
            }
            finally { Invoke-TestPsql -Server $Main -Sql "ALTER DATABASE $($f.Name) WITH IS_TEMPLATE false" | Out-Null }
        }
    }

    Context 'the target is either restored or exactly as it was' {
        BeforeEach {
            $script:F = New-RestoreFixture
            $script:Folder = Join-Path $Out $F.Name
            New-Item -ItemType Directory -Path $Folder | Out-Null
            Set-Damage $F.Name
            $script:Before = Get-DatabaseFingerprint -Server $Main -Database $F.Name
        }
        AfterEach {
            Assert-SameDatabase -Expected $Before -Actual (Get-DatabaseFingerprint -Server $Main -Database $F.Name)
            Get-ScratchDatabases | Should -BeNullOrEmpty
        }

        It 'a truncated backup (with manifest) is refused before anything is touched' {
            $b = New-PgBackup -ConnectionString $F.Uri -Path $Folder
            $bytes = [IO.File]::ReadAllBytes($b.Path)
            [IO.File]::WriteAllBytes($b.Path, $bytes[0..($bytes.Length / 2)])
            $err = $null
            try { Restore-PgBackup -Path $b.Path -ConnectionString $F.Uri -Force } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'Backup*,PgBackup.Commands.RestorePgBackupCommand'
        }

        It 'a Plain backup changed after its manifest is checked as it loads and refused by its checksum' {
            # One reading: the checks run as the script loads into the new database, which a failed check drops. A
            # changed file is told by its checksum (as Test-PgBackup tells it), even when its script also breaks.
            $b = New-PgBackup -ConnectionString $F.Uri -Path $Folder
            $bytes = [IO.File]::ReadAllBytes($b.Path)
            $bytes[[int]($bytes.Length / 2)] = $bytes[[int]($bytes.Length / 2)] -bxor 0x55
            [IO.File]::WriteAllBytes($b.Path, $bytes)
            $err = $null
            $verbose = [System.Collections.Generic.List[string]]::new()
            try { Restore-PgBackup -Path $b.Path -ConnectionString $F.Uri -Force -Verbose 4>&1 | ForEach-Object { $verbose.Add("$_") } } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'BackupChecksumMismatch,PgBackup.Commands.RestorePgBackupCommand'
            "$err" | Should -Match 'was not changed'
            ($verbose -join "`n") | Should -Match 'as it loads into a new database'
        }

        It 'a refused line at the end of a Plain script: what ran before it stays in the new database, which is dropped' {
            $gz = New-GuideBackup -Db $F.Name -Folder $Folder -Edit { param($t) $t.Insert($t.IndexOf("--`n-- PostgreSQL database dump complete"), "CREATE TABLE public.after_data (i int);`nDO `$`$ BEGIN PERFORM 1; END `$`$;`n") }
            $lines = @(& bash -c "gzip -dc '$gz'")
            $line = [array]::IndexOf($lines, 'DO $$ BEGIN PERFORM 1; END $$;') + 1
            $line | Should -BeGreaterThan 100
            $err = $null
            $verbose = [System.Collections.Generic.List[string]]::new()
            try { Restore-PgBackup -Path $gz -ConnectionString $F.Uri -Force -Verbose 4>&1 | ForEach-Object { $verbose.Add("$_") } } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'UnsafeStatement,PgBackup.Commands.RestorePgBackupCommand'
            "$err" | Should -Match "Line $line "
            "$err" | Should -Match 'was not changed'
            $text = $verbose -join "`n"
            $text | Should -Match 'Restore: loading table data'
            $text | Should -Not -Match 'Counting the rows'
        }

        It 'a truncated backup of the guide''s kind is refused before anything is touched' {
            $gz = New-GuideBackup -Db $F.Name -Folder $Folder
            $bytes = [IO.File]::ReadAllBytes($gz)
            [IO.File]::WriteAllBytes($gz, $bytes[0..($bytes.Length * 2 / 3)])
            $err = $null
            try { Restore-PgBackup -Path $gz -ConnectionString $F.Uri -Force } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'BackupCorrupt,PgBackup.Commands.RestorePgBackupCommand'
        }

        It 'a backup whose SQL fails half-way leaves the target as it was' {
            # A statement of a kind pg_dump writes, about a table that does not exist, after the first tables and their data.
            $gz = New-GuideBackup -Db $F.Name -Folder $Folder -Edit { param($t) $t -replace '(?m)^(ALTER TABLE ONLY public\.tracks)', "ALTER TABLE public.no_such_table OWNER TO postgres;`n`$1" }
            $err = $null
            try { Restore-PgBackup -Path $gz -ConnectionString $F.Uri -Force } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'RestoreStatementFailed,PgBackup.Commands.RestorePgBackupCommand'
            "$err" | Should -Match 'relation "public.no_such_table" does not exist'
            "$err" | Should -Match 'Line \d+ \(ALTER TABLE public\.no_such_table'
            "$err" | Should -Match 'was not changed'
        }

        It 'a restore stopped with Ctrl+C leaves the target as it was' {
            # An index whose expression sleeps: the restore is busy on the server when it is stopped.
            $slow = "CREATE FUNCTION public.slow(i text) RETURNS text LANGUAGE sql IMMUTABLE AS `$`$ SELECT i FROM pg_catalog.pg_sleep(60) `$`$;`nCREATE INDEX slow_idx ON public.users (public.slow(id));`n"
            $gz = New-GuideBackup -Db $F.Name -Folder $Folder -Edit { param($t) $t.Insert($t.IndexOf("--`n-- PostgreSQL database dump complete"), $slow) }
            $job = Start-AsyncPipeline -Script { param($p, $u) Restore-PgBackup -Path $p -ConnectionString $u -Force } -Arguments $gz, $F.Uri
            try {
                $deadline = [DateTime]::UtcNow.AddSeconds(30)
                do {
                    Start-Sleep -Milliseconds 200
                    $sleeping = Invoke-TestPsql -Server $Main -Sql "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname LIKE '%_pgbackup_restore_%';"
                } until ([int]($sleeping | Select-Object -Last 1) -gt 0 -or [DateTime]::UtcNow -gt $deadline)
                [int]($sleeping | Select-Object -Last 1) | Should -BeGreaterThan 0
                $clock = [Diagnostics.Stopwatch]::StartNew()
                $job.PowerShell.Stop()
                $clock.Elapsed.TotalSeconds | Should -BeLessThan 5
            }
            finally { Stop-AsyncPipeline $job }
        }

        It 'a backup with psql meta-commands is refused, naming the line, and runs nothing' -ForEach @(
            @{ Command = '\! touch {0}' }
            @{ Command = '\o {0}' }
            @{ Command = "\copy public.users to program 'touch {0}'" }
            @{ Command = '\i {0}' }
        ) {
            $marker = Join-Path $Folder 'pwned'
            $line = $Command -f $marker
            $gz = New-GuideBackup -Db $F.Name -Folder $Folder -Edit { param($t) $t -replace '(?m)^(CREATE TABLE public\.users)', "$line`n`$1" }
            $err = $null
            try { Restore-PgBackup -Path $gz -ConnectionString $F.Uri -Force } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'UnsafeMetaCommand,PgBackup.Commands.RestorePgBackupCommand'
            "$err" | Should -Match 'Line \d+'
            "$err" | Should -Match ([regex]::Escape(($line -split ' ')[0]))
            Test-Path $marker | Should -BeFalse
        }

        It 'a restore whose row counts differ from the manifest leaves the target as it was' {
            $b = New-PgBackup -ConnectionString $F.Uri -Path $Folder -Format Custom
            $m = Get-Content -Raw "$($b.Path).json" | ConvertFrom-Json
            ($m.tables | Where-Object name -eq 'users').rows = 41
            $m | ConvertTo-Json -Depth 6 | Set-Content "$($b.Path).json"
            $err = $null
            try { Restore-PgBackup -Path $b.Path -ConnectionString $F.Uri -Force } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'RestoreVerificationFailed,PgBackup.Commands.RestorePgBackupCommand'
            "$err" | Should -Match 'public.users: 40 rows, expected 41'
        }

        It 'a database with other sessions is not replaced without -Force' {
            $b = New-PgBackup -ConnectionString $F.Uri -Path $Folder
            $session = Start-IdleSession -Server $Main -Database $F.Name
            try {
                $err = $null
                try { Restore-PgBackup -Path $b.Path -ConnectionString $F.Uri -Confirm:$false } catch { $err = $_ }
                $err.FullyQualifiedErrorId | Should -Be 'TargetDatabaseInUse,PgBackup.Commands.RestorePgBackupCommand'
            }
            finally { Stop-TableLock $session }
        }

        It 'a backup that needs a newer pg_restore is refused up front' {
            $b = New-PgBackup -ConnectionString $F.Uri -Path $Folder -Format Custom
            $m = Get-Content -Raw "$($b.Path).json" | ConvertFrom-Json
            $m.pgDumpVersion = '99.1'
            $m | ConvertTo-Json -Depth 6 | Set-Content "$($b.Path).json"
            $err = $null
            try { Restore-PgBackup -Path $b.Path -ConnectionString $F.Uri -Force } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'PgToolTooOld,PgBackup.Commands.RestorePgBackupCommand'
            "$err" | Should -Match 'pg_restore 99 or newer'
        }
    }

    Context 'sessions' {
        It '-Force ends sessions on the target, and only there' {
            $f = New-RestoreFixture
            $other = New-RestoreFixture 'other'
            $b = New-PgBackup -ConnectionString $f.Uri -Path (Join-Path $Out $f.Name)
            Set-Damage $f.Name
            $onTarget = Start-IdleSession -Server $Main -Database $f.Name -Name 'pgbackup-test-target'
            $onOther = Start-IdleSession -Server $Main -Database $other.Name
            try {
                $r = $b | Restore-PgBackup -ConnectionString $f.Uri -Force
                $r.Mode | Should -Be 'Replaced'
                Invoke-TestPsql -Server $Main -Sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbackup-test-target';" | Should -Be '0'
                Invoke-TestPsql -Server $Main -Sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbackup-test-lock' AND datname = '$($other.Name)';" | Should -Be '1'
                Assert-SameDatabase -Expected $f.Fingerprint -Actual (Get-DatabaseFingerprint -Server $Main -Database $f.Name)
            }
            finally { Stop-TableLock $onOther; if (-not $onTarget.HasExited) { $onTarget.Kill() } }
        }
    }

    Context 'the guide''s backups, new databases, parts of a backup' {
        It 'restores a guide backup as the guide promises: existing tables dropped and replaced' {
            $f = New-RestoreFixture
            $folder = Join-Path $Out $f.Name
            New-Item -ItemType Directory $folder | Out-Null
            $gz = New-GuideBackup -Db $f.Name -Folder $folder
            Set-Damage $f.Name
            $r = Restore-PgBackup -Path $gz -ConnectionString $f.Uri -Force
            $r.Verified | Should -BeTrue
            $r.Verification | Should -Match "backup's data"
            Assert-SameDatabase -Expected $f.Fingerprint -Actual (Get-DatabaseFingerprint -Server $Main -Database $f.Name)
        }

        It 'restores into a new database with -CreateDatabase, and refuses existing or missing targets' {
            $f = New-RestoreFixture
            $b = New-PgBackup -ConnectionString $f.Uri -Path (Join-Path $Out $f.Name) -Format Directory
            $new = New-TestDatabaseName 'created'
            $r = $b | Restore-PgBackup -ConnectionString $f.Uri -TargetDatabase $new -CreateDatabase -Jobs 2 -Confirm:$false
            $r.Mode | Should -Be 'Created'
            Assert-SameDatabase -Expected $f.Fingerprint -Actual (Get-DatabaseFingerprint -Server $Main -Database $new)
            { $b | Restore-PgBackup -ConnectionString $f.Uri -TargetDatabase $new -CreateDatabase -Confirm:$false } | Should -Throw -ErrorId 'TargetDatabaseExists,PgBackup.Commands.RestorePgBackupCommand'
            { $b | Restore-PgBackup -ConnectionString $f.Uri -TargetDatabase 'does_not_exist' -Confirm:$false } | Should -Throw -ErrorId 'TargetDatabaseMissing,PgBackup.Commands.RestorePgBackupCommand'
        }

        It 'restores only the tables asked for, in place' {
            $f = New-RestoreFixture
            $b = New-PgBackup -ConnectionString $f.Uri -Path (Join-Path $Out $f.Name) -Format Custom
            Invoke-TestPsql -Server $Main -Database $f.Name -Sql "DELETE FROM play_events WHERE id > 100; UPDATE users SET display_name = 'kept';" | Out-Null
            $r = Restore-PgBackup -Path $b.Path -ConnectionString $f.Uri -Table public.play_events -Confirm:$false
            $r.Mode | Should -Be 'Partial'
            ($r.Tables | ForEach-Object QualifiedName) | Should -Be @('public.play_events')
            Invoke-TestPsql -Server $Main -Database $f.Name -Sql 'SELECT count(*) FROM play_events' | Should -Be '4000'
            Invoke-TestPsql -Server $Main -Database $f.Name -Sql "SELECT count(*) FROM users WHERE display_name = 'kept'" | Should -Be '40'
            Invoke-TestPsql -Server $Main -Database $f.Name -Sql "SELECT count(*) FROM pg_indexes WHERE tablename = 'play_events'" | Should -Be '2'
        }

        It '-Table of a table that a view depends on says to select the view too, leaves the target as it was, and restores with it' {
            $db = New-TestDatabaseName 'viewdep'
            New-TestDatabase -Server $Main -Name $db -Sql "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100); CREATE VIEW v AS SELECT id FROM t; CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM t;"
            $uri = Get-TestPostgresUri -Server $Main -Database $db
            $b = New-PgBackup -ConnectionString $uri -Path (Join-Path $Out 'viewdep')
            Invoke-TestPsql -Server $Main -Database $db -Sql 'DELETE FROM t WHERE id > 50' | Out-Null
            $before = Get-DatabaseFingerprint -Server $Main -Database $db
            $err = $null
            try { $b | Restore-PgBackup -ConnectionString $uri -Table public.t -Confirm:$false } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'RestoreStatementFailed,PgBackup.Commands.RestorePgBackupCommand'
            $err.Exception.Message | Should -Match 'rolled back'
            $err.ErrorDetails.RecommendedAction | Should -BeLike '*select them too with -Table*'
            Assert-SameDatabase $before (Get-DatabaseFingerprint -Server $Main -Database $db)
            ($b | Restore-PgBackup -ConnectionString $uri -Table public.t, public.v, public.mv -Confirm:$false).Tables.Count | Should -BeGreaterThan 0
            Invoke-TestPsql -Server $Main -Database $db -Sql 'SELECT count(*) FROM v' | Should -Be '100'
        }

        It 'reports each error and goes on with -ContinueOnError' {
            $f = New-RestoreFixture
            $folder = Join-Path $Out $f.Name
            New-Item -ItemType Directory $folder | Out-Null
            $gz = New-GuideBackup -Db $f.Name -Folder $folder -Edit { param($t) $t -replace '(?m)^(CREATE TABLE public\.tracks)', "ALTER TABLE public.no_such_table OWNER TO postgres;`nCOMMENT ON TABLE public.no_such_table IS 'x';`n`$1" }
            $errors = @()
            $r = Restore-PgBackup -Path $gz -ConnectionString $f.Uri -Force -ContinueOnError -ErrorVariable errors -ErrorAction SilentlyContinue
            $r.Status | Should -Be 'RestoredWithErrors'
            $errors.Count | Should -Be 2
            $errors[0].FullyQualifiedErrorId | Should -Be 'RestoreStatementFailed,PgBackup.Commands.RestorePgBackupCommand'
            "$($errors[1])" | Should -Match 'no_such_table'
            Assert-SameDatabase -Expected $f.Fingerprint -Actual (Get-DatabaseFingerprint -Server $Main -Database $f.Name)
        }
    }

    Context 'partition trees loaded through their root' {
        BeforeAll {
            # A hash partition key on an enum: pg_dump (since 15.3, 14.8...) loads such a tree through its root, and the
            # restored server's enum hashes put rows into other partitions than the source's. A range tree is loaded
            # into its partitions. Whatever the partitions hold after the restore, the tree's total must match.
            $script:PartDb = New-TestDatabaseName 'parts'
            New-TestDatabase -Server $Main -Name $PartDb -Sql @"
CREATE TYPE color AS ENUM ('red', 'green', 'blue', 'black');
CREATE TABLE paint (c color NOT NULL, v int NOT NULL) PARTITION BY HASH (c);
CREATE TABLE paint_0 PARTITION OF paint FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE paint_1 PARTITION OF paint FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO paint SELECT (ARRAY['red', 'red', 'red', 'red', 'red', 'green', 'green', 'green', 'blue', 'black'])[1 + g % 10]::color, g FROM generate_series(1, 1000) g;
CREATE TABLE readings (v int NOT NULL) PARTITION BY RANGE (v);
CREATE TABLE readings_low PARTITION OF readings FOR VALUES FROM (1) TO (51);
CREATE TABLE readings_high PARTITION OF readings FOR VALUES FROM (51) TO (1000);
INSERT INTO readings SELECT g FROM generate_series(1, 100) g;
"@
            $script:PartUri = Get-TestPostgresUri -Server $Main -Database $PartDb
            $script:PartOut = Join-Path $Out 'parts'
            New-Item -ItemType Directory $PartOut | Out-Null
            function Get-TreeRows([string]$Db) {
                Invoke-TestPsql -Server $Main -Database $Db -Sql "SELECT (SELECT count(*) FROM paint) || '/' || (SELECT sum(v) FROM paint) || ' ' || (SELECT count(*) FROM readings) || '/' || (SELECT count(*) FROM ONLY readings_high)"
            }
        }

        It 'a <Format> backup is tested and restored, verified by each tree''s total' -ForEach @(
            @{ Format = 'Plain' }, @{ Format = 'Custom' }, @{ Format = 'Directory' }
        ) {
            $b = New-PgBackup -ConnectionString $PartUri -Path $PartOut -Format $Format
            ($b | Test-PgBackup).Passed | Should -BeTrue
            $new = New-TestDatabaseName 'partsr'
            $r = $b | Restore-PgBackup -ConnectionString $PartUri -TargetDatabase $new -CreateDatabase -Confirm:$false
            $r.Verified | Should -BeTrue
            Get-TreeRows $new | Should -Be (Get-TreeRows $PartDb)
            ($r.Tables | Where-Object Name -like 'paint*' | Measure-Object Rows -Sum).Sum | Should -Be 1000
        }

        It '-Table of a partitioned table replaces it with its partitions; -Table of a partition, that partition alone' {
            $db = New-TestDatabaseName 'partst'
            $b = New-PgBackup -ConnectionString $PartUri -Path (Join-Path $PartOut 'tables') -Format Custom
            $null = $b | Restore-PgBackup -ConnectionString $PartUri -TargetDatabase $db -CreateDatabase -Confirm:$false
            Invoke-TestPsql -Server $Main -Database $db -Sql 'DELETE FROM readings WHERE v > 10; DELETE FROM paint WHERE v > 500;' | Out-Null
            $verbose = [System.Collections.Generic.List[string]]::new()
            $r = $b | Restore-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Main -Database $db) -Table public.readings -Confirm:$false -Verbose 4>&1 |
                ForEach-Object { if ($_ -is [System.Management.Automation.VerboseRecord]) { $verbose.Add("$_") } else { $_ } }
            $r.Mode | Should -Be 'Partial'
            ($verbose -join "`n") | Should -Match 'readings_low is a partition of a table asked for'
            Invoke-TestPsql -Server $Main -Database $db -Sql 'SELECT count(*) FROM readings' | Should -Be '100'
            Invoke-TestPsql -Server $Main -Database $db -Sql 'SELECT count(*) FROM paint' | Should -Be '500' -Because 'the other tree is not touched'
            Invoke-TestPsql -Server $Main -Database $db -Sql 'DELETE FROM readings WHERE v > 60' | Out-Null
            $null = $b | Restore-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Main -Database $db) -Table public.readings_high -Confirm:$false
            Invoke-TestPsql -Server $Main -Database $db -Sql 'SELECT count(*) FROM readings' | Should -Be '100'
            Invoke-TestPsql -Server $Main -Database $db -Sql 'SELECT count(*) FROM ONLY readings_low' | Should -Be '50'
        }

        It 'the guide''s pg_dump --load-via-partition-root file, and a partition loaded after its root, restore without losing rows' {
            $sqlFile = Join-Path $PartOut 'via-root.sql'
            & bash -c "PGPASSWORD='$($Main.Password)' pg_dump --load-via-partition-root -h 127.0.0.1 -p $($Main.Port) -U postgres '$PartDb' > '$sqlFile'"
            $text = Get-Content -Raw $sqlFile
            ([regex]::Matches($text, '(?m)^COPY public\.readings \(v\) FROM stdin;')).Count | Should -Be 2 -Because 'both partitions load through the root'
            # Rows for one partition straight into it, after the root's COPY put rows there: nothing of either is lost.
            $extra = "COPY public.readings_high (v) FROM stdin;`n" + ((101..150) -join "`n") + "`n\.`n`n"
            [IO.File]::WriteAllText($sqlFile, $text.Insert($text.IndexOf("--`n-- PostgreSQL database dump complete"), $extra))
            $gz = Join-Path $PartOut "backup_${PartDb}_20240315_143022.sql.gz"
            & bash -c "gzip -c '$sqlFile' > '$gz' && rm '$sqlFile'"
            (Test-PgBackup -Path $gz).Passed | Should -BeTrue
            $new = New-TestDatabaseName 'partsg'
            $r = Restore-PgBackup -Path $gz -ConnectionString $PartUri -TargetDatabase $new -CreateDatabase -Confirm:$false
            $r.Verified | Should -BeTrue
            $r.Verification | Should -Match "backup's data"
            Invoke-TestPsql -Server $Main -Database $new -Sql 'SELECT count(*) FROM readings' | Should -Be '150'
            Invoke-TestPsql -Server $Main -Database $new -Sql 'SELECT count(*) FROM ONLY readings_high' | Should -Be '100'
            Invoke-TestPsql -Server $Main -Database $new -Sql 'SELECT count(*) FROM paint' | Should -Be '1000'
        }
    }

    Context 'a restoring role that is neither superuser nor BYPASSRLS' {
        It 'restores and verifies a table with FORCE ROW LEVEL SECURITY, which keeps it, as its owner (Plain and Custom, -Table, the drill, Export-PgBackupData)' {
            # A cloud provider's admin role: it owns what it restores, but FORCE applies the table's policies to it too,
            # and counting with row_security off is refused (PermissionDenied before).
            $o = New-OwnedDatabase 'rls' -Sql @"
CREATE TABLE secret (owner_name text, v int);
INSERT INTO secret SELECT 'u' || (g % 3), g FROM generate_series(1, 30) g;
ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
ALTER TABLE secret FORCE ROW LEVEL SECURITY;
CREATE POLICY mine ON secret USING (owner_name = current_user);
"@
            $db = $o.Database
            $asOwner = $o.AsRole
            foreach ($format in 'Plain', 'Custom') {
                $b = New-PgBackup -ConnectionString $o.Uri -Path (Join-Path $Out "rls-$format") -Format $format
                $r = $b | Restore-PgBackup -ConnectionString $asOwner -Force -Confirm:$false
                $r.Verified | Should -BeTrue
                $r.RowCount | Should -Be 30
                ($b | Test-PgBackup -Restore -ConnectionString $asOwner).Passed | Should -BeTrue
                # Export-PgBackupData gets every row, not those the policy lets the owner see (0 before, silently).
                @($b | Export-PgBackupData -ConnectionString $asOwner -Table secret).Count | Should -Be 30
                # -Table counts inside the target's transaction (a savepoint it rolls back).
                $t = $b | Restore-PgBackup -ConnectionString $asOwner -Table public.secret -Confirm:$false
                ($t.Tables | Where-Object Name -eq 'secret').Rows | Should -Be 30
                Invoke-TestPsql -Server $Main -Database $db -Sql "SELECT relrowsecurity::text || relforcerowsecurity::text FROM pg_class WHERE relname = 'secret'" | Should -Be 'truetrue'
                Invoke-TestPsql -Server $Main -Database $db -Sql 'SELECT count(*) FROM secret' | Should -Be '30'
            }
        }
    }

    Context 'a target used by logical replication or prepared transactions' {
        It 'refuses to replace a database with a replication slot, a subscription or a prepared transaction (dropped, or left with the old copy), and -Table keeps them' {
            # DROP DATABASE drops a database's logical slots without a word: the restore dropped a CDC consumer's slot.
            $server = Start-TestPostgres -Name logical -ServerOptions '-c wal_level=logical -c max_replication_slots=4 -c max_prepared_transactions=2'
            try {
                New-TestDatabase -Server $server -Name cdc -Sql 'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, ''x'' FROM generate_series(1, 20) g;'
                $uri = Get-TestPostgresUri -Server $server -Database cdc
                $b = New-PgBackup -ConnectionString $uri -Path (Join-Path $Out 'logical')
                Invoke-TestPsql -Server $server -Database cdc -Sql "SELECT 1 FROM pg_create_logical_replication_slot('consumer', 'test_decoding')" | Out-Null
                $err = $null
                try { $b | Restore-PgBackup -ConnectionString $uri -Force -Confirm:$false } catch { $err = $_ }
                $err.FullyQualifiedErrorId | Should -Be 'TargetDatabaseInUse,PgBackup.Commands.RestorePgBackupCommand'
                $err.Exception.Message | Should -BeLike "*replication slot 'consumer'*Nothing was changed.*"
                $err.ErrorDetails.RecommendedAction | Should -BeLike '*pg_drop_replication_slot*'
                Invoke-TestPsql -Server $server -Sql 'SELECT slot_name || ''@'' || database FROM pg_replication_slots' | Should -Be 'consumer@cdc'
                # -Table replaces objects inside the database: the slot stays.
                ($b | Restore-PgBackup -ConnectionString $uri -Table public.t -Confirm:$false).Tables.Count | Should -Be 1
                Invoke-TestPsql -Server $server -Sql 'SELECT slot_name || ''@'' || database FROM pg_replication_slots' | Should -Be 'consumer@cdc'

                Invoke-TestPsql -Server $server -Sql "SELECT pg_drop_replication_slot('consumer')" | Out-Null
                Invoke-TestPsql -Server $server -Database cdc -Sql "CREATE SUBSCRIPTION feed CONNECTION 'dbname=nowhere' PUBLICATION pub WITH (connect = false)" | Out-Null
                $err = $null
                try { $b | Restore-PgBackup -ConnectionString $uri -Force -Confirm:$false } catch { $err = $_ }
                $err.FullyQualifiedErrorId | Should -Be 'TargetDatabaseInUse,PgBackup.Commands.RestorePgBackupCommand'
                $err.Exception.Message | Should -BeLike '*subscription feed*'
                (Get-DatabaseNames -Server $server) -join ',' | Should -Be 'cdc,postgres,template0,template1'

                Invoke-TestPsql -Server $server -Database cdc -Sql 'ALTER SUBSCRIPTION feed SET (slot_name = NONE); DROP SUBSCRIPTION feed' | Out-Null
                # A prepared transaction would be committed into the previous copy.
                # Its name, from the catalog, crafted: a quote, a line break and a backslash command; shown, never run.
                $gid = "order'7`n\! touch /tmp/pgbackup-gid-marker"
                Invoke-TestPsql -Server $server -Database cdc -Sql "BEGIN; INSERT INTO t VALUES (100, 'pending'); PREPARE TRANSACTION '$($gid.Replace("'", "''"))';" | Out-Null
                $err = $null
                try { $b | Restore-PgBackup -ConnectionString $uri -Force -Confirm:$false } catch { $err = $_ }
                $err.FullyQualifiedErrorId | Should -Be 'TargetDatabaseInUse,PgBackup.Commands.RestorePgBackupCommand'
                $err.Exception.Message | Should -BeLike "*prepared transaction E'order''7\u000a\\! touch /tmp/pgbackup-gid-marker'*"
                $err.Exception.Message | Should -Not -Match "`n"
                Test-Path /tmp/pgbackup-gid-marker | Should -BeFalse
                $err.ErrorDetails.RecommendedAction | Should -BeLike '*ROLLBACK PREPARED*'
                Invoke-TestPsql -Server $server -Database cdc -Sql "ROLLBACK PREPARED '$($gid.Replace("'", "''"))'" | Out-Null
                ($b | Restore-PgBackup -ConnectionString $uri -Force -Confirm:$false).Verified | Should -BeTrue
            }
            finally { Stop-TestPostgres $server }
        }
    }

    Context 'a restoring role that may not create databases' {
        It 'is refused before anything changes (restore, -Table, drill, export), with what to do' {
            # PgBackup restores into a new database of its own: the database's owner without CREATEDB cannot restore,
            # and the server's own refusal came after a misleading warning about the new database's owner.
            $o = New-OwnedDatabase 'nocd' -RoleOptions 'NOCREATEDB' -Sql 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10);'
            $role = $o.Role; $db = $o.Database
            $b = New-PgBackup -ConnectionString $o.Uri -Path (Join-Path $Out 'nocreatedb')
            Invoke-TestPsql -Server $Main -Database $db -Sql 'INSERT INTO t VALUES (11)' | Out-Null
            $before = Get-DatabaseFingerprint -Server $Main -Database $db
            $asOwner = $o.AsRole
            $calls = @(
                @{ Id = 'RestorePgBackupCommand'; Run = { $b | Restore-PgBackup -ConnectionString $asOwner -Force -Confirm:$false -WarningAction Stop } }
                @{ Id = 'RestorePgBackupCommand'; Run = { $b | Restore-PgBackup -ConnectionString $asOwner -Table public.t -Confirm:$false -WarningAction Stop } }
                @{ Id = 'TestPgBackupCommand'; Run = { $b | Test-PgBackup -Restore -ConnectionString $asOwner -WarningAction Stop } }
                @{ Id = 'ExportPgBackupDataCommand'; Run = { $b | Export-PgBackupData -ConnectionString $asOwner -Table t -WarningAction Stop } }
            )
            foreach ($call in $calls) {
                $err = $null
                try { $null = & $call.Run } catch { $err = $_ }
                $err.FullyQualifiedErrorId | Should -Be "PermissionDenied,PgBackup.Commands.$($call.Id)"
                $err.Exception.Message | Should -BeLike "*'$role' may not create databases*Nothing was changed.*"
                $err.ErrorDetails.RecommendedAction | Should -BeLike "*ALTER ROLE $role CREATEDB*"
            }
            Assert-SameDatabase $before (Get-DatabaseFingerprint -Server $Main -Database $db)
            Get-ScratchDatabases | Should -BeNullOrEmpty
        }
    }

    Context 'owners and privileges the restoring role cannot give' {
        It '<Format>: an owner it may not give objects to, and a grantee the server lacks, fail with what to do; -NoOwner -NoPrivileges restore' -ForEach @(
            @{ Format = 'Plain' }, @{ Format = 'Custom' }
        ) {
            $role = New-TestDatabaseName 'restorer'
            $owner = New-TestDatabaseName 'owner'
            $reader = New-TestDatabaseName 'reader'
            $password = 'pw-' + [guid]::NewGuid().ToString('n')
            $owned = New-TestDatabaseName 'owned'
            $granted = New-TestDatabaseName 'granted'
            Invoke-TestPsql -Server $Main -Sql "CREATE ROLE $role LOGIN CREATEDB PASSWORD '$password'; CREATE ROLE $owner; CREATE ROLE $reader; CREATE DATABASE $owned OWNER $role; CREATE DATABASE $granted OWNER $role;" | Out-Null
            Invoke-TestPsql -Server $Main -Database $owned -Sql "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10); ALTER TABLE t OWNER TO $owner;" | Out-Null
            Invoke-TestPsql -Server $Main -Database $granted -Sql "SET ROLE $role; CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10); GRANT SELECT ON t TO $reader;" | Out-Null
            $ownedBackup = New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Main -Database $owned) -Path (Join-Path $Out "owners-$Format") -Format $Format
            $grantedBackup = New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Main -Database $granted) -Path (Join-Path $Out "owners-$Format") -Format $Format

            # A role it is not a member of ("must be member of role", 42501): PgBackup's executor or pg_restore alike.
            $asRestorer = "postgresql://${role}:$password@127.0.0.1:$($Main.Port)/$owned"
            $before = Get-DatabaseFingerprint -Server $Main -Database $owned
            $err = $null
            try { $ownedBackup | Restore-PgBackup -ConnectionString $asRestorer -Force -Confirm:$false } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'RestoreStatementFailed,PgBackup.Commands.RestorePgBackupCommand'
            $err.ErrorDetails.RecommendedAction | Should -BeLike '*restore with -NoOwner*'
            Assert-SameDatabase $before (Get-DatabaseFingerprint -Server $Main -Database $owned)
            $err = $null
            try { $ownedBackup | Test-PgBackup -Restore -ConnectionString $asRestorer } catch { $err = $_ }
            $err.ErrorDetails.RecommendedAction | Should -BeLike '*restore with -NoOwner*'
            ($ownedBackup | Restore-PgBackup -ConnectionString $asRestorer -Force -Confirm:$false -NoOwner).Verified | Should -BeTrue
            Invoke-TestPsql -Server $Main -Database $owned -Sql "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 't'" | Should -Be $role

            # A grantee that is gone (renamed since): "role ... does not exist" (42704) on the GRANT.
            $asRestorer = "postgresql://${role}:$password@127.0.0.1:$($Main.Port)/$granted"
            Invoke-TestPsql -Server $Main -Sql "ALTER ROLE $reader RENAME TO ${reader}_gone;" | Out-Null
            try {
                $err = $null
                try { $grantedBackup | Restore-PgBackup -ConnectionString $asRestorer -Force -Confirm:$false } catch { $err = $_ }
                $err.FullyQualifiedErrorId | Should -Be 'RestoreStatementFailed,PgBackup.Commands.RestorePgBackupCommand'
                $err.ErrorDetails.RecommendedAction | Should -BeLike '*restore with -NoPrivileges*'
                ($grantedBackup | Restore-PgBackup -ConnectionString $asRestorer -Force -Confirm:$false -NoPrivileges).Verified | Should -BeTrue
            }
            finally { Invoke-TestPsql -Server $Main -Sql "ALTER ROLE ${reader}_gone RENAME TO $reader;" | Out-Null }
            Get-ScratchDatabases | Should -BeNullOrEmpty
        }

        It '<Format>: an extension only a superuser may create fails with what to do, and the target is unchanged' -ForEach @(
            @{ Format = 'Plain' }, @{ Format = 'Custom' }
        ) {
            $o = New-OwnedDatabase 'untrusted' -Sql 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10);'
            $db = $o.Database
            Invoke-TestPsql -Server $Main -Database $db -Sql 'CREATE EXTENSION pg_stat_statements' | Out-Null
            $b = New-PgBackup -ConnectionString $o.Uri -Path (Join-Path $Out "ext-$Format") -Format $Format
            $before = Get-DatabaseFingerprint -Server $Main -Database $db
            $err = $null
            try { $b | Restore-PgBackup -ConnectionString $o.AsRole -Force -Confirm:$false } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'RestoreStatementFailed,PgBackup.Commands.RestorePgBackupCommand'
            $err.Exception.Message | Should -Match 'pg_stat_statements'
            $err.ErrorDetails.RecommendedAction | Should -BeLike '*creates an extension*superuser*'
            Assert-SameDatabase $before (Get-DatabaseFingerprint -Server $Main -Database $db)
            Get-ScratchDatabases | Should -BeNullOrEmpty
        }
    }

    Context 'constraints added after the data' {
        It 'restores NOT VALID constraints that old rows break, of tables and of a domain, from <Format> with -Jobs 2' -ForEach @(
            @{ Format = 'Plain' }, @{ Format = 'Custom' }, @{ Format = 'Directory' }
        ) {
            # pg_restore -j alone adds the domain's NOT VALID constraint before the data of the table using the domain,
            # whose rows it then refuses; PgBackup has it restore all the data first.
            if (-not (Get-Variable NotValidDb -Scope Script -ErrorAction SilentlyContinue)) {
                $script:NotValidDb = New-TestDatabaseName 'notvalid'
                New-TestDatabase -Server $Main -Name $NotValidDb -Sql @"
CREATE TABLE a (id int PRIMARY KEY);
INSERT INTO a VALUES (1);
CREATE TABLE b (id int, aid int, v int);
INSERT INTO b VALUES (1, 1, -5), (2, 99, 10);
ALTER TABLE b ADD CONSTRAINT b_v_positive CHECK (v > 0) NOT VALID;
ALTER TABLE b ADD CONSTRAINT b_aid_fk FOREIGN KEY (aid) REFERENCES a (id) NOT VALID;
CREATE DOMAIN posint AS int;
CREATE TABLE c (x posint);
INSERT INTO c VALUES (-1), (2);
ALTER DOMAIN posint ADD CONSTRAINT posint_check CHECK (VALUE > 0) NOT VALID;
"@
            }
            $uri = Get-TestPostgresUri -Server $Main -Database $NotValidDb
            $b = New-PgBackup -ConnectionString $uri -Path (Join-Path $Out "notvalid-$Format") -Format $Format
            $new = New-TestDatabaseName 'notvalidr'
            $r = $b | Restore-PgBackup -ConnectionString $uri -TargetDatabase $new -CreateDatabase -Jobs 2 -Confirm:$false
            $r.Verified | Should -BeTrue
            Invoke-TestPsql -Server $Main -Database $new -Sql "SELECT count(*) FROM pg_constraint WHERE conname IN ('b_v_positive', 'b_aid_fk', 'posint_check') AND NOT convalidated" | Should -Be '3'
            Invoke-TestPsql -Server $Main -Database $new -Sql 'SELECT sum(x) FROM c' | Should -Be '1'
        }
    }
}
