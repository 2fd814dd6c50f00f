@{
    # The module's version: the one place it is set. build.ps1 compiles it into the assemblies.
    ModuleVersion        = '0.1.0'
    GUID                 = '6f0c2a4e-8f5b-4d7e-9a61-2c3b7d5e1f90'
    RootModule           = 'PgBackup.psm1'
    Author               = 'The PgBackup developers'
    CompanyName          = 'PgBackup'
    Copyright            = '(c) The PgBackup developers. MIT License.'
    Description          = 'Backs up and restores PostgreSQL databases: streaming pg_dump backups with manifests, safe restores, restore drills, retention, S3 storage, OpenPGP encryption and Neon branch backups.'
    PowerShellVersion    = '5.1'
    # Windows PowerShell 5.1 only (PowerShell 7 ignores it): the netstandard2.0 build needs .NET Framework 4.7.2 (Server 2016
    # ships 4.6.2, where Import-Module then says so instead of failing later inside Npgsql or the AWS SDK).
    DotNetFrameworkVersion = '4.7.2'
    CompatiblePSEditions = @('Desktop', 'Core')
    # One format file per output type (module/formats).
    FormatsToProcess     = @(
        'formats/BackupInfo.Format.ps1xml'
        'formats/RestoreResult.Format.ps1xml'
        'formats/TestResult.Format.ps1xml'
        'formats/RetentionDecision.Format.ps1xml'
        'formats/ExportResult.Format.ps1xml'
        'formats/NeonBackupBranch.Format.ps1xml'
        'formats/ScratchDatabase.Format.ps1xml'
        'formats/DatabaseBackupResult.Format.ps1xml'
    )
    CmdletsToExport      = @(
        'New-PgBackup'
        'Get-PgBackup'
        'Restore-PgBackup'
        'Test-PgBackup'
        'Remove-PgBackup'
        'Invoke-PgBackupRetention'
        'Protect-PgBackup'
        'Unprotect-PgBackup'
        'Export-PgBackupData'
        'New-NeonBackupBranch'
        'Get-NeonBackupBranch'
        'Remove-NeonBackupBranch'
        'Restore-NeonBackupBranch'
        'Copy-PgBackup'
        'Get-PgBackupScratchDatabase'
        'Remove-PgBackupScratchDatabase'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        # What the PowerShell Gallery shows. No ProjectUri yet: the repository has no public address; add it here
        # (ProjectUri = 'https://...') when it has one. No HelpInfoURI: the help ships in the module, not online.
        PSData = @{
            Tags         = @('PostgreSQL', 'Postgres', 'Backup', 'Restore', 'pg_dump', 'S3', 'Neon', 'OpenPGP',
                'PSEdition_Desktop', 'PSEdition_Core', 'Windows', 'Linux', 'MacOS')
            LicenseUri   = 'https://opensource.org/licenses/MIT'
            # build.ps1 puts this version's section of CHANGELOG.md here in the built module.
            ReleaseNotes = 'See CHANGELOG.md.'
        }
    }
}
