BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    $script:Db = New-TestDatabaseName 'tb'
    New-TestDatabase -Server $Main -Name $Db -SqlFile $SampleSql
    $script:Uri = Get-TestPostgresUri -Server $Main -Database $Db
    $script:Out = New-TestFolder

    function Get-DrillDatabases([object]$Server = $Main) { @(Get-DatabaseNames -Server $Server | Where-Object { $_ -like 'pgbackup_drill_*' }) }
}

AfterAll { Remove-TestFolder $Out }

Describe 'Test-PgBackup' {
    It 'has the expected parameters' {
        $expected = 'Path', 'InputObject', 'Restore', 'Keep', 'ConnectionString', 'Credential', 'NoOwner', 'NoPrivileges', 'Jobs', 'ThrottleLimit', 'PgBinPath', 'Passphrase', 'SecretKeyPath', 'SecretKeyPassphrase', 'VerifyKey', 'S3Credential', 'ProfileName', 'Region', 'EndpointUrl', 'S3AddressingStyle', 'S3ChecksumMode', 'S3TimeoutSeconds', 'AzureSasToken', 'AzureConnectionString', 'AzureAccountKey', 'AzureEndpointUrl'
        $actual = (Get-Command Test-PgBackup).Parameters.Keys | Where-Object { $_ -notin [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters }
        $actual | Sort-Object | Should -Be ($expected | Sort-Object)
    }

    It 'checks the integrity of a <Format> backup, reading all of it' -ForEach @(
        @{ Format = 'Plain' }, @{ Format = 'Custom' }, @{ Format = 'Directory' }
    ) {
        $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'integrity') -Format $Format
        $t = $b | Test-PgBackup
        $t.PSObject.TypeNames[0] | Should -Be 'PgBackup.TestResult'
        $t.Passed | Should -BeTrue
        $t.Kind | Should -Be 'Integrity'
        ($t.Checks | Where-Object Name -eq 'Checksum').Passed | Should -BeTrue
        ($t.Checks | Where-Object Name -eq 'Archive').Passed | Should -BeTrue
        ($t.Checks | Where-Object Name -eq 'RowCounts').Detail | Should -Match '3 tables'
    }

    It 'finds one changed byte, and says so as an error too' {
        $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'tamper') -Format Custom
        $bytes = [IO.File]::ReadAllBytes($b.Path)
        $bytes[[int]($bytes.Length / 2)] = $bytes[[int]($bytes.Length / 2)] -bxor 0x01
        [IO.File]::WriteAllBytes($b.Path, $bytes)
        $errors = @()
        $t = $b | Test-PgBackup -ErrorVariable errors -ErrorAction SilentlyContinue
        $t.Passed | Should -BeFalse
        ($t.Checks | Where-Object Name -eq 'Checksum').Passed | Should -BeFalse
        $errors[0].FullyQualifiedErrorId | Should -Be 'BackupChecksumMismatch,PgBackup.Commands.TestPgBackupCommand'
        { $b | Test-PgBackup -ErrorAction Stop } | Should -Throw -ErrorId 'BackupChecksumMismatch,PgBackup.Commands.TestPgBackupCommand'
    }

    It 'reports incomplete backups as failures' {
        $folder = Join-Path $Out 'incomplete'
        New-Item -ItemType Directory -Force $folder | Out-Null
        Set-Content (Join-Path $folder "backup_${Db}_20240101_000000.sql.gz.partial") 'x'
        $errors = @()
        $t = Get-PgBackup -Path $folder | Test-PgBackup -ErrorVariable errors -ErrorAction SilentlyContinue
        $t.Passed | Should -BeFalse
        $errors[0].FullyQualifiedErrorId | Should -Be 'BackupIncomplete,PgBackup.Commands.TestPgBackupCommand'
    }

    Context 'the restore drill' {
        It 'restores a <Format> backup into a scratch database, compares and drops it' -ForEach @(
            @{ Format = 'Plain' }, @{ Format = 'Custom' }, @{ Format = 'Directory' }
        ) {
            $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'drill') -Format $Format
            $t = $b | Test-PgBackup -Restore -ConnectionString $Uri
            $t.Passed | Should -BeTrue
            $t.Kind | Should -Be 'Drill'
            ($t.Checks | Where-Object Name -eq 'Restore').Passed | Should -BeTrue
            ($t.Checks | Where-Object Name -eq 'RestoredRowCounts').Detail | Should -Match 'All 3 tables'
            ($t.Checks | Where-Object Name -eq 'Cleanup').Detail | Should -Match "Dropped the scratch database 'pgbackup_drill_"
            Get-DrillDatabases | Should -BeNullOrEmpty
        }

        It 'keeps the scratch database with -Keep' {
            $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'keep')
            $t = $b | Test-PgBackup -Restore -Keep -ConnectionString $Uri
            $t.ScratchDatabase | Should -BeLike 'pgbackup_drill_*'
            Invoke-TestPsql -Server $Main -Database $t.ScratchDatabase -Sql 'SELECT count(*) FROM play_events' | Should -Be '4000'
            Invoke-TestPsql -Server $Main -Sql "DROP DATABASE `"$($t.ScratchDatabase)`";" | Out-Null
        }

        It 'runs on another server, and never ends sessions elsewhere' {
            $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'other-server') -Format Custom
            $session = Start-IdleSession -Server $Main -Database $Db
            try {
                $t = $b | Test-PgBackup -Restore -ConnectionString (Get-TestPostgresUri -Server $Servers.New)
                $t.Passed | Should -BeTrue
                $t.Server | Should -Be "127.0.0.1:$($Servers.New.Port)"
                Get-DrillDatabases -Server $Servers.New | Should -BeNullOrEmpty
                Invoke-TestPsql -Server $Main -Sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbackup-test-lock';" | Should -Be '1'
            }
            finally { Stop-TableLock $session }
        }

        It 'fails loudly when the restored data differs, and still drops its scratch database' {
            $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'drill-fail')
            $m = Get-Content -Raw "$($b.Path).json" | ConvertFrom-Json
            ($m.tables | Where-Object name -eq 'tracks').rows = 399
            $m | ConvertTo-Json -Depth 6 | Set-Content "$($b.Path).json"
            # The archive's own row counts no longer match the (edited) manifest either.
            { Get-PgBackup -Path (Join-Path $Out 'drill-fail') -Latest | Test-PgBackup -Restore -ConnectionString $Uri -ErrorAction Stop } |
                Should -Throw -ErrorId 'BackupCorrupt,PgBackup.Commands.TestPgBackupCommand'
            Get-DrillDatabases | Should -BeNullOrEmpty
        }

        It 'needs a server for the drill' {
            $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'noserver') -SchemaOnly
            $folder = New-TestFolder
            Push-Location $folder
            try {
                Remove-Item Env:DATABASE_URL -ErrorAction SilentlyContinue
                { $b | Test-PgBackup -Restore } | Should -Throw -ErrorId 'ConnectionStringMissing,PgBackup.Commands.TestPgBackupCommand'
            }
            finally { Pop-Location; Remove-TestFolder $folder }
        }
    }
}
