BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    $script:Db = New-TestDatabaseName 'gb'
    New-TestDatabase -Server $Main -Name $Db -SqlFile $SampleSql
    $script:Uri = Get-TestPostgresUri -Server $Main -Database $Db
}

Describe 'Get-PgBackup' {
    BeforeEach { $script:Folder = New-TestFolder }
    AfterEach { Remove-TestFolder $Folder }

    It 'has the expected parameters' {
        $expected = 'Path', 'Database', 'Latest', 'Since', 'Before', 'MaxAge', 'IncludeIncomplete', 'ConnectionString', 'Credential', 'VerifyKey', 'S3Credential', 'ProfileName', 'Region', 'EndpointUrl', 'S3AddressingStyle', 'S3ChecksumMode', 'S3TimeoutSeconds', 'AzureSasToken', 'AzureConnectionString', 'AzureAccountKey', 'AzureEndpointUrl'
        $actual = (Get-Command Get-PgBackup).Parameters.Keys | Where-Object { $_ -notin [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters }
        $actual | Sort-Object | Should -Be ($expected | Sort-Object)
    }

    It 'lists its own and the guide''s backups newest first, incomplete ones as such, and ignores other files' {
        $b = New-PgBackup -ConnectionString $Uri -Path $Folder
        # The guide's script: pg_dump | gzip, no manifest.
        $guide = Join-Path $Folder "backup_${Db}_20240315_143022.sql.gz"
        & bash -c "PGPASSWORD='$($Main.Password)' pg_dump -h 127.0.0.1 -p $($Main.Port) -U postgres $Db | gzip > '$guide'"
        $empty = Join-Path $Folder "backup_${Db}_20240316_030000.sql.gz"
        & bash -c "true | gzip > '$empty'"
        Set-Content (Join-Path $Folder "backup_${Db}_20990101_000000.sql.gz.partial") 'x'
        Set-Content (Join-Path $Folder 'README.txt') 'not a backup'
        $list = @(Get-PgBackup -Path $Folder)
        $list.Count | Should -Be 4
        $list[0].Status | Should -Be 'Incomplete'
        $list[1].Name | Should -Be $b.Name
        $list[1].Status | Should -Be 'Complete'
        $list[2].Name | Should -Be "backup_${Db}_20240316_030000.sql.gz"
        $list[2].IsGood | Should -BeFalse
        $list[3].Status | Should -Be 'NoManifest'
        $list[3].IsGood | Should -BeTrue
        $list[3].StartTime | Should -Be ([datetime]::new(2024, 3, 15, 14, 30, 22, [DateTimeKind]::Utc))
        (Get-PgBackup -Path $Folder -Latest).Name | Should -Be $b.Name
        (Get-PgBackup -Path $Folder -Before '2024-03-16').Name | Should -Be "backup_${Db}_20240315_143022.sql.gz"
        @(Get-PgBackup -Path $Folder -Database 'other*').Count | Should -Be 0
    }

    It 'fails a freshness check when the newest good backup is too old' {
        $b = New-PgBackup -ConnectionString $Uri -Path $Folder -SchemaOnly
        { Get-PgBackup -Path $Folder -MaxAge '01:00:00' -ErrorAction Stop } | Should -Not -Throw
        $m = Get-Content -Raw "$($b.Path).json" | ConvertFrom-Json
        $m.startTime = [datetime]::UtcNow.AddDays(-3).ToString('o')
        $m | ConvertTo-Json -Depth 5 | Set-Content "$($b.Path).json"
        { Get-PgBackup -Path $Folder -MaxAge '1.02:00:00' -ErrorAction Stop } | Should -Throw -ErrorId 'BackupStale,PgBackup.Commands.GetPgBackupCommand'
    }
}
