BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    $script:Db = New-TestDatabaseName 'ex'
    New-TestDatabase -Server $Main -Name $Db -SqlFile $SampleSql
    $script:Uri = Get-TestPostgresUri -Server $Main -Database $Db
    $script:Out = New-TestFolder
    # Partitioned tables (for the partition test).
    $script:PartDb = New-TestDatabaseName 'expart'
    New-TestDatabase -Server $Main -Name $PartDb -Sql @"
CREATE TABLE events (id int NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') PARTITION BY RANGE (at);
CREATE TABLE events_2025_h1 PARTITION OF events_2025 FOR VALUES FROM ('2025-01-01') TO ('2025-07-01');
CREATE TABLE events_2025_h2 PARTITION OF events_2025 FOR VALUES FROM ('2025-07-01') TO ('2026-01-01');
CREATE TABLE other (id int);
INSERT INTO events SELECT g, DATE '2024-06-01' + g FROM generate_series(1, 400) g;
INSERT INTO other SELECT generate_series(1, 5);
"@
}

AfterAll { Remove-TestFolder $Out }

Describe 'Export-PgBackupData' {
    It 'has the expected parameters' {
        $expected = 'Path', 'InputObject', 'Table', 'Where', 'OutFile', 'ConnectionString', 'Credential', 'Passphrase', 'SecretKeyPath', 'SecretKeyPassphrase', 'VerifyKey', 'PgBinPath', 'S3Credential', 'ProfileName', 'Region', 'EndpointUrl', 'S3AddressingStyle', 'S3ChecksumMode', 'S3TimeoutSeconds', 'AzureSasToken', 'AzureConnectionString', 'AzureAccountKey', 'AzureEndpointUrl'
        $actual = (Get-Command Export-PgBackupData).Parameters.Keys | Where-Object { $_ -notin [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters }
        $actual | Sort-Object | Should -Be ($expected | Sort-Object)
    }

    It 'returns the rows of one table from a <Format> backup, and drops its scratch database' -ForEach @(
        @{ Format = 'Plain' }, @{ Format = 'Custom' }, @{ Format = 'Directory' }
    ) {
        $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out $Format) -Format $Format
        $rows = @($b | Export-PgBackupData -Table play_events -Where "user_id = 'user3' AND context->>'device' = 'phone'" -ConnectionString $Uri)
        $expected = Invoke-TestPsql -Server $Main -Database $Db -Sql "SELECT count(*) FROM play_events WHERE user_id = 'user3' AND context->>'device' = 'phone'"
        $rows.Count | Should -Be ([int]$expected)
        $rows[0].user_id | Should -Be 'user3'
        $rows[0].played_at | Should -BeOfType [datetime]
        $rows[0].PSObject.Properties.Name | Should -Be @('id', 'user_id', 'track_id', 'played_at', 'context')
        @(Get-DatabaseNames -Server $Main | Where-Object { $_ -like 'pgbackup_export_*' }).Count | Should -Be 0
    }

    It 'returns every row of a partitioned table and one partition''s rows from a <Format> backup' -ForEach @(
        @{ Format = 'Plain' }, @{ Format = 'Custom' }, @{ Format = 'Directory' }, @{ Format = 'Guide' }, @{ Format = 'Encrypted' }
    ) {
        # A partitioned table holds no rows itself: its rows are its partitions' (a sub-partitioned one too). The guide's
        # file is pg_dump --load-via-partition-root: every partition's data goes through the root.
        $uri = Get-TestPostgresUri -Server $Main -Database $PartDb
        $folder = Join-Path $Out "part-$Format"
        if ($Format -eq 'Guide') {
            New-Item -ItemType Directory $folder | Out-Null
            $path = Join-Path $folder "backup_${PartDb}_20240315_143022.sql.gz"
            & bash -c "PGPASSWORD='$($Main.Password)' pg_dump --load-via-partition-root -h 127.0.0.1 -p $($Main.Port) -U postgres '$PartDb' | gzip > '$path'"
        }
        elseif ($Format -eq 'Encrypted') {
            # A Custom archive streamed to pg_restore (decrypted on the way), read twice: definitions, then data.
            $secret = @{ Passphrase = (ConvertTo-SecureString 'export-pass' -AsPlainText -Force) }
            $path = (New-PgBackup -ConnectionString $uri -Path $folder -Format Custom -EncryptPassphrase $secret.Passphrase).Path
        }
        else { $path = (New-PgBackup -ConnectionString $uri -Path $folder -Format $Format).Path }
        if ($Format -ne 'Encrypted') { $secret = @{} }
        foreach ($t in 'events', 'events_2024', 'events_2025', 'events_2025_h2', 'other') {
            $expected = Invoke-TestPsql -Server $Main -Database $PartDb -Sql "SELECT count(*) || ' ' || sum(id) FROM $t"
            $expected | Should -Not -BeLike '0 *'
            $rows = @(Export-PgBackupData -Path $path -Table $t -ConnectionString $uri @secret)
            "$($rows.Count) $(($rows | Measure-Object id -Sum).Sum)" | Should -Be $expected -Because "$Format, $t"
        }
        @(Get-DatabaseNames -Server $Main | Where-Object { $_ -like 'pgbackup_export_*' }).Count | Should -Be 0
    }

    It 'writes CSV that psql''s \copy loads back: the guide''s scenario 1, end to end' {
        $folder = Join-Path $Out 'dr'
        New-PgBackup -ConnectionString $Uri -Path $folder -Format Custom | Out-Null
        $before = Invoke-TestPsql -Server $Main -Database $Db -Sql "SELECT md5(string_agg(p::text, ',' ORDER BY id)) FROM play_events p WHERE user_id = 'user7'"
        Start-Sleep -Milliseconds 1100
        $deletedAt = [datetime]::UtcNow
        Invoke-TestPsql -Server $Main -Database $Db -Sql "DELETE FROM play_events WHERE user_id = 'user7';" | Out-Null
        New-PgBackup -ConnectionString $Uri -Path $folder -Format Custom | Out-Null   # a later backup, without the rows
        $csv = Join-Path $Out 'lost_rows.csv'
        $r = Get-PgBackup -Path $folder -Before $deletedAt -Latest | Export-PgBackupData -Table play_events -Where "user_id = 'user7'" -OutFile $csv -ConnectionString $Uri
        $r.PSObject.TypeNames[0] | Should -Be 'PgBackup.ExportResult'
        $r.Rows | Should -Be 100
        (Get-Content $csv | Measure-Object).Count | Should -Be 101
        $env:PGPASSWORD = $Main.Password
        try {
            & (Get-PsqlPath) -X -q -h 127.0.0.1 -p $Main.Port -U postgres -d $Db -c "\copy play_events (id, user_id, track_id, played_at, context) FROM '$csv' CSV HEADER" 2>&1 | Out-Null
            $LASTEXITCODE | Should -Be 0
        }
        finally { Remove-Item Env:PGPASSWORD }
        Invoke-TestPsql -Server $Main -Database $Db -Sql "SELECT md5(string_agg(p::text, ',' ORDER BY id)) FROM play_events p WHERE user_id = 'user7'" | Should -Be $before
    }

    It 'exports a table that takes longer than the role''s own statement_timeout' {
        # A statement_timeout set on the role is for its users' sessions; it cancelled the export's COPY (and would
        # cancel the row count of a large table), as it would not cancel pg_dump's or pg_restore's work.
        $role = New-TestDatabaseName 'timed'
        $password = 'pw-' + [guid]::NewGuid().ToString('n')
        $db = New-TestDatabaseName 'extimed'
        Invoke-TestPsql -Server $Main -Sql "CREATE ROLE $role LOGIN CREATEDB PASSWORD '$password'; CREATE DATABASE $db OWNER $role;" | Out-Null
        Invoke-TestPsql -Server $Main -Database $db -Sql "SET ROLE $role; CREATE TABLE big (id int, t text); INSERT INTO big SELECT g, md5(g::text) || md5((g + 1)::text) FROM generate_series(1, 600000) g;" | Out-Null
        $b = New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Main -Database $db) -Path (Join-Path $Out 'timed')
        Invoke-TestPsql -Server $Main -Sql "ALTER ROLE $role SET statement_timeout = '100ms'" | Out-Null
        $csv = Join-Path $Out 'timed.csv'
        # Autovacuum may visit the scratch database of 600,000 rows as it is dropped: a DROP ... WITH (FORCE) by this
        # role, which may not end it, failed then (a warning, and the database stayed).
        $r = $b | Export-PgBackupData -Table big -OutFile $csv -ConnectionString "postgresql://${role}:$password@127.0.0.1:$($Main.Port)/$db" -WarningAction Stop
        $r.Rows | Should -Be 600000
        @(Get-DatabaseNames -Server $Main | Where-Object { $_ -like 'pgbackup_export_*' }).Count | Should -Be 0
        Invoke-TestPsql -Server $Main -Sql "SELECT setconfig::text FROM pg_db_role_setting WHERE setrole = '$role'::regrole" | Should -Be '{statement_timeout=100ms}'
    }

    It 'says so when the table or the condition is wrong' {
        $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'wrong') -Format Custom -SchemaOnly
        { $b | Export-PgBackupData -Table no_such_table -ConnectionString $Uri } | Should -Throw -ErrorId 'ExportFailed,PgBackup.Commands.ExportPgBackupDataCommand'
        { $b | Export-PgBackupData -Table users -Where 'no_such_column = 1' -ConnectionString $Uri } | Should -Throw -ErrorId 'ExportFailed,PgBackup.Commands.ExportPgBackupDataCommand'
        @(Get-DatabaseNames -Server $Main | Where-Object { $_ -like 'pgbackup_export_*' }).Count | Should -Be 0
    }
}

Describe 'Roles: New-PgBackup -Globals and Restore-PgBackup -CreateRoles' {
    It 'saves the roles beside the backup and creates the missing ones on a new server' {
        $role = 'app_owner_' + [guid]::NewGuid().ToString('n').Substring(0, 6)
        $db = New-TestDatabaseName 'roles'
        Invoke-TestPsql -Server $Main -Sql "CREATE ROLE $role LOGIN PASSWORD 'owner-pw'; CREATE ROLE ${role}_readers; GRANT ${role}_readers TO $role; ALTER ROLE $role SET work_mem = '5MB';" | Out-Null
        New-TestDatabase -Server $Main -Name $db -Sql "CREATE TABLE t (a int); INSERT INTO t VALUES (1); ALTER TABLE t OWNER TO $role; GRANT SELECT ON t TO ${role}_readers;"
        $b = New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Main -Database $db) -Path (Join-Path $Out 'roles') -Format Custom -Globals
        $b.HasGlobals | Should -BeTrue
        $b.Manifest.Globals.Roles | Should -Contain $role
        $globals = Join-Path $b.Location $b.Manifest.Globals.Name
        Test-Path $globals | Should -BeTrue
        @(Get-PgBackup -Path $b.Location).Count | Should -Be 1 -Because 'the globals file is part of the backup, not a backup'

        $new = $Servers.New
        { $b | Restore-PgBackup -ConnectionString (Get-TestPostgresUri -Server $new -Database $db) -CreateDatabase -Confirm:$false } |
            Should -Throw -ErrorId 'RestoreStatementFailed,PgBackup.Commands.RestorePgBackupCommand'
        $r = $b | Restore-PgBackup -ConnectionString (Get-TestPostgresUri -Server $new -Database $db) -CreateDatabase -CreateRoles -Confirm:$false
        $r.RolesCreated | Should -Contain $role
        $r.RolesCreated | Should -Contain "${role}_readers"
        $r.RolesCreated | Should -Not -Contain 'postgres'
        Invoke-TestPsql -Server $new -Database $db -Sql "SELECT tableowner FROM pg_tables WHERE tablename = 't'" | Should -Be $role
        Invoke-TestPsql -Server $new -Sql "SELECT pg_has_role('$role', '${role}_readers', 'member')" | Should -Be 't'
        # The role can log in with its old password (its SCRAM secret came along).
        $env:PGPASSWORD = 'owner-pw'
        try { (& (Get-PsqlPath) -X -A -t -h 127.0.0.1 -p $new.Port -U $role -d $db -c 'SELECT count(*) FROM t' 2>&1) | Should -Be '1' }
        finally { Remove-Item Env:PGPASSWORD }

        Remove-PgBackup -Path $b.Path -Confirm:$false
        Test-Path $globals | Should -BeFalse
    }

    It 'leaves role passwords out with -NoRolePasswords' {
        $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'nopw') -SchemaOnly -Globals -NoRolePasswords
        $b.Manifest.Globals.WithoutPasswords | Should -BeTrue
        (Get-Content -Raw (Join-Path $b.Location $b.Manifest.Globals.Name)) | Should -Not -Match 'SCRAM-SHA-256'
    }
}
