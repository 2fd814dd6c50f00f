# New-PgBackup -Engine Native (issue 20): PgBackup's own dump over Npgsql. One fixture database per server version
# (tests/fixtures/native.sql, every object kind), backed up once and restored twice (psql, Restore-PgBackup), with
# several checks per restore: on PostgreSQL 15 the oracle is pg_dump --schema-only, on 14, 17 and 18 (no fitting
# pg_dump here) the SQL-only catalog fingerprint; data by per-table checksums everywhere. Then -Jobs, pg_dump's scope
# parameters, objects the engine does not reproduce, a snapshot under concurrent writes and DDL, and lock waits.
BeforeDiscovery {
    # All four servers on the PowerShell 7 build; 15 and 18 on the Windows PowerShell build (the same engine over
    # Npgsql 8), which keeps the suite short.
    $script:FidelityServers = if ($env:PGBACKUP_TEST_FRAMEWORK -eq 'net8.0') { @('Old', 'Main', 'New', 'Newest') } else { @('Main', 'Newest') }
    $script:Full = $env:PGBACKUP_TEST_FRAMEWORK -eq 'net8.0'
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    $script:Out = New-TestFolder
    $script:Fixture = Join-Path $PSScriptRoot 'fixtures/native.sql'

    function Remove-TestDatabase([object]$Server, [string]$Name) {
        Invoke-TestPsql -Server $Server -Sql "DROP DATABASE IF EXISTS `"$Name`" WITH (FORCE);" | Out-Null
    }

    function Read-BackupText([string]$Path) {
        # A backup's script as text (gzip or none).
        $stream = [System.IO.File]::OpenRead($Path)
        if ($Path -like '*.gz') { $stream = [System.IO.Compression.GZipStream]::new($stream, [System.IO.Compression.CompressionMode]::Decompress) }
        $reader = [System.IO.StreamReader]::new($stream, [System.Text.UTF8Encoding]::new($false))
        try { $reader.ReadToEnd() } finally { $reader.Dispose() }
    }

    function Get-EntryTypes([string]$Text) {
        # The Type of every entry header (-- Name: ...; Type: X; ...), as pg_dump writes them.
        @([regex]::Matches($Text, '(?m)^-- (?:Data for )?Name: .*; Type: ([^;]+); Schema:') | ForEach-Object { $_.Groups[1].Value } | Sort-Object -Unique)
    }
}

AfterAll { Remove-TestFolder $Out }

Describe 'New-PgBackup -Engine Native on PostgreSQL <_>: a backup that restores to the same database' -ForEach $FidelityServers {
    BeforeAll {
        $script:Server = $Servers.$_
        $script:Db = New-TestDatabaseName "native$($Server.Major)"
        New-TestDatabase -Server $Server -Name $Db -SqlFile $Fixture
        $script:Uri = Get-TestPostgresUri -Server $Server -Database $Db
        # PostgreSQL 15: pg_dump --schema-only is the oracle; the others: the catalog fingerprint.
        $script:UseCatalog = $Server.Major -ne 15
        $script:Source = Get-DatabaseFingerprint -Server $Server -Database $Db -Catalog:$UseCatalog
        $script:SourceCatalog = if ($UseCatalog) { $Source.Schema } else { Get-CatalogSchema -Server $Server -Database $Db }
        $script:Backup = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out "native-$($Server.Major)") -Engine Native
        $script:Text = Read-BackupText $Backup.Path
        $script:ByPsql = New-TestDatabaseName 'natpsql'
        Restore-WithStockTools -Server $Server -Backup $Backup -Database $ByPsql
        $script:ByPgBackup = New-TestDatabaseName 'natrest'
        $script:Restore = Restore-PgBackup -Path $Backup.Path -ConnectionString $Uri -TargetDatabase $ByPgBackup -CreateDatabase -Confirm:$false
        $script:RestoredCatalog = Get-CatalogSchema -Server $Server -Database $ByPgBackup
    }
    AfterAll {
        Remove-TestDatabase $Server $Db
        Remove-TestDatabase $Server $ByPsql
        Remove-TestDatabase $Server $ByPgBackup
    }

    It 'records the native engine in the manifest, with the exact row count of every table' {
        $Backup.Status | Should -Be 'Complete'
        $Backup.Engine | Should -Be 'Native'
        $Backup.PgDumpVersion | Should -BeNullOrEmpty
        (Get-Content -Raw "$($Backup.Path).json" | ConvertFrom-Json).engine | Should -Be 'Native'
        $Text | Should -Match '-- Dumped by PgBackup .* \(native engine\)'
        $Text | Should -Match 'PostgreSQL database dump complete'
        # Every plain table is in the backup, empty ones too (partitioned parents hold no rows of their own), with its
        # own rows (not its inheritance children's).
        $counts = Invoke-TestPsql -Server $Server -Database $Db -Sql @'
SELECT format('%I.%I', n.nspname, c.relname) || ' ' || (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM ONLY %I.%I', n.nspname, c.relname), false, true, '')))[1]::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1;
'@
        @($Backup.Tables | ForEach-Object { "$($_.QualifiedName) $($_.Rows)" } | Sort-Object) -join "`n" | Should -Be (@($counts | Sort-Object) -join "`n")
    }

    It 'restored by psql, equals the source' {
        Assert-SameDatabase -Expected $Source -Actual (Get-DatabaseFingerprint -Server $Server -Database $ByPsql -Catalog:$UseCatalog)
    }

    It 'restored by Restore-PgBackup, equals the source and is verified' {
        $Restore.Verified | Should -BeTrue
        $Restore.RowCount | Should -Be $Backup.RowCount
        Assert-SameDatabase -Expected $Source -Actual (Get-DatabaseFingerprint -Server $Server -Database $ByPgBackup -Catalog:$UseCatalog)
        $RestoredCatalog | Should -Be $SourceCatalog
    }

    It 'passes Test-PgBackup: every statement is one PgBackup''s restore runs' {
        $t = Test-PgBackup -Path $Backup.Path
        $t.Passed | Should -BeTrue
    }

    # Each object kind the issue lists: written as pg_dump writes it (the entry types in the script), and restored
    # with the same catalog facts (the fingerprint's lines for it: present in the source, equal after the restore).
    It 'writes and restores <Kind>' -ForEach @(
        @{ Kind = 'schemas'; Types = 'SCHEMA'; Lines = '^N (core|"select"|select|Ärger)' }
        @{ Kind = 'extensions, not their members'; Types = 'EXTENSION'; Lines = '^E citext ' }
        @{ Kind = 'collations'; Types = 'COLLATION'; Lines = '^CO ' }
        @{ Kind = 'enum types'; Types = 'TYPE'; Lines = '^Y core\.mood type=e' }
        @{ Kind = 'composite types'; Types = 'TYPE'; Lines = '^(Y core\.pair type=c|A core\.pair )' }
        @{ Kind = 'domains with their constraints'; Types = 'DOMAIN', 'CHECK CONSTRAINT'; Lines = '^(Y core\.(percent|code) type=d|K - core\.percent )' }
        @{ Kind = 'range types and their multiranges'; Types = 'TYPE'; Lines = '^(RG |Y core\.float(multi)?range )' }
        @{ Kind = 'sequences: options, OWNED BY, current value'; Types = 'SEQUENCE', 'SEQUENCE OWNED BY', 'SEQUENCE SET'; Lines = '^(S |Q )' }
        @{ Kind = 'identity columns'; Types = 'SEQUENCE'; Lines = '^A .* identity=[ad] ' }
        @{ Kind = 'tables: types, defaults, generated columns, NOT NULL, collations, storage, compression, statistics'; Types = 'TABLE', 'DEFAULT'; Lines = '^A core\.(accounts|serials|typed) ' }
        @{ Kind = 'storage parameters, UNLOGGED, replica identity, typed tables'; Types = 'TABLE'; Lines = '^R core\.(accounts|scratchpad|typed) ' }
        @{ Kind = 'inheritance'; Types = 'TABLE'; Lines = '^(H core\.child |A core\.child |K core\.child )' }
        @{ Kind = 'partitions with their bounds, default partitions'; Types = 'TABLE ATTACH'; Lines = '^(R core\.(events|buckets)|H core\.(events|buckets))' }
        @{ Kind = 'indexes on partitioned tables'; Types = 'INDEX ATTACH', 'INDEX'; Lines = '^(I CREATE INDEX events_kind |H core\.events_\S*(kind_idx|pkey) )' }
        @{ Kind = 'constraints: primary key, unique, check, foreign key, exclusion'; Types = 'CONSTRAINT', 'FK CONSTRAINT'; Lines = '^K ' }
        @{ Kind = 'indexes: partial, expression, INCLUDE, operator class, clustered'; Types = 'INDEX'; Lines = '^(I |J )' }
        @{ Kind = 'views with options and check option'; Types = 'VIEW'; Lines = '^(V |R core\.(positive_accounts|happy|per_account|loop_view) )' }
        @{ Kind = 'views in dependency loops (placeholder views)'; Types = 'VIEW', 'RULE'; Lines = '^V core\.(per_account|loop_view) ' }
        @{ Kind = 'materialized views and their REFRESH'; Types = 'MATERIALIZED VIEW', 'MATERIALIZED VIEW DATA'; Lines = '^M ' }
        @{ Kind = 'functions and procedures'; Types = 'FUNCTION', 'PROCEDURE'; Lines = '^(F |FO )' }
        @{ Kind = 'aggregates'; Types = 'AGGREGATE'; Lines = '^G ' }
        @{ Kind = 'operators'; Types = 'OPERATOR'; Lines = '^X ' }
        @{ Kind = 'casts'; Types = 'CAST'; Lines = '^Z ' }
        @{ Kind = 'triggers, also on partitions'; Types = 'TRIGGER'; Lines = '^T ' }
        @{ Kind = 'event triggers'; Types = 'EVENT TRIGGER'; Lines = '^EV ' }
        @{ Kind = 'rules'; Types = 'RULE'; Lines = '^U ' }
        @{ Kind = 'row-level security and policies'; Types = 'ROW SECURITY', 'POLICY'; Lines = '^(P |R core\.accounts )' }
        @{ Kind = 'statistics objects'; Types = 'STATISTICS'; Lines = '^W ' }
        @{ Kind = 'publications'; Types = 'PUBLICATION', 'PUBLICATION TABLE'; Lines = '^(B |BT |BS )' }
        @{ Kind = 'comments'; Types = 'COMMENT'; Lines = '^DS ' }
        @{ Kind = 'ownership'; Types = 'TABLE'; Lines = '^(O |N |FO )' }
        @{ Kind = 'privileges, column privileges'; Types = 'ACL'; Lines = '^(O core\.(accounts|log|positive_accounts) |A core\.accounts .* acl=\{)' }
        @{ Kind = 'default privileges'; Types = 'DEFAULT ACL'; Lines = '^DA ' }
        @{ Kind = 'large objects'; Types = 'BLOB', 'BLOBS'; Lines = '^L ' }
    ) {
        $types = Get-EntryTypes $Text
        foreach ($t in $Types) { $types | Should -Contain $t }
        $expected = @(($SourceCatalog -split "`n") -match $Lines)
        $expected.Count | Should -BeGreaterThan 0 -Because "the fixture holds $Kind"
        @(($RestoredCatalog -split "`n") -match $Lines) | Should -Be $expected
    }

    It 'writes and restores table data with NULLs, tabs, newlines, backslashes and text that looks like COPY''s markers' {
        $Text | Should -Match '(?m)^COPY core\.scratchpad \(k, v\) FROM stdin;$'
        $Text | Should -Match '(?m)^\\\\\.\tlooks like the end$'
        Invoke-TestPsql -Server $Server -Database $ByPgBackup -Sql "SELECT count(*) FROM core.accounts WHERE ""user"" = E'a\tb\nc\rd\\e' OR ""user"" = E'\\N';" | Should -Be '2'
        $Source.LargeObjects | Should -Not -BeNullOrEmpty
    }
}

Describe 'New-PgBackup -Engine Native: -Jobs, scope parameters, objects it does not reproduce' {
    BeforeAll {
        $script:Db = New-TestDatabaseName 'natopt'
        New-TestDatabase -Server $Main -Name $Db -SqlFile $SampleSql
        $script:Uri = Get-TestPostgresUri -Server $Main -Database $Db
        $script:Source = Get-DatabaseFingerprint -Server $Main -Database $Db
    }
    AfterAll { Remove-TestDatabase $Main $Db }

    It '-Jobs 2 reads table data on two connections in one snapshot, and restores to the same database' {
        $verbose = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'jobs') -Jobs 2 -Verbose 4>&1
        $b = $verbose | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        ($verbose | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message) -join "`n" |
            Should -Match '(?s)native engine: a Plain backup with -Jobs 2.*table data on 2 connections'
        $b.Engine | Should -Be 'Native'
        $target = New-TestDatabaseName 'natjobs'
        try {
            (Restore-PgBackup -Path $b.Path -ConnectionString $Uri -TargetDatabase $target -CreateDatabase -Confirm:$false).Verified | Should -BeTrue
            Assert-SameDatabase -Expected $Source -Actual (Get-DatabaseFingerprint -Server $Main -Database $target)
        }
        finally { Remove-TestDatabase $Main $target }
    }

    It '-Jobs 2 keeps a block larger than its 8 MB of memory in a temporary file while another connection writes, and the data arrives whole and in order' {
        # Three tables of about 12 MB of COPY text each: while one connection writes its block into the script, the
        # others keep theirs, in memory up to 8 MB, then in a temporary file.
        $big = New-TestDatabaseName 'natspill'
        New-TestDatabase -Server $Main -Name $big -Sql ((@('a', 'b', 'c') | ForEach-Object {
                "CREATE TABLE big_$_ (id int PRIMARY KEY, t text); INSERT INTO big_$_ SELECT g, md5(g::text) || repeat('$_', 40) FROM generate_series(1, 160000) g;"
            }) -join "`n")
        $sum = "SELECT string_agg(n || ':' || c || ':' || h, ',' ORDER BY n) FROM (SELECT 'a' AS n, count(*) AS c, md5(string_agg(t, ',' ORDER BY id)) AS h FROM big_a " +
            "UNION ALL SELECT 'b', count(*), md5(string_agg(t, ',' ORDER BY id)) FROM big_b UNION ALL SELECT 'c', count(*), md5(string_agg(t, ',' ORDER BY id)) FROM big_c) s;"
        $target = New-TestDatabaseName 'natspilled'
        try {
            $b = New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Main -Database $big) -Path (Join-Path $Out 'spill') -Jobs 2 -Compression None
            $b.Tables | ForEach-Object Rows | Should -Be @(160000, 160000, 160000)
            (Restore-PgBackup -Path $b.Path -ConnectionString $Uri -TargetDatabase $target -CreateDatabase -Confirm:$false).Verified | Should -BeTrue
            Invoke-TestPsql -Server $Main -Database $target -Sql $sum | Should -Be (Invoke-TestPsql -Server $Main -Database $big -Sql $sum)
        }
        finally { Remove-TestDatabase $Main $target; Remove-TestDatabase $Main $big }
    }

    It 'writes the objects pg_dump writes with <Options>' -Skip:(-not $Full) -ForEach @(
        @{ Options = '-Schema public'; Native = @{ Schema = 'public' }; PgDump = @('--schema=public') }
        @{ Options = '-ExcludeSchema public'; Native = @{ ExcludeSchema = 'public' }; PgDump = @('--exclude-schema=public') }
        @{ Options = '-Table public.users, "public.play_*"'; Native = @{ Table = 'public.users', 'public.play_*' }; PgDump = @('--table=public.users', '--table=public.play_*') }
        @{ Options = '-ExcludeTable public.play_events -ExcludeTableData public.tracks'; Native = @{ ExcludeTable = 'public.play_events'; ExcludeTableData = 'public.tracks' }; PgDump = @('--exclude-table=public.play_events', '--exclude-table-data=public.tracks') }
        @{ Options = '-SchemaOnly -NoOwner -NoPrivileges'; Native = @{ SchemaOnly = $true; NoOwner = $true; NoPrivileges = $true }; PgDump = @('--schema-only', '--no-owner', '--no-privileges') }
        @{ Options = '-DataOnly'; Native = @{ DataOnly = $true }; PgDump = @('--data-only') }
    ) {
        $folder = Join-Path $Out ('scope-' + [guid]::NewGuid().ToString('n'))
        $native = New-PgBackup -ConnectionString $Uri -Path $folder -Engine Native -Compression None @Native
        $env:PGPASSWORD = $Main.Password
        try { $pgDump = & (Join-Path (Get-InstalledPostgresBin) 'pg_dump') -h 127.0.0.1 -p $Main.Port -U $Main.User @PgDump $Db }
        finally { Remove-Item Env:PGPASSWORD }
        $LASTEXITCODE | Should -Be 0
        $entries = { param($text) @([regex]::Matches($text, '(?m)^-- (?:Data for )?Name: .*$') | ForEach-Object Value | Sort-Object) }
        (& $entries (Read-BackupText $native.Path)) -join "`n" | Should -Be ((& $entries ($pgDump -join "`n")) -join "`n")
        @($native.Tables | ForEach-Object QualifiedName | Sort-Object) -join ',' |
            Should -Be (@([regex]::Matches(($pgDump -join "`n"), '(?m)^COPY (\S+) ') | ForEach-Object { $_.Groups[1].Value } | Sort-Object) -join ',')
    }

    It 'refuses a database holding an object of a kind it does not reproduce, names it, and leaves nothing that looks like a backup' {
        $db = New-TestDatabaseName 'natfdw'
        New-TestDatabase -Server $Main -Name $db -Sql "CREATE FOREIGN DATA WRAPPER native_fdw; CREATE SERVER ""Remote Srv"" FOREIGN DATA WRAPPER native_fdw; CREATE TABLE t (a int); INSERT INTO t VALUES (1);"
        $folder = Join-Path $Out 'unsupported'
        try {
            $err = $null
            try { New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Main -Database $db) -Path $folder -Engine Native } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'UnsupportedObject,PgBackup.Commands.NewPgBackupCommand'
            "$err" | Should -Match 'foreign server "Remote Srv"'
            "$err" | Should -Match 'foreign-data wrapper native_fdw'
            $err.CategoryInfo.Category | Should -Be 'NotImplemented'
            Get-BackupLikeFiles $folder | Should -BeNullOrEmpty
        }
        finally { Remove-TestDatabase $Main $db }
    }
}

Describe 'New-PgBackup -Engine Native: hash partitions on an enum' {
    It 'loads their rows through the root as pg_dump does, and the backup restores by psql and by Restore-PgBackup with every row' {
        # The restored enum gets other OIDs, so other hashes: rows written into their old partitions would break the
        # partition constraint. pg_dump loads such trees through the root (and says so in a comment); so must PgBackup.
        $db = New-TestDatabaseName 'natenum'
        New-TestDatabase -Server $Main -Name $db -Sql @"
CREATE TYPE tint AS ENUM ('red', 'green', 'blue', 'black');
CREATE TABLE paint (c tint NOT NULL, v int) PARTITION BY HASH (c);
CREATE TABLE paint_0 PARTITION OF paint FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE paint_1 PARTITION OF paint FOR VALUES WITH (MODULUS 2, REMAINDER 1) PARTITION BY RANGE (v);
CREATE TABLE paint_1_low PARTITION OF paint_1 FOR VALUES FROM (MINVALUE) TO (100);
CREATE TABLE paint_1_high PARTITION OF paint_1 FOR VALUES FROM (100) TO (MAXVALUE);
CREATE TABLE plain_range (v int) PARTITION BY RANGE (v);
CREATE TABLE plain_range_all PARTITION OF plain_range FOR VALUES FROM (MINVALUE) TO (MAXVALUE);
INSERT INTO paint SELECT (ARRAY['red', 'red', 'red', 'green', 'blue', 'black'])[1 + g % 6]::tint, g FROM generate_series(1, 300) g;
INSERT INTO plain_range SELECT generate_series(1, 10);
"@
        $uri = Get-TestPostgresUri -Server $Main -Database $db
        $b = New-PgBackup -ConnectionString $uri -Path (Join-Path $Out 'enum-hash') -Engine Native
        $text = Read-BackupText $b.Path
        $env:PGPASSWORD = $Main.Password
        try { $byPgDump = & (Join-Path (Get-InstalledPostgresBin) 'pg_dump') -h 127.0.0.1 -p $Main.Port -U $Main.User $db }
        finally { Remove-Item Env:PGPASSWORD }
        $lines = { param($t) @($t -split "`n" | Where-Object { $_ -like '-- load via partition root *' -or $_ -like 'COPY *' }) }
        (& $lines $text) | Should -Be (& $lines ($byPgDump -join "`n")) -Because 'the same COPY targets and comments as pg_dump'
        @($text -split "`n" | Where-Object { $_ -like 'COPY public.paint *' }).Count | Should -Be 3
        @($text -split "`n" | Where-Object { $_ -like 'COPY public.plain_range_all *' }).Count | Should -Be 1
        $byPsql = New-TestDatabaseName 'natenumpsql'
        Restore-WithStockTools -Server $Main -Backup $b -Database $byPsql
        $r = $b | Restore-PgBackup -ConnectionString $uri -TargetDatabase "${db}_r" -CreateDatabase -Confirm:$false
        $r.Verified | Should -BeTrue
        $sum = 'SELECT count(*) || '' '' || sum(v) || '' '' || (SELECT count(*) FROM plain_range) FROM paint'
        foreach ($restored in $byPsql, "${db}_r") {
            Invoke-TestPsql -Server $Main -Database $restored -Sql $sum | Should -Be '300 45150 10'
        }
        ($b | Test-PgBackup).Passed | Should -BeTrue
    }
}

Describe 'New-PgBackup -Engine Native: one snapshot, locks as pg_dump takes them' {
    BeforeAll {
        $script:Db = New-TestDatabaseName 'natsnap'
        # first_locked is created first: the backup locks tables in creation order and waits on it.
        New-TestDatabase -Server $Main -Name $Db -Sql @'
CREATE TABLE public.first_locked (id int PRIMARY KEY);
CREATE TABLE public.busy (id int PRIMARY KEY, v text);
INSERT INTO public.first_locked SELECT generate_series(1, 10);
INSERT INTO public.busy SELECT g, 'v' || g FROM generate_series(1, 1000) g;
CREATE VIEW public.busy_view AS SELECT id FROM public.busy WHERE id > 500;
'@
        $script:Uri = Get-TestPostgresUri -Server $Main -Database $Db

        function Wait-NativeWaiting {
            # Waits until the native engine's session waits for a table lock.
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while ([DateTime]::UtcNow -lt $deadline) {
                $n = Invoke-TestPsql -Server $Main -Sql "SELECT count(*) FROM pg_stat_activity WHERE datname = '$Db' AND application_name = 'PgBackup' AND wait_event_type = 'Lock';"
                if ([int]($n | Select-Object -Last 1) -gt 0) { return }
                Start-Sleep -Milliseconds 100
            }
            throw 'The native engine did not start waiting for its lock.'
        }
    }
    AfterAll { Remove-TestDatabase $Main $Db }

    It 'concurrent writes and DDL during the backup do not change what it contains' {
        $before = Get-DatabaseFingerprint -Server $Main -Database $Db
        $lock = Start-TableLock -Server $Main -Database $Db -Table 'public.first_locked'
        $job = $null
        try {
            $job = Start-AsyncPipeline -Script { param($u, $p) New-PgBackup -ConnectionString $u -Path $p -Engine Native } -Arguments $Uri, (Join-Path $Out 'snapshot')
            Wait-NativeWaiting
            # The snapshot is taken; now rows change, a table appears, a column and an index are added.
            Invoke-TestPsql -Server $Main -Database $Db -Sql @'
INSERT INTO public.busy SELECT g, 'new' FROM generate_series(1001, 2000) g;
UPDATE public.busy SET v = 'changed' WHERE id <= 100;
DELETE FROM public.busy WHERE id BETWEEN 200 AND 300;
CREATE TABLE public.late (x int);
INSERT INTO public.late VALUES (1);
ALTER TABLE public.busy ADD COLUMN added int DEFAULT 7;
CREATE INDEX busy_v ON public.busy (v);
'@ | Out-Null
            Stop-TableLock $lock
            $lock = $null
            $b = $job.PowerShell.EndInvoke($job.Handle) | Select-Object -Last 1
            $job.PowerShell.Streams.Error | Should -BeNullOrEmpty
        }
        finally { Stop-TableLock $lock; Stop-AsyncPipeline $job }
        $b.Engine | Should -Be 'Native'
        ($b.Tables | Where-Object Name -eq 'busy').Rows | Should -Be 1000
        $b.Tables.Name | Should -Not -Contain 'late'
        $target = New-TestDatabaseName 'natsnapr'
        try {
            Restore-PgBackup -Path $b.Path -ConnectionString $Uri -TargetDatabase $target -CreateDatabase -Confirm:$false | Out-Null
            Assert-SameDatabase -Expected $before -Actual (Get-DatabaseFingerprint -Server $Main -Database $target)
        }
        finally { Remove-TestDatabase $Main $target }
    }

    It 'fails with NativeDumpFailed (OperationTimeout), keeping nothing, when a table stays locked longer than -LockWaitTimeoutSeconds' {
        $folder = Join-Path $Out 'locked'
        $lock = Start-TableLock -Server $Main -Database $Db -Table 'public.busy'
        try {
            $err = $null
            $clock = [Diagnostics.Stopwatch]::StartNew()
            try { New-PgBackup -ConnectionString $Uri -Path $folder -Engine Native -LockWaitTimeoutSeconds 1 } catch { $err = $_ }
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 20
            $err.FullyQualifiedErrorId | Should -Be 'NativeDumpFailed,PgBackup.Commands.NewPgBackupCommand'
            $err.CategoryInfo.Category | Should -Be 'OperationTimeout'
            "$err" | Should -Match 'LockWaitTimeoutSeconds'
            Get-BackupLikeFiles $folder | Should -BeNullOrEmpty
        }
        finally { Stop-TableLock $lock }
    }
}
