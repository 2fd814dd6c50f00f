BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    $script:Db = New-TestDatabaseName 'nb'
    New-TestDatabase -Server $Main -Name $Db -SqlFile $SampleSql
    # A few more kinds of data: a large object, bytea, arrays, a non-ASCII table name.
    Invoke-TestPsql -Server $Main -Database $Db -Sql @'
CREATE SCHEMA "Ünïcode Schema";
CREATE TABLE "Ünïcode Schema"."Tabelle Ä" (id int PRIMARY KEY, b bytea, tags text[], note text);
INSERT INTO "Ünïcode Schema"."Tabelle Ä" VALUES (1, '\xdeadbeef', '{a,b}', E'tab\there, newline\nthere, backslash \\ done'), (2, NULL, '{}', 'ß');
SELECT lo_from_bytea(0, 'large object payload');
'@ | Out-Null
    $script:Uri = Get-TestPostgresUri -Server $Main -Database $Db
    $script:Out = New-TestFolder
}

AfterAll {
    Remove-TestFolder $Out
}

Describe 'New-PgBackup' {
    It 'has the expected parameters' {
        $expected = 'ConnectionString', 'Credential', 'Path', 'Format', 'Compression', 'CompressionLevel', 'Jobs', 'Schema',
            'ExcludeSchema', 'Table', 'ExcludeTable', 'ExcludeTableData', 'SchemaOnly', 'DataOnly', 'NoOwner', 'NoPrivileges', 'PgBinPath', 'Engine', 'LockWaitTimeoutSeconds',
            'Globals', 'NoRolePasswords', 'AllDatabases', 'IncludeDatabase', 'ExcludeDatabase', 'ThrottleLimit', 'Summary', 'EncryptPassphrase', 'EncryptRecipient', 'SigningKey', 'SigningKeyPassphrase',
            'S3Credential', 'ProfileName', 'Region', 'EndpointUrl', 'S3AddressingStyle', 'S3ChecksumMode', 'S3TimeoutSeconds', 'AzureSasToken', 'AzureConnectionString', 'AzureAccountKey', 'AzureEndpointUrl', 'ServerSideEncryption', 'KmsKeyId', 'StorageClass', 'S3PartSizeMB', 'S3UploadConcurrency', 'AccessTier'
        $actual = (Get-Command New-PgBackup).Parameters.Keys | Where-Object { $_ -notin [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters }
        $actual | Sort-Object | Should -Be ($expected | Sort-Object)
        (Get-Command New-PgBackup).Parameters['Credential'].ParameterType | Should -Be ([pscredential])
    }

    Context 'every format and compression restores with the stock tools to identical schema and data' {
        BeforeAll {
            $script:Source = Get-DatabaseFingerprint -Server $Main -Database $Db
        }
        It '<Format> with <Compression> (jobs <Jobs>)' -ForEach @(
            @{ Format = 'Plain'; Compression = 'Gzip'; Jobs = 1; Extension = '.sql.gz' }
            @{ Format = 'Plain'; Compression = 'Zstd'; Jobs = 1; Extension = '.sql.zst' }
            @{ Format = 'Plain'; Compression = 'None'; Jobs = 1; Extension = '.sql' }
            @{ Format = 'Custom'; Compression = 'Gzip'; Jobs = 1; Extension = '.dump' }
            @{ Format = 'Custom'; Compression = 'None'; Jobs = 1; Extension = '.dump' }
            @{ Format = 'Directory'; Compression = 'Gzip'; Jobs = 2; Extension = '.dir' }
            @{ Format = 'Directory'; Compression = 'None'; Jobs = 1; Extension = '.dir' }
        ) {
            $folder = Join-Path $Out "$Format-$Compression"
            $params = @{ ConnectionString = $Uri; Path = $folder; Format = $Format; Compression = $Compression }
            if ($Jobs -gt 1) { $params.Jobs = $Jobs }
            $b = New-PgBackup @params
            $b.PSObject.TypeNames[0] | Should -Be 'PgBackup.BackupInfo'
            $b.Status | Should -Be 'Complete'
            $b.Name | Should -Match ("^backup_${Db}_\d{8}_\d{6}(_\d+)?" + [regex]::Escape($Extension) + '$')
            Test-Path $b.Path | Should -BeTrue
            Test-Path "$($b.Path).json" | Should -BeTrue
            $b.Database | Should -Be $Db
            $b.Server | Should -Be "127.0.0.1:$($Main.Port)"
            $b.Format | Should -Be $Format
            $b.SizeBytes | Should -BeGreaterThan 0
            $b.Sha256 | Should -Match '^[0-9a-f]{64}$'
            $b.PgDumpVersion | Should -Match '^\d+\.\d+$'
            if ($Format -ne 'Directory') {
                (Get-FileHash -Algorithm SHA256 $b.Path).Hash.ToLower() | Should -Be $b.Sha256
                (Get-Item $b.Path).Length | Should -Be $b.SizeBytes
            }
            # The manifest's row counts are the database's.
            $counts = @{}
            foreach ($t in $b.Tables) { $counts[$t.QualifiedName] = $t.Rows }
            $counts['public.play_events'] | Should -Be 4000
            $counts['public.users'] | Should -Be 40
            $counts['"Ünïcode Schema"."Tabelle Ä"'] | Should -Be 2
            $b.TableCount | Should -Be 4

            $target = New-TestDatabaseName 'rt'
            Restore-WithStockTools -Server $Main -Backup $b -Database $target
            $restored = Get-DatabaseFingerprint -Server $Main -Database $target
            $restored.Schema | Should -Be $Source.Schema
            $restored.Data | ConvertTo-Json | Should -Be ($Source.Data | ConvertTo-Json)
            $restored.LargeObjects | Should -Be $Source.LargeObjects
            Invoke-TestPsql -Server $Main -Sql "DROP DATABASE `"$target`" WITH (FORCE);" | Out-Null
        }

        It 'writes zstd that the zstd tool reads and gzip that gunzip reads' {
            $z = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'tools') -Compression Zstd -CompressionLevel 9
            $text = & bash -c "zstd -dcq '$($z.Path)'"
            $LASTEXITCODE | Should -Be 0
            ($text -join "`n") | Should -Match 'PostgreSQL database dump complete'
            $g = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'tools') -CompressionLevel 1
            & bash -c "gzip -t '$($g.Path)'"
            $LASTEXITCODE | Should -Be 0
        }
    }

    Context 'the manifest' {
        It 'records what a restore checks, and never the password' {
            $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'manifest')
            $json = Get-Content -Raw "$($b.Path).json"
            $m = $json | ConvertFrom-Json
            $m.formatVersion | Should -Be 1
            $m.moduleVersion | Should -Be (Get-Module PgBackup).Version.ToString()
            $m.database | Should -Be $Db
            $m.host | Should -Be '127.0.0.1'
            $m.port | Should -Be $Main.Port
            $m.serverVersion | Should -Match '^\d+\.\d+$'
            $m.pgDumpVersion | Should -Match '^\d+\.\d+$'
            $m.format | Should -Be 'Plain'
            $m.compression | Should -Be 'Gzip'
            $m.sizeBytes | Should -Be (Get-Item $b.Path).Length
            $m.sha256 | Should -Be (Get-FileHash -Algorithm SHA256 $b.Path).Hash.ToLower()
            [datetime]$m.startTime | Should -BeLessOrEqual ([datetime]$m.endTime)
            $json | Should -Match '"startTime": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"'
            ($m.tables | Where-Object name -eq 'tracks').rows | Should -Be 400
            $json | Should -Not -Match ([regex]::Escape($Main.Password))
        }

        It 'names backups like the guide, distinct within one second' {
            $folder = Join-Path $Out 'same-second'
            $names = 1..3 | ForEach-Object { (New-PgBackup -ConnectionString $Uri -Path $folder -SchemaOnly).Name }
            ($names | Select-Object -Unique).Count | Should -Be 3
            $names | ForEach-Object { $_ | Should -Match "^backup_${Db}_\d{8}_\d{6}(_[23])?\.sql\.gz$" }
            # The time in the name is UTC.
            $stamp = [datetime]::ParseExact(($names[0] -replace "^backup_${Db}_(\d{8}_\d{6}).*", '$1'), 'yyyyMMdd_HHmmss', $null)
            ([datetime]::UtcNow - $stamp).TotalMinutes | Should -BeLessThan 5
        }

        It 'honours the scope options and counts only what the dump contains' {
            $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'scope') -Format Custom -Table 'public.users', 'public.tracks' -ExcludeTableData 'public.tracks'
            ($b.Tables | ForEach-Object QualifiedName) | Should -Be @('public.users')
            $b.Manifest.Scope.Tables | Should -Be @('public.users', 'public.tracks')
            $p = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'scope') -ExcludeSchema '"Ünïcode Schema"' -NoOwner -NoPrivileges
            ($p.Tables | ForEach-Object QualifiedName | Sort-Object) | Should -Be @('public.play_events', 'public.tracks', 'public.users')
            $text = & bash -c "gzip -dc '$($p.Path)'"
            ($text -join "`n") | Should -Not -Match 'OWNER TO'
            $s = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'scope') -SchemaOnly
            $s.Tables.Count | Should -Be 0
        }
    }

    Context 'where the connection comes from' {
        It 'uses $env:DATABASE_URL, then DATABASE_URL in .env, and -Credential overrides' {
            $folder = New-TestFolder
            Push-Location $folder
            try {
                $env:DATABASE_URL = $Uri
                (New-PgBackup -SchemaOnly).Database | Should -Be $Db
                Remove-Item Env:DATABASE_URL
                Set-Content -Path .env -Value "# like the guide's .env`nDATABASE_URL=`"$Uri`"`nNEON_API_KEY=x"
                $b = New-PgBackup -SchemaOnly
                $b.Database | Should -Be $Db
                $b.Path | Should -BeLike (Join-Path $folder 'backups/*')
                $noPassword = Get-TestPostgresUri -Server $Main -Database $Db -NoPassword
                $cred = [pscredential]::new($Main.User, (ConvertTo-SecureString $Main.Password -AsPlainText -Force))
                (New-PgBackup -ConnectionString $noPassword -Credential $cred -SchemaOnly).Status | Should -Be 'Complete'
                $wrong = [pscredential]::new($Main.User, (ConvertTo-SecureString 'not-the-password' -AsPlainText -Force))
                { New-PgBackup -ConnectionString $Uri -Credential $wrong -SchemaOnly } | Should -Throw -ErrorId 'AuthenticationFailed,PgBackup.Commands.NewPgBackupCommand'
            }
            finally {
                Remove-Item Env:DATABASE_URL -ErrorAction SilentlyContinue
                Pop-Location
                Remove-TestFolder $folder
            }
        }

        It 'says clearly when there is no connection string' {
            $folder = New-TestFolder
            Push-Location $folder
            try {
                Remove-Item Env:DATABASE_URL -ErrorAction SilentlyContinue
                { New-PgBackup } | Should -Throw -ErrorId 'ConnectionStringMissing,PgBackup.Commands.NewPgBackupCommand'
            }
            finally { Pop-Location; Remove-TestFolder $folder }
        }
    }

    Context 'failures leave nothing that looks like a backup' {
        BeforeEach { $script:Folder = New-TestFolder }
        AfterEach { Remove-TestFolder $Folder }

        It 'server unreachable' {
            $port = Get-FreeTcpPort
            $err = $null
            try { New-PgBackup -ConnectionString "postgresql://postgres:pw@127.0.0.1:$port/x" -Path $Folder } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'ServerUnreachable,PgBackup.Commands.NewPgBackupCommand'
            $err.CategoryInfo.Category | Should -Be 'ConnectionError'
            Get-BackupLikeFiles $Folder | Should -BeNullOrEmpty
        }

        It 'wrong password' {
            $err = $null
            try { New-PgBackup -ConnectionString "postgresql://postgres:wrong-pw-123@127.0.0.1:$($Main.Port)/$Db" -Path $Folder } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'AuthenticationFailed,PgBackup.Commands.NewPgBackupCommand'
            "$err" | Should -Not -Match 'wrong-pw-123'
            Get-BackupLikeFiles $Folder | Should -BeNullOrEmpty
        }

        It 'a role that row-level security applies to: <Engine> says which table and what to do, and keeps nothing' -ForEach @(
            @{ Engine = 'PgDump' }, @{ Engine = 'Native' }
        ) {
            # An owner under FORCE ROW LEVEL SECURITY, and a reader (pg_read_all_data) of a table with RLS enabled: a
            # backup reads with row security off, and the server refuses rather than hide rows. Names with a quote and a
            # capital, as pg_dump writes them in its failed query.
            if (-not (Get-Variable RlsDb -Scope Script -ErrorAction SilentlyContinue)) {
                $script:RlsDb = New-TestDatabaseName 'rlsbk'
                $script:RlsOwner = New-TestDatabaseName 'rlsown'
                $script:RlsReader = New-TestDatabaseName 'rlsread'
                $script:RlsPassword = 'pw-' + [guid]::NewGuid().ToString('n')
                Invoke-TestPsql -Server $Main -Sql "CREATE ROLE $RlsOwner LOGIN PASSWORD '$RlsPassword'; CREATE ROLE $RlsReader LOGIN PASSWORD '$RlsPassword' IN ROLE pg_read_all_data; CREATE DATABASE $RlsDb OWNER $RlsOwner;" | Out-Null
                Invoke-TestPsql -Server $Main -Database $RlsDb -Sql @"
SET ROLE $RlsOwner;
CREATE TABLE plain_t (v int); INSERT INTO plain_t VALUES (1);
CREATE TABLE "Se""cret" (owner_name text, v int);
INSERT INTO "Se""cret" SELECT 'u' || (g % 3), g FROM generate_series(1, 30) g;
ALTER TABLE "Se""cret" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "Se""cret" FORCE ROW LEVEL SECURITY;
CREATE POLICY mine ON "Se""cret" USING (owner_name = current_user);
"@ | Out-Null
            }
            foreach ($role in $RlsOwner, $RlsReader) {
                $err = $null
                try { New-PgBackup -ConnectionString "postgresql://${role}:$RlsPassword@127.0.0.1:$($Main.Port)/$RlsDb" -Path $Folder -Engine $Engine } catch { $err = $_ }
                $err.FullyQualifiedErrorId | Should -Be "$(if ($Engine -eq 'PgDump') { 'PgDumpFailed' } else { 'PermissionDenied' }),PgBackup.Commands.NewPgBackupCommand"
                $err.CategoryInfo.Category | Should -Be 'PermissionDenied'
                $err.Exception.Message | Should -BeLike "*Row-level security applies to the role '$role' on public.`"Se`"`"cret`"*"
                $err.ErrorDetails.RecommendedAction | Should -BeLike "*ALTER ROLE $role BYPASSRLS*"
                $err.Exception.Message | Should -Not -Match $RlsPassword
                Get-BackupLikeFiles $Folder | Should -BeNullOrEmpty
            }
            # With BYPASSRLS the reader backs up every row.
            Invoke-TestPsql -Server $Main -Sql "ALTER ROLE $RlsReader BYPASSRLS" | Out-Null
            try {
                $b = New-PgBackup -ConnectionString "postgresql://${RlsReader}:$RlsPassword@127.0.0.1:$($Main.Port)/$RlsDb" -Path $Folder -Engine $Engine
                ($b.Tables | Where-Object Name -eq 'Se"cret').Rows | Should -Be 30
            }
            finally { Invoke-TestPsql -Server $Main -Sql "ALTER ROLE $RlsReader NOBYPASSRLS" | Out-Null }
        }

        It 'missing database' {
            $err = $null
            try { New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Main -Database 'no_such_db') -Path $Folder } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'DatabaseNotFound,PgBackup.Commands.NewPgBackupCommand'
            "$err" | Should -Match 'no_such_db'
            Get-BackupLikeFiles $Folder | Should -BeNullOrEmpty
        }

        It 'invalid options are refused before anything runs' {
            { New-PgBackup -ConnectionString $Uri -Path $Folder -Jobs 2 -Format Custom } | Should -Throw -ErrorId 'InvalidParameter,PgBackup.Commands.NewPgBackupCommand'
            { New-PgBackup -ConnectionString $Uri -Path $Folder -Jobs 2 -Engine PgDump } | Should -Throw -ErrorId 'InvalidParameter,PgBackup.Commands.NewPgBackupCommand'
            { New-PgBackup -ConnectionString $Uri -Path $Folder -Compression Gzip -CompressionLevel 12 } | Should -Throw -ErrorId 'InvalidParameter,PgBackup.Commands.NewPgBackupCommand'
            { New-PgBackup -ConnectionString $Uri -Path $Folder -SchemaOnly -DataOnly } | Should -Throw -ErrorId 'InvalidParameter,PgBackup.Commands.NewPgBackupCommand'
            { New-PgBackup -ConnectionString 'nonsense' -Path $Folder } | Should -Throw -ErrorId 'ConnectionStringInvalid,PgBackup.Commands.NewPgBackupCommand'
            Get-BackupLikeFiles $Folder | Should -BeNullOrEmpty
        }

        It 'a table locked by another session for longer than -LockWaitTimeoutSeconds fails with PgDumpFailed (OperationTimeout) and keeps nothing' {
            $lock = Start-TableLock -Server $Main -Database $Db -Table 'public.tracks'
            try {
                $err = $null
                try { New-PgBackup -ConnectionString $Uri -Path $Folder -LockWaitTimeoutSeconds 1 } catch { $err = $_ }
                $err.FullyQualifiedErrorId | Should -Be 'PgDumpFailed,PgBackup.Commands.NewPgBackupCommand'
                $err.CategoryInfo.Category | Should -Be 'OperationTimeout' -Because "$err"
                "$err" | Should -Match 'public.tracks|tracks'
                "$err" | Should -BeLike '*-LockWaitTimeoutSeconds*'
                Get-BackupLikeFiles $Folder | Should -BeNullOrEmpty
                Get-PgDumpProcess $Db | Should -BeNullOrEmpty
            }
            finally { Stop-TableLock $lock }
            # Without the lock the same command works.
            (New-PgBackup -ConnectionString $Uri -Path $Folder -LockWaitTimeoutSeconds 1).Status | Should -Be 'Complete'
        }

        It 'pg_dump killed while it runs' {
            $lock = Start-TableLock -Server $Main -Database $Db -Table 'public.tracks'
            try {
                $job = Start-AsyncPipeline -Script { param($u, $p) New-PgBackup -ConnectionString $u -Path $p } -Arguments $Uri, $Folder
                Wait-PgDumpWaiting -Server $Main -Database $Db
                @(Get-PgDumpProcess $Db).Count | Should -BeGreaterThan 0
                Get-PgDumpProcess $Db | ForEach-Object { & kill -9 $_ }
                $failure = $null
                try { $job.PowerShell.EndInvoke($job.Handle) } catch { $failure = $_.Exception.InnerException.ErrorRecord }
                if (-not $failure) { $failure = $job.PowerShell.Streams.Error | Select-Object -First 1 }
                $failure.FullyQualifiedErrorId | Should -Be 'PgDumpFailed,PgBackup.Commands.NewPgBackupCommand'
                "$failure" | Should -Match 'killed'
                Get-BackupLikeFiles $Folder | Should -BeNullOrEmpty
            }
            finally { Stop-TableLock $lock; Stop-AsyncPipeline $job }
        }

        It 'disk full' {
            if ((& id -u) -ne '0') { Set-ItResult -Skipped -Because 'mounting a small tmpfs needs root (CI runs as root)'; return }
            & mount -t tmpfs -o size=24k tmpfs $Folder
            $LASTEXITCODE | Should -Be 0
            try {
                $err = $null
                try { New-PgBackup -ConnectionString $Uri -Path $Folder -Compression None } catch { $err = $_ }
                $err.FullyQualifiedErrorId | Should -Be 'DiskFull,PgBackup.Commands.NewPgBackupCommand'
                $err.CategoryInfo.Category | Should -Be 'WriteError'
                Get-BackupLikeFiles $Folder | Should -BeNullOrEmpty
            }
            finally { & umount $Folder }
        }

        It '-WhatIf writes nothing' {
            New-PgBackup -ConnectionString $Uri -Path (Join-Path $Folder 'sub') -WhatIf
            Test-Path (Join-Path $Folder 'sub') | Should -BeFalse
        }
    }

    Context 'secrets' {
        It 'the password is in no process command line, verbose line, object or error while pg_dump runs' {
            $folder = New-TestFolder
            $lock = Start-TableLock -Server $Main -Database $Db -Table 'public.users'
            try {
                $job = Start-AsyncPipeline -Script { param($u, $p) New-PgBackup -ConnectionString $u -Path $p -Verbose } -Arguments $Uri, $folder
                Wait-PgDumpWaiting -Server $Main -Database $Db
                $pids = @(Get-PgDumpProcess $Db)
                $pids.Count | Should -BeGreaterThan 0
                $cmdlines = Get-ChildItem /proc -Directory | Where-Object Name -match '^\d+$' | ForEach-Object {
                    try { [System.IO.File]::ReadAllText("/proc/$($_.Name)/cmdline") } catch { }
                }
                ($cmdlines -join "`n") | Should -Not -Match ([regex]::Escape($Main.Password)) -Because 'no process may carry the password on its command line'
                Stop-TableLock $lock
                $out = $job.PowerShell.EndInvoke($job.Handle)
                $out.Status | Should -Be 'Complete'
                $verbose = $job.PowerShell.Streams.Verbose | ForEach-Object Message
                ($verbose -join "`n") | Should -Match 'Running: .*pg_dump'
                ($verbose -join "`n") | Should -Not -Match ([regex]::Escape($Main.Password))
                ($out | Select-Object * | Out-String -Width 500) | Should -Not -Match ([regex]::Escape($Main.Password))
                (Get-Content -Raw "$($out.Path).json") | Should -Not -Match ([regex]::Escape($Main.Password))
            }
            finally { Stop-TableLock $lock; Stop-AsyncPipeline $job; Remove-TestFolder $folder }
        }
    }

    Context 'stopping: Ctrl+C, or Stop on a message' {
        It 'Ctrl+C stops pg_dump within two seconds and removes the partial files before the command returns' {
            $folder = New-TestFolder
            $lock = Start-TableLock -Server $Main -Database $Db -Table 'public.users'
            try {
                $job = Start-AsyncPipeline -Script { param($u, $p) New-PgBackup -ConnectionString $u -Path $p -Verbose } -Arguments $Uri, $folder
                Wait-PgDumpWaiting -Server $Main -Database $Db
                @(Get-ChildItem $folder -Filter '*.partial').Count | Should -Be 1
                $clock = [System.Diagnostics.Stopwatch]::StartNew()
                $job.PowerShell.Stop()
                $clock.Stop()
                $clock.Elapsed.TotalSeconds | Should -BeLessThan 2
                Get-PgDumpProcess $Db | Should -BeNullOrEmpty
                Get-BackupLikeFiles $folder | Should -BeNullOrEmpty
            }
            finally { Stop-TableLock $lock; Stop-AsyncPipeline $job; Remove-TestFolder $folder }
        }

        It '-WarningAction Stop on a warning stops the backup, and the command returns only once it has stopped' {
            if ((& id -u) -ne '0') { Set-ItResult -Skipped -Because 'a partial file that cannot be removed needs chattr +i, as root (CI runs as root)'; return }
            $folder = New-TestFolder
            # A stale partial the sweep cannot remove: a warning while the backup connects; pg_dump then waits on a lock.
            $stale = Join-Path $folder 'backup_app_20200101_030000.sql.gz.partial'
            Set-Content -Path $stale -Value 'left by a crash'
            (Get-Item $stale).LastWriteTimeUtc = [datetime]::UtcNow.AddDays(-3)
            $immutable = Lock-TestPath $stale
            $lock = Start-TableLock -Server $Main -Database $Db -Table 'public.users'
            try {
                $err = $null
                try { New-PgBackup -ConnectionString $Uri -Path $folder -WarningAction Stop } catch { $err = $_ }
                "$err" | Should -Match 'Could not remove the stale partial file'
                # Nothing of the backup goes on: no pg_dump now or in the next seconds, no file but the stale one.
                $deadline = [DateTime]::UtcNow.AddSeconds(3)
                while (-not (Get-PgDumpProcess $Db) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 200 }
                Get-PgDumpProcess $Db | Should -BeNullOrEmpty
                (Get-BackupLikeFiles $folder).Name | Should -Be 'backup_app_20200101_030000.sql.gz.partial'
            }
            finally { Stop-TableLock $lock; Unlock-TestPath $immutable; Remove-TestFolder $folder }
        }
    }

    Context 'server versions' {
        It 'backs up an older server with the newer pg_dump' {
            $old = $Servers.Old
            New-TestDatabase -Server $old -Name olddb -SqlFile $SampleSql
            $b = New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $old -Database olddb) -Path (Join-Path $Out 'old')
            $b.ServerVersion | Should -BeLike "$($old.Major).*"
            [int]($b.PgDumpVersion -split '\.')[0] | Should -BeGreaterThan $old.Major
            ($b.Tables | Where-Object Name -eq 'play_events').Rows | Should -Be 4000
            $target = New-TestDatabaseName 'fromold'
            Restore-WithStockTools -Server $Main -Backup $b -Database $target
            (Invoke-TestPsql -Server $Main -Database $target -Sql 'SELECT count(*) FROM play_events') | Should -Be '4000'
        }

        It 'with -Engine PgDump, refuses a newer server than any pg_dump here before writing anything' {
            $new = $Servers.New
            $newest = Get-ChildItem /usr/lib/postgresql -Directory | ForEach-Object { [int]$_.Name } | Sort-Object | Select-Object -Last 1
            if ($newest -ge $new.Major) { Set-ItResult -Skipped -Because "pg_dump $newest is installed here"; return }
            $folder = New-TestFolder
            try {
                $err = $null
                try { New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $new) -Path $folder -Engine PgDump } catch { $err = $_ }
                $err.FullyQualifiedErrorId | Should -Be 'PgToolTooOld,PgBackup.Commands.NewPgBackupCommand'
                "$err" | Should -Match "pg_dump $($new.Major) or newer"
                $err.CategoryInfo.Category | Should -Be 'NotInstalled'
                Get-BackupLikeFiles $folder | Should -BeNullOrEmpty
            }
            finally { Remove-TestFolder $folder }
        }

        It 'with -Engine Auto (the default), backs up PostgreSQL <Major> with the native engine when only an older pg_dump is here, and says why' -ForEach @(
            @{ Name = 'New'; Major = 17 }
            @{ Name = 'Newest'; Major = 18 }
        ) {
            $server = $Servers.$Name
            $newest = Get-ChildItem /usr/lib/postgresql -Directory | ForEach-Object { [int]$_.Name } | Sort-Object | Select-Object -Last 1
            if ($newest -ge $server.Major) { Set-ItResult -Skipped -Because "pg_dump $newest is installed here"; return }
            $db = New-TestDatabaseName 'auto'
            New-TestDatabase -Server $server -Name $db -SqlFile $SampleSql
            try {
                $out = New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $server -Database $db) -Path (Join-Path $Out "auto-$Name") -Verbose 4>&1
                $b = $out | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
                $verbose = ($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message) -join "`n"
                $verbose | Should -Match "Using PgBackup's native engine: pg_dump $($server.Major) or newer is needed"
                $b.Engine | Should -Be 'Native'
                $b.ServerVersion | Should -BeLike "$($server.Major).*"
                ($b.Tables | Where-Object Name -eq 'play_events').Rows | Should -Be 4000
                (Get-Content -Raw "$($b.Path).json" | ConvertFrom-Json).engine | Should -Be 'Native'
            }
            finally { Invoke-TestPsql -Server $server -Sql "DROP DATABASE IF EXISTS `"$db`" WITH (FORCE);" | Out-Null }
        }

        It 'with -Engine Auto (the default), backs up with a pg_dump that fits the server, and says so' {
            $out = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'auto-fits') -SchemaOnly -Verbose 4>&1
            $b = $out | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
            ($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message) -join "`n" |
                Should -Match "Using pg_dump $($Main.Major)\.\d+ .*: it is at least as new as PostgreSQL $($Main.Major)"
            $b.Engine | Should -Be 'PgDump'
            (Get-Content -Raw "$($b.Path).json" | ConvertFrom-Json).engine | Should -Be 'PgDump'
        }

        It '-Engine Native refuses what only pg_dump makes (a Custom archive), before writing anything' {
            $folder = New-TestFolder
            try {
                { New-PgBackup -ConnectionString $Uri -Path $folder -Engine Native -Format Custom } | Should -Throw -ExpectedMessage '*Plain backups only*'
                Get-BackupLikeFiles $folder | Should -BeNullOrEmpty
            }
            finally { Remove-TestFolder $folder }
        }

        It 'asks for a pg_dump that can write zstd into Custom archives, before starting' {
            $newest = Get-ChildItem /usr/lib/postgresql -Directory | ForEach-Object { [int]$_.Name } | Sort-Object | Select-Object -Last 1
            if ($newest -ge 16) { Set-ItResult -Skipped -Because "pg_dump $newest can write zstd"; return }
            $folder = New-TestFolder
            try {
                { New-PgBackup -ConnectionString $Uri -Path $folder -Format Custom -Compression Zstd } | Should -Throw -ExpectedMessage '*zstd*pg_dump 16*'
                Get-BackupLikeFiles $folder | Should -BeNullOrEmpty
            }
            finally { Remove-TestFolder $folder }
        }
    }
}
