# Plain backups restored by PgBackup's own executor, never by psql: hostile scripts run nothing, real pg_dump scripts
# restore as psql restores them, -Jobs 2 gives what -Jobs 1 gives, and a -Table restore is all or nothing.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    $script:Out = New-TestFolder
    $script:Latin1 = [System.Text.Encoding]::GetEncoding('ISO-8859-1')

    function Get-GuideDumpText([string]$Db, [object]$Server = $Main, [string[]]$Options = @()) {
        # pg_dump's plain script of a database, as text whose characters are its bytes (Latin-1 maps them one to one).
        $file = Join-Path $Out ("dump-" + [guid]::NewGuid().ToString('n') + '.sql')
        $env:PGPASSWORD = $Server.Password
        try {
            & (Join-Path (Get-InstalledPostgresBin) 'pg_dump') --no-password -h 127.0.0.1 -p $Server.Port -U $Server.User @Options -f $file $Db
            if ($LASTEXITCODE -ne 0) { throw "pg_dump failed for $Db" }
        }
        finally { Remove-Item Env:PGPASSWORD -ErrorAction SilentlyContinue }
        $text = $Latin1.GetString([System.IO.File]::ReadAllBytes($file))
        Remove-Item $file
        $text
    }

    function Save-GuideBackup([string]$Text, [string]$Db, [string]$Folder) {
        # The guide's backup-database.sh output: backup_<db>_<timestamp>.sql.gz, gzip of the script, no manifest.
        New-Item -ItemType Directory -Force -Path $Folder | Out-Null
        $path = Join-Path $Folder "backup_${Db}_20240315_143022.sql.gz"
        $bytes = $Latin1.GetBytes($Text)
        $file = [System.IO.File]::Create($path)
        try {
            $gz = [System.IO.Compression.GZipStream]::new($file, [System.IO.Compression.CompressionLevel]::Fastest)
            $gz.Write($bytes, 0, $bytes.Length)
            $gz.Dispose()
        }
        finally { $file.Dispose() }
        $path
    }

    function Invoke-Psql([object]$Server, [string]$Database, [string]$ScriptText) {
        # Runs a script with the stock psql, as the guide's restore does (ON_ERROR_STOP); returns its exit code.
        $file = Join-Path $Out ("psql-" + [guid]::NewGuid().ToString('n') + '.sql')
        [System.IO.File]::WriteAllBytes($file, $Latin1.GetBytes($ScriptText))
        $env:PGPASSWORD = $Server.Password
        try {
            & (Get-PsqlPath) -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $Server.Port -U $Server.User -d $Database -f $file *> $null
            $LASTEXITCODE
        }
        finally { Remove-Item Env:PGPASSWORD -ErrorAction SilentlyContinue; Remove-Item $file }
    }

    function Read-GzipText([string]$Path) {
        # A gzip'd script as text whose characters are its bytes.
        $reader = [System.IO.StreamReader]::new([System.IO.Compression.GZipStream]::new([System.IO.File]::OpenRead($Path), [System.IO.Compression.CompressionMode]::Decompress), $Latin1)
        try { $reader.ReadToEnd() } finally { $reader.Dispose() }
    }

    function Remove-TestDatabase([object]$Server, [string]$Name) {
        Invoke-TestPsql -Server $Server -Sql "DROP DATABASE IF EXISTS `"$Name`" WITH (FORCE);" | Out-Null
    }

    function Get-ScratchDatabases([object]$Server = $Main) {
        @(Get-DatabaseNames -Server $Server | Where-Object { $_ -like '*_pgbackup_*' -or $_ -like 'pgbackup_*' })
    }
}

AfterAll { Remove-TestFolder $Out }

Describe 'A changed plain backup runs nothing: refused before anything is touched' {
    BeforeAll {
        $script:Db = New-TestDatabaseName 'hostile'
        New-TestDatabase -Server $Main -Name $Db -SqlFile $SampleSql
        $script:Uri = Get-TestPostgresUri -Server $Main -Database $Db
        $script:Before = Get-DatabaseFingerprint -Server $Main -Database $Db
        $script:Dump = Get-GuideDumpText $Db
        $script:Key = [regex]::Match($Dump, '\\restrict (\w+)').Groups[1].Value
    }

    # Each trick hides a shell command (\!) from a line-by-line scanner; those marked PsqlRuns make the stock psql 15.18
    # run it (shown below with the real psql), the others would on other psql versions or readers. Where: before the
    # first CREATE TABLE (Top) or before pg_dump's closing line (End). Restricted: the file keeps pg_dump's \restrict.
    It '<Name>: Restore-PgBackup, Test-PgBackup -Restore and Export-PgBackupData refuse it, name the line, and run nothing' -ForEach @(
        @{ Name = 'shell escape'; Payload = "\! touch MARK"; PsqlRuns = $true }
        @{ Name = 'restrict key then shell'; Payload = "\unrestrict KEY \! touch MARK"; PsqlRuns = $true; Restricted = $true }
        @{ Name = 'restrict with backticks'; Payload = "\restrict ``touch MARK``"; PsqlRuns = $true }
        @{ Name = 'CR ends a comment'; Payload = "-- harmless`r\! touch MARK"; PsqlRuns = $true }
        @{ Name = 'CR after CRLF lines'; Payload = "-- a`r`n-- b`r\! touch MARK"; PsqlRuns = $true }
        @{ Name = 'NUL cuts the line'; Payload = "SELECT 1; -- x`0'`n\! touch MARK`n-- '" }
        @{ Name = 'dollar before E'''''; Payload = "SELECT `$E'\'' \! touch MARK`n-- '"; PsqlRuns = $true }
        @{ Name = 'number before a dollar quote'; Payload = "SELECT 1`$a`$ '`$a`$ \! touch MARK`n-- '"; PsqlRuns = $true }
        @{ Name = 'number before E'''''; Payload = "SELECT 1E'\'' \! touch MARK`n-- '" }
        @{ Name = 'number dot E'''''; Payload = "SELECT 1.E'\'' \! touch MARK`n-- '" }
        @{ Name = 'standard strings off'; Payload = "SET standard_conforming_strings = off;`nSELECT 'a\\'; \! touch MARK`n-- ';"; PsqlRuns = $true }
        @{ Name = 'standard strings off, rolled back'; Payload = "BEGIN; SET standard_conforming_strings = off; ROLLBACK;`nSELECT 'a\'; \! touch MARK`n-- ';"; PsqlRuns = $true }
        @{ Name = 'SJIS byte 0x5C'; Payload = "SET client_encoding = 'SJIS';`nSELECT E'$([char]0x95)\' \! touch MARK`n-- ';"; PsqlRuns = $true }
        @{ Name = 'COPY query FROM stdin TO stdout'; Payload = "COPY (WITH stdin AS (SELECT 1) SELECT * FROM stdin ) TO stdout;`n\! touch MARK"; PsqlRuns = $true }
        @{ Name = 'COPY FROM/**/stdin'; Payload = "COPY public.users (id, display_name) FROM/**/stdin;`n9999`t'`n\.`n\! touch MARK`n-- '"; Where = 'End'; PsqlRuns = $true }
        @{ Name = 'psql semicolon escape'; Payload = "CREATE TABLE public.x (a int)\; \! touch MARK"; PsqlRuns = $true }
        @{ Name = '\g to a pipe'; Payload = "SELECT 'x' \g |touch MARK"; PsqlRuns = $true }
        @{ Name = '\copy to a program'; Payload = "\copy (select 1) to program 'touch MARK'"; PsqlRuns = $true }
        @{ Name = '\o to a pipe'; Payload = "\o |touch MARK`nSELECT 1;`n\o"; PsqlRuns = $true }
        @{ Name = 'COPY TO PROGRAM on the server'; Payload = "COPY (SELECT 1) TO PROGRAM 'touch MARK';" }
        @{ Name = 'DO block'; Payload = "DO `$`$BEGIN EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch MARK'''; END`$`$;" }
        @{ Name = 'superuser grant'; Payload = "ALTER ROLE postgres SUPERUSER; GRANT pg_execute_server_program TO public;" }
        @{ Name = 'server file read'; Payload = "SELECT pg_catalog.pg_read_file('/etc/hostname');" }
    ) {
        $marker = Join-Path $Out ("marker-" + ($Name -replace '\W', '_'))
        $text = if ($_['Restricted']) { $Dump } else { [regex]::Replace($Dump, '(?m)^\\restrict \w+\n', '') }
        $payload = $Payload.Replace('MARK', $marker).Replace('KEY', $Key)
        $text = if ($_['Where'] -eq 'End') { $text.Insert($text.IndexOf("--`n-- PostgreSQL database dump complete"), "$payload`n") }
                else { $text.Insert($text.IndexOf('CREATE TABLE public.users'), "$payload`n") }

        if ($_['PsqlRuns'] -and $env:PGBACKUP_TEST_FRAMEWORK -eq 'net8.0') {
            # The same file with the stock psql: the trick is real.
            $scratch = New-TestDatabaseName 'psqlvictim'
            New-TestDatabase -Server $Main -Name $scratch
            try { Invoke-Psql $Main $scratch $text | Out-Null }
            finally { Remove-TestDatabase $Main $scratch }
            Test-Path $marker | Should -BeTrue -Because 'psql runs the hidden command'
            Remove-Item $marker
        }

        $gz = Save-GuideBackup $text $Db (Join-Path $Out ($Name -replace '\W', '_'))
        $failures = @()
        try { Restore-PgBackup -Path $gz -ConnectionString $Uri -Force -Confirm:$false | Out-Null } catch { $failures += $_ }
        $drill = Test-PgBackup -Path $gz -Restore -ConnectionString $Uri -ErrorVariable drillError -ErrorAction SilentlyContinue
        $drill.Passed | Should -BeFalse
        $failures += $drillError
        try { Export-PgBackupData -Path $gz -ConnectionString $Uri -Table public.users | Out-Null } catch { $failures += $_ }
        $failures.Count | Should -Be 3
        foreach ($f in $failures) {
            "$($f.FullyQualifiedErrorId)" | Should -Match '^(UnsafeMetaCommand|UnsafeStatement|DrillFailed),'
            "$f" | Should -Match 'Line \d+'
        }
        Test-Path $marker | Should -BeFalse
        Assert-SameDatabase -Expected $Before -Actual (Get-DatabaseFingerprint -Server $Main -Database $Db)
        Get-ScratchDatabases | Should -BeNullOrEmpty
    }
}

Describe 'Real pg_dump scripts restore as psql restores them' {
    BeforeAll {
        $script:Fixture = Join-Path $PSScriptRoot 'fixtures/fidelity.sql'
        $script:Sources = @{}
        foreach ($name in 'Main', 'Old') {
            $server = $Servers.$name
            $db = New-TestDatabaseName "fid$($server.Major)"
            New-TestDatabase -Server $server -Name $db -SqlFile $Fixture
            $Sources[$name] = [pscustomobject]@{ Server = $server; Db = $db }
        }
    }
    AfterAll { foreach ($s in $Sources.Values) { Remove-TestDatabase $s.Server $s.Db } }

    It 'pg_dump <Options> of PostgreSQL <Source>, restored into <Target>' -ForEach @(
        @{ Source = 'Main'; Target = 'Main'; Options = @() }
        @{ Source = 'Main'; Target = 'Main'; Options = @('--inserts') }
        @{ Source = 'Main'; Target = 'Main'; Options = @('--column-inserts', '--rows-per-insert=7', '--on-conflict-do-nothing') }
        @{ Source = 'Main'; Target = 'Main'; Options = @('--clean', '--if-exists') }
        @{ Source = 'Main'; Target = 'Main'; Options = @('--no-owner', '--no-privileges', '--use-set-session-authorization') }
        @{ Source = 'Main'; Target = 'New'; Options = @('--create', '--clean', '--if-exists') }
        @{ Source = 'Old'; Target = 'Old'; Options = @('--inserts') }
        @{ Source = 'Old'; Target = 'New'; Options = @() }
    ) {
        $source = $Sources[$Source]
        $target = $Servers.$Target
        $text = Get-GuideDumpText $source.Db $source.Server $Options
        $gz = Save-GuideBackup $text $source.Db (Join-Path $Out ("real-" + [guid]::NewGuid().ToString('n')))
        $mine = New-TestDatabaseName 'byexec'
        $r = Restore-PgBackup -Path $gz -ConnectionString (Get-TestPostgresUri -Server $target) -TargetDatabase $mine -CreateDatabase -Confirm:$false
        $r.Verified | Should -BeTrue
        $r.RowCount | Should -BeGreaterThan 500
        try {
            $actual = Get-DatabaseFingerprint -Server $target -Database $mine -Catalog
            if ($Options -contains '--create') {
                # psql would create the source's database: compare with the source itself (a different server version).
                $expected = Get-DatabaseFingerprint -Server $source.Server -Database $source.Db -Catalog
                $actual.Data | ConvertTo-Json | Should -Be ($expected.Data | ConvertTo-Json)
                $actual.LargeObjects | Should -Be $expected.LargeObjects
                $actual.Sequences | Should -Be $expected.Sequences
            }
            else {
                $byPsql = New-TestDatabaseName 'bypsql'
                New-TestDatabase -Server $target -Name $byPsql
                try {
                    Invoke-Psql $target $byPsql $text | Should -Be 0
                    Assert-SameDatabase -Expected (Get-DatabaseFingerprint -Server $target -Database $byPsql -Catalog) -Actual $actual
                }
                finally { Remove-TestDatabase $target $byPsql }
            }
        }
        finally { Remove-TestDatabase $target $mine }
        Get-ScratchDatabases $target | Should -BeNullOrEmpty
    }
}

Describe 'pg_dump 18''s own scripts restore as psql restores them' {
    # Real pg_dump 18.3 output (tests/fixtures/pgdump18/README.md), into PostgreSQL 18; psql 15 is the baseline here.
    It 'pg_dump 18 <File>' -ForEach @(
        @{ File = 'default' }
        @{ File = 'inserts2' }
        @{ File = 'column-inserts' }
        @{ File = 'create-clean' }
        @{ File = 'statistics' }
        @{ File = 'no-owner' }
    ) {
        $target = $Servers.Newest
        $mine = New-TestDatabaseName 'pg18exec'
        $byPsql = New-TestDatabaseName 'pg18psql'
        try {
            # Under the guide's name, as backup-database.sh would have written it.
            $folder = Join-Path $Out "pg18-$File"
            New-Item -ItemType Directory -Path $folder | Out-Null
            $gz = Join-Path $folder 'backup_fidelity_20261206_040000.sql.gz'
            Copy-Item (Join-Path $PSScriptRoot "fixtures/pgdump18/$File.sql.gz") $gz
            $r = Restore-PgBackup -Path $gz -ConnectionString (Get-TestPostgresUri -Server $target) `
                -TargetDatabase $mine -CreateDatabase -Confirm:$false
            $r.Verified | Should -BeTrue
            $r.TableCount | Should -Be 6
            # psql would create the database a -C script names: its baseline is the same dump without -C.
            $baseline = if ($File -eq 'create-clean') { 'default' } else { $File }
            New-TestDatabase -Server $target -Name $byPsql
            Invoke-Psql $target $byPsql (Read-GzipText (Join-Path $PSScriptRoot "fixtures/pgdump18/$baseline.sql.gz")) | Should -Be 0
            Assert-SameDatabase -Expected (Get-DatabaseFingerprint -Server $target -Database $byPsql -Catalog) -Actual (Get-DatabaseFingerprint -Server $target -Database $mine -Catalog)
        }
        finally { Remove-TestDatabase $target $mine; Remove-TestDatabase $target $byPsql }
    }
}

Describe 'Plain restores on several connections (-Jobs)' {
    BeforeAll {
        $script:Db = New-TestDatabaseName 'jobs'
        New-TestDatabase -Server $Main -Name $Db -SqlFile (Join-Path $PSScriptRoot 'fixtures/fidelity.sql')
        $script:Uri = Get-TestPostgresUri -Server $Main -Database $Db
        $script:Source = Get-DatabaseFingerprint -Server $Main -Database $Db
    }
    AfterAll { Remove-TestDatabase $Main $Db }

    It '-Jobs 2 restores the database -Jobs 1 restores (<Kind>)' -ForEach @(
        @{ Kind = 'New-PgBackup, zstd' }
        @{ Kind = 'the guide''s file' }
    ) {
        $folder = Join-Path $Out ("jobs-" + [guid]::NewGuid().ToString('n'))
        $path = if ($Kind -like 'New-PgBackup*') { (New-PgBackup -ConnectionString $Uri -Path $folder -Compression Zstd).Path }
                else { Save-GuideBackup (Get-GuideDumpText $Db) $Db $folder }
        $one = New-TestDatabaseName 'jobs1'
        $two = New-TestDatabaseName 'jobs2'
        try {
            Restore-PgBackup -Path $path -ConnectionString $Uri -TargetDatabase $one -CreateDatabase -Jobs 1 -Confirm:$false | Out-Null
            $verbose = Restore-PgBackup -Path $path -ConnectionString $Uri -TargetDatabase $two -CreateDatabase -Jobs 2 -Confirm:$false -Verbose 4>&1 |
                Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message
            $verbose -join "`n" | Should -Match 'loading table data \(2 connections\)'
            $first = Get-DatabaseFingerprint -Server $Main -Database $one
            Assert-SameDatabase -Expected $first -Actual (Get-DatabaseFingerprint -Server $Main -Database $two)
            Assert-SameDatabase -Expected $Source -Actual $first
        }
        finally { Remove-TestDatabase $Main $one; Remove-TestDatabase $Main $two }
    }

    It 'replaces a live database with -Jobs 2, verified' {
        $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'jobs-replace')
        Invoke-TestPsql -Server $Main -Database $Db -Sql 'DELETE FROM billing.audit;' | Out-Null
        $r = $b | Restore-PgBackup -ConnectionString $Uri -Jobs 2 -Force
        $r.Verified | Should -BeTrue
        Assert-SameDatabase -Expected $Source -Actual (Get-DatabaseFingerprint -Server $Main -Database $Db)
    }
}

Describe 'A -Table restore is all or nothing' {
    BeforeAll {
        $script:Db = New-TestDatabaseName 'partial'
        New-TestDatabase -Server $Main -Name $Db -SqlFile $SampleSql
        # An index whose expression sleeps while public.pause has a row: empty in the backup (the scratch restore is
        # fast), filled in the target (the replacement is busy on the server, after its DROPs, when the test acts).
        Invoke-TestPsql -Server $Main -Database $Db -Sql @'
CREATE TABLE public.pause (x int);
CREATE FUNCTION public.slow(t text) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT t FROM pg_catalog.pg_sleep((SELECT pg_catalog.count(*) FROM public.pause) * 30) $$;
CREATE INDEX play_events_slow ON public.play_events (public.slow(track_id));
'@ | Out-Null
        $script:Uri = Get-TestPostgresUri -Server $Main -Database $Db
        $script:Backup = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'partial')

        # The restore's connection, once it sleeps: autovacuum's ANALYZE of play_events evaluates the same index
        # expression and sleeps too, and killing it instead left the restore sleeping for ever.
        function Wait-Sleeping {
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            do {
                Start-Sleep -Milliseconds 200
                # PgBackup's own session (autovacuum's ANALYZE of the index calls the sleeping function too).
                $pid_ = Invoke-TestPsql -Server $Main -Sql "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = '$Db' AND backend_type = 'client backend' AND application_name = 'PgBackup' ORDER BY backend_start DESC LIMIT 1;"
            } until ($pid_ -or [DateTime]::UtcNow -gt $deadline)
            $pid_ | Should -Not -BeNullOrEmpty
            [int]($pid_ | Select-Object -First 1)
        }
    }
    BeforeEach {
        Invoke-TestPsql -Server $Main -Database $Db -Sql 'DELETE FROM public.pause;' | Out-Null
        $script:Before = Get-DatabaseFingerprint -Server $Main -Database $Db
    }
    AfterEach {
        # The restore's session is gone soon after the cmdlet returns (Ctrl+C and a lost connection stop the server's
        # work too), and the next test never mistakes it for its own.
        $deadline = [DateTime]::UtcNow.AddSeconds(15)
        do {
            $left = [int](Invoke-TestPsql -Server $Main -Sql "SELECT count(*) FROM pg_stat_activity WHERE datname = '$Db' AND application_name = 'PgBackup';" | Select-Object -Last 1)
            if ($left -gt 0) { Start-Sleep -Milliseconds 200 }
        } while ($left -gt 0 -and [DateTime]::UtcNow -lt $deadline)
        $left | Should -Be 0
        Invoke-TestPsql -Server $Main -Database $Db -Sql 'DELETE FROM public.pause;' | Out-Null
        Assert-SameDatabase -Expected $Before -Actual (Get-DatabaseFingerprint -Server $Main -Database $Db)
        Get-ScratchDatabases | Should -BeNullOrEmpty
    }

    It 'replaces the table when nothing goes wrong, checked before it commits' {
        Invoke-TestPsql -Server $Main -Database $Db -Sql "DELETE FROM public.play_events WHERE id > 100;" | Out-Null
        $r = Restore-PgBackup -Path $Backup.Path -ConnectionString $Uri -Table public.play_events -Confirm:$false
        $r.Mode | Should -Be 'Partial'
        ($r.Tables | Where-Object Name -eq 'play_events').Rows | Should -Be 4000
        Invoke-TestPsql -Server $Main -Database $Db -Sql 'SELECT count(*) FROM public.play_events' | Should -Be '4000'
        $script:Before = Get-DatabaseFingerprint -Server $Main -Database $Db
    }

    It 'a foreign key that no longer holds rolls the replacement back' {
        # user7's rows are in the backup's play_events; user7 is gone now, so the restored foreign key cannot hold.
        Invoke-TestPsql -Server $Main -Database $Db -Sql "DELETE FROM public.users WHERE id = 'user7';" | Out-Null
        $script:Before = Get-DatabaseFingerprint -Server $Main -Database $Db
        $err = $null
        try { Restore-PgBackup -Path $Backup.Path -ConnectionString $Uri -Table public.play_events -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'RestoreStatementFailed,PgBackup.Commands.RestorePgBackupCommand'
        "$err" | Should -Match 'foreign key'
        "$err" | Should -Match 'rolled back'
    }

    It 'Ctrl+C after its DROPs leaves the live table and its rows' {
        Invoke-TestPsql -Server $Main -Database $Db -Sql 'INSERT INTO public.pause VALUES (1);' | Out-Null
        $job = Start-AsyncPipeline -Script { param($p, $u) Restore-PgBackup -Path $p -ConnectionString $u -Table public.play_events -Confirm:$false } -Arguments $Backup.Path, $Uri
        try {
            Wait-Sleeping | Out-Null
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $job.PowerShell.Stop()
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 5
        }
        finally { Stop-AsyncPipeline $job }
    }

    It 'a connection killed after its DROPs leaves the live table and its rows' {
        Invoke-TestPsql -Server $Main -Database $Db -Sql 'INSERT INTO public.pause VALUES (1);' | Out-Null
        $job = Start-AsyncPipeline -Script { param($p, $u) Restore-PgBackup -Path $p -ConnectionString $u -Table public.play_events -Confirm:$false } -Arguments $Backup.Path, $Uri
        $failure = $null
        try {
            $victim = Wait-Sleeping
            Invoke-TestPsql -Server $Main -Sql "SELECT pg_terminate_backend($victim);" | Out-Null
            try { $job.PowerShell.EndInvoke($job.Handle) | Out-Null } catch { $failure = $_ }
            if (-not $failure -and $job.PowerShell.Streams.Error.Count -gt 0) { $failure = $job.PowerShell.Streams.Error[0] }
        }
        finally { Stop-AsyncPipeline $job }
        "$failure" | Should -Match 'terminat|connection|unreachable|server'
    }

}
