BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    $script:Db = New-TestDatabaseName 'rm'
    New-TestDatabase -Server $Main -Name $Db -Sql 'CREATE TABLE t (a int); INSERT INTO t SELECT generate_series(1, 100);'
    $script:Uri = Get-TestPostgresUri -Server $Main -Database $Db
    function Get-Names([string]$Folder) { @(Get-ChildItem $Folder -Force | Select-Object -ExpandProperty Name | Sort-Object) }
}

Describe 'Remove-PgBackup' {
    BeforeEach { $script:Folder = New-TestFolder }
    AfterEach { Remove-TestFolder $Folder }

    It 'has the expected parameters, and asks before it removes (ConfirmImpact High)' {
        $expected = 'Path', 'InputObject', 'PassThru', 'S3Credential', 'ProfileName', 'Region', 'EndpointUrl', 'S3AddressingStyle', 'S3ChecksumMode', 'S3TimeoutSeconds', 'AzureSasToken', 'AzureConnectionString', 'AzureAccountKey', 'AzureEndpointUrl'
        $cmd = Get-Command Remove-PgBackup
        $actual = $cmd.Parameters.Keys | Where-Object { $_ -notin [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters }
        $actual | Sort-Object | Should -Be ($expected | Sort-Object)
        $attr = $cmd.ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
        $attr.ConfirmImpact | Should -Be 'High'
        $attr.SupportsShouldProcess | Should -BeTrue
        $cmd.Parameters.Keys | Should -Contain 'WhatIf'
        $cmd.Parameters['InputObject'].ParameterType.FullName | Should -Be 'PgBackup.BackupInfo[]'
    }

    It 'removes a backup''s data and manifest, given by path or from Get-PgBackup, and nothing else' {
        $a = New-PgBackup -ConnectionString $Uri -Path $Folder
        $b = New-PgBackup -ConnectionString $Uri -Path $Folder -Format Directory
        $c = New-PgBackup -ConnectionString $Uri -Path $Folder -Format Custom
        $guide = Join-Path $Folder "backup_${Db}_20240315_143022.sql.gz"
        & bash -c "PGPASSWORD='$($Main.Password)' pg_dump -h 127.0.0.1 -p $($Main.Port) -U $($Main.User) $Db | gzip > '$guide'"
        Set-Content (Join-Path $Folder 'README.txt') 'keep me'
        Set-Content (Join-Path $Folder 'backup_notes.txt') 'keep me too'

        Remove-PgBackup -Path $a.Path -Confirm:$false
        Test-Path $a.Path | Should -BeFalse
        Test-Path "$($a.Path).json" | Should -BeFalse
        # A Directory backup (a folder) from the pipeline.
        Get-PgBackup -Path $Folder | Where-Object Format -eq 'Directory' | Remove-PgBackup -Confirm:$false
        Test-Path $b.Path | Should -BeFalse
        Test-Path "$($b.Path).json" | Should -BeFalse
        # The guide's backup (no manifest), by a relative path.
        Push-Location $Folder
        try { Remove-PgBackup (Split-Path -Leaf $guide) -Confirm:$false } finally { Pop-Location }
        Test-Path $guide | Should -BeFalse
        # A manifest's path stands for its backup.
        $removed = @(Remove-PgBackup "$($c.Path).json" -Confirm:$false -PassThru)
        $removed.Count | Should -Be 1
        $removed[0].PSObject.TypeNames[0] | Should -Be 'PgBackup.BackupInfo'
        $removed[0].Path | Should -Be $c.Path
        Get-Names $Folder | Should -Be @('backup_notes.txt', 'README.txt')
    }

    It 'removes nothing with -WhatIf, or without -Confirm:$false in a non-interactive session' {
        $a = New-PgBackup -ConnectionString $Uri -Path $Folder
        $before = Get-Names $Folder
        Remove-PgBackup -Path $a.Path -WhatIf
        Get-PgBackup -Path $Folder | Remove-PgBackup -WhatIf
        Get-Names $Folder | Should -Be $before
        { Remove-PgBackup -Path $a.Path -ErrorAction Stop } | Should -Throw
        Get-Names $Folder | Should -Be $before
    }

    It 'refuses paths that are not backups, one error each, and removes the backups given with them' {
        $a = New-PgBackup -ConnectionString $Uri -Path $Folder
        $readme = Join-Path $Folder 'README.txt'
        Set-Content $readme 'not a backup'
        New-Item -ItemType Directory (Join-Path $Folder 'sub') | Out-Null
        $missing = Join-Path $Folder "backup_${Db}_20200101_000000.sql.gz"
        $paths = $readme, $Folder, (Join-Path $Folder 'sub'), $missing, $a.Path, (Join-Path $Folder 'nowhere/backup_x_20200101_000000.sql.gz')
        $paths | Remove-PgBackup -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        @($errs).Count | Should -Be 5
        $errs.FullyQualifiedErrorId | Should -Be @(
            'NotABackup,PgBackup.Commands.RemovePgBackupCommand', 'NotABackup,PgBackup.Commands.RemovePgBackupCommand',
            'NotABackup,PgBackup.Commands.RemovePgBackupCommand', 'PathNotFound,PgBackup.Commands.RemovePgBackupCommand',
            'PathNotFound,PgBackup.Commands.RemovePgBackupCommand')
        $errs[0].TargetObject | Should -Be $readme
        Test-Path $readme | Should -BeTrue
        Test-Path $Folder | Should -BeTrue
        Test-Path (Join-Path $Folder 'sub') | Should -BeTrue
        Test-Path $a.Path | Should -BeFalse
        Get-Names $Folder | Should -Be @('README.txt', 'sub')
    }

    It 'reports a backup it cannot delete as RemoveFailed, keeps it whole, and goes on' {
        $locked = New-TestFolder
        $lock = $null
        try {
            $stuck = New-PgBackup -ConnectionString $Uri -Path $locked -SchemaOnly
            $free = New-PgBackup -ConnectionString $Uri -Path $Folder -SchemaOnly
            $lock = Lock-TestPath $stuck.Path
            $out = @($stuck, $free | Remove-PgBackup -Confirm:$false -PassThru -ErrorVariable errs -ErrorAction SilentlyContinue)
            @($errs).Count | Should -Be 1
            $errs[0].FullyQualifiedErrorId | Should -Be 'RemoveFailed,PgBackup.Commands.RemovePgBackupCommand'
            $errs[0].CategoryInfo.Category | Should -Be 'WriteError'
            $errs[0].TargetObject.Path | Should -Be $stuck.Path
            $out.Path | Should -Be $free.Path
            Test-Path $free.Path | Should -BeFalse
            # The data goes first, so the failure left the backup as it was.
            (Get-PgBackup -Path $locked).Status | Should -Be 'Complete'
        }
        finally { Unlock-TestPath $lock; Remove-TestFolder $locked }
    }
}
