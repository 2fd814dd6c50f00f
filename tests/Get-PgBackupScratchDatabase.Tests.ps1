# PgBackup's own databases: the mark they carry and lose when they become the user's, which ones count as left behind,
# and Get-/Remove-PgBackupScratchDatabase. What killed jobs really leave is in Interrupted.Tests.ps1.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    $script:Db = New-TestDatabaseName 'sd'
    New-TestDatabase -Server $Main -Name $Db -SqlFile $SampleSql
    $script:Uri = Get-TestPostgresUri -Server $Main -Database $Db
    $script:Out = New-TestFolder
    $script:Backup = New-PgBackup -ConnectionString $Uri -Path $Out -Format Custom

    function Get-Comment([string]$Name) {
        Invoke-TestPsql -Server $Main -Sql "SELECT coalesce(shobj_description(oid, 'pg_database'), '<none>') FROM pg_database WHERE datname = '$Name';"
    }
    function New-MarkedDatabase([string]$Name, [string]$Kind = 'drill', [string]$Host_ = 'elsewhere', [int]$ProcessId = 42, [string]$Key = 'k', [datetime]$Created = [datetime]::UtcNow, [switch]$Kept) {
        # A database with PgBackup's mark as another job would have left it.
        $mark = [ordered]@{ kind = $Kind; host = $Host_; pid = $ProcessId; processStart = '2026-01-01T00:00:00.000Z'; processStartKey = $Key; created = $Created.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'") }
        if ($Kept) { $mark.kept = $true }
        $comment = 'PgBackup scratch database: ' + ($mark | ConvertTo-Json -Compress)
        Invoke-TestPsql -Server $Main -Sql "CREATE DATABASE `"$Name`";" | Out-Null
        Invoke-TestPsql -Server $Main -Sql "COMMENT ON DATABASE `"$Name`" IS '$comment';" | Out-Null
        $Name
    }
    function Get-EndedProcessId {
        # The id of a process of this machine that has ended.
        $p = [System.Diagnostics.Process]::Start('/bin/sh', '-c true')
        $p.WaitForExit()
        $p.Id
    }
}

AfterAll {
    foreach ($name in Get-DatabaseNames -Server $Main | Where-Object { $_ -like '*pgbackup_*' -or $_ -like 'sd_user_*' }) {
        Invoke-TestPsql -Server $Main -Sql "DROP DATABASE IF EXISTS `"$name`" WITH (FORCE);" | Out-Null
    }
    Remove-TestFolder $Out
}

Describe 'Get-PgBackupScratchDatabase and Remove-PgBackupScratchDatabase' {
    It 'have the expected parameters; removal asks first' {
        $common = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters
        (Get-Command Get-PgBackupScratchDatabase).Parameters.Keys | Where-Object { $_ -notin $common } | Sort-Object |
            Should -Be ('ConnectionString', 'Credential', 'Name' | Sort-Object)
        $remove = Get-Command Remove-PgBackupScratchDatabase
        $remove.Parameters.Keys | Where-Object { $_ -notin $common } | Sort-Object |
            Should -Be ('ConnectionString', 'Credential', 'Force', 'Name', 'PassThru' | Sort-Object)
        $attr = $remove.ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
        $attr.SupportsShouldProcess | Should -BeTrue
        $attr.ConfirmImpact | Should -Be 'High'
        (Get-FormatData -TypeName PgBackup.ScratchDatabase).FormatViewDefinition[0].Control.GetType().Name | Should -Be 'TableControl'
    }

    It 'a restored database has its own comment, never the mark; kept databases are listed as Kept' {
        Invoke-TestPsql -Server $Main -Sql "COMMENT ON DATABASE `"$Db`" IS 'the app''s database';" | Out-Null
        $r = $Backup | Restore-PgBackup -ConnectionString $Uri -Force -KeepPrevious
        Get-Comment $Db | Should -Be "the app's database"
        $new = "sd_user_$([guid]::NewGuid().ToString('n').Substring(0, 6))"
        $Backup | Restore-PgBackup -ConnectionString $Uri -TargetDatabase $new -CreateDatabase -Confirm:$false | Out-Null
        Get-Comment $new | Should -Be '<none>'
        $t = $Backup | Test-PgBackup -Restore -Keep -ConnectionString $Uri
        $kept = Get-PgBackupScratchDatabase -ConnectionString $Uri -Name $r.PreviousDatabase, 'pgbackup_drill_*'
        ($kept | Sort-Object Name).Name | Should -Be (@($r.PreviousDatabase, $t.ScratchDatabase) | Sort-Object)
        $kept.Status | Should -Be 'Kept', 'Kept'
        $kept.Stale | Should -Be $false, $false
        ($kept | Where-Object Name -eq $r.PreviousDatabase).Kind | Should -Be 'Previous'
        ($kept | Where-Object Name -eq $t.ScratchDatabase).Kind | Should -Be 'Drill'
        $kept[0].PSObject.TypeNames[0] | Should -Be 'PgBackup.ScratchDatabase'
        $kept[0].SizeBytes | Should -BeGreaterThan 1MB
        Get-Comment $r.PreviousDatabase | Should -BeLike 'PgBackup scratch database: {"kind":"previous",*"kept":true}'
        # Kept ones go only when named.
        Remove-PgBackupScratchDatabase -ConnectionString $Uri -Confirm:$false
        @(Get-PgBackupScratchDatabase -ConnectionString $Uri -Name $kept.Name).Count | Should -Be 2
        $kept | Remove-PgBackupScratchDatabase -ConnectionString $Uri -Confirm:$false
        Get-PgBackupScratchDatabase -ConnectionString $Uri -Name $kept.Name | Should -BeNullOrEmpty
    }

    It 'drops only marked databases with reserved names whose job is over, before a restore, drill or export, and warns about each' {
        $hostName = [Environment]::MachineName
        $stale = @(
            New-MarkedDatabase 'pgbackup_drill_00000000000a' -Created ([datetime]::UtcNow.AddDays(-2))             # elsewhere, 2 days old
            New-MarkedDatabase "${Db}_pgbackup_restore_00000000000b" -Kind restore -Host_ $hostName -ProcessId (Get-EndedProcessId)   # here, ended
        )
        $keep = @(
            New-MarkedDatabase 'pgbackup_export_00000000000c'                                                        # elsewhere, new
            New-MarkedDatabase 'pgbackup_partial_00000000000d' -Host_ $hostName -ProcessId $PID -Key 'another-start' -Created ([datetime]::UtcNow.AddDays(-2)) -Kept
            New-MarkedDatabase 'sd_user_marked' -Created ([datetime]::UtcNow.AddDays(-2))                            # a user's name
        )
        Invoke-TestPsql -Server $Main -Sql 'CREATE DATABASE pgbackup_drill_00000000000e;' | Out-Null                 # no mark
        $keep += 'pgbackup_drill_00000000000e'
        $busy = New-MarkedDatabase 'pgbackup_drill_00000000000f' -Host_ $hostName -ProcessId (Get-EndedProcessId)
        $keep += $busy
        $session = Start-IdleSession -Server $Main -Database $busy
        try {
            $listed = Get-PgBackupScratchDatabase -ConnectionString $Uri
            ($listed | Where-Object Stale).Name | Sort-Object | Should -Be ($stale | Sort-Object)
            ($listed | Where-Object Name -eq $busy).Status | Should -Be 'InUse'
            ($listed | Where-Object Name -eq $busy).Connections | Should -Be 1
            ($listed | Where-Object Name -eq 'pgbackup_export_00000000000c').Status | Should -Be 'Recent'
            $listed.Name | Should -Not -Contain 'sd_user_marked'
            $listed.Name | Should -Not -Contain 'pgbackup_drill_00000000000e'

            $result = $Backup | Export-PgBackupData -Table public.users -ConnectionString $Uri -WarningVariable warnings 3>$null
            @($result).Count | Should -Be 40
            @($warnings).Count | Should -Be 2
            foreach ($name in $stale) { "$warnings" | Should -Match "Dropped '$name' \(\d+(\.\d)? MB, a \w+ database made .* UTC by process \d+ on host .*\), left on 127\.0\.0\.1:$($Main.Port) by a PgBackup job that did not finish" }
            $names = Get-DatabaseNames -Server $Main
            foreach ($name in $stale) { $names | Should -Not -Contain $name }
            foreach ($name in $keep) { $names | Should -Contain $name }
        }
        finally { Stop-TableLock $session }
    }

    It 'Remove-PgBackupScratchDatabase refuses what is not PgBackup''s, in use or maybe still running, unless -Force for the latter' {
        $recent = New-MarkedDatabase 'pgbackup_drill_0000000000a1'
        $errors = @()
        Remove-PgBackupScratchDatabase -ConnectionString $Uri -Name sd_user_marked, $recent, 'pgbackup_drill_00000000000e' -Confirm:$false -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors.FullyQualifiedErrorId | Should -Be 'NotAScratchDatabase,PgBackup.Commands.RemovePgBackupScratchDatabaseCommand',
            'ScratchDatabaseInUse,PgBackup.Commands.RemovePgBackupScratchDatabaseCommand',
            'NotAScratchDatabase,PgBackup.Commands.RemovePgBackupScratchDatabaseCommand'
        "$($errors[1])" | Should -Match 'its job may still run'
        $out = Invoke-ChildPwsh "Import-Module '$($env:PGBACKUP_TEST_MODULE)'; Remove-PgBackupScratchDatabase -ConnectionString '$Uri' -Name $recent -Force -WhatIf"
        $out | Should -Match "What if: .*Drop '$recent' \(.*, a drill database made "
        $out | Should -Match 'status Recent'
        Get-DatabaseNames -Server $Main | Should -Contain $recent
        $gone = Remove-PgBackupScratchDatabase -ConnectionString $Uri -Name $recent -Force -Confirm:$false -PassThru
        $gone.Name | Should -Be $recent
        Get-DatabaseNames -Server $Main | Should -Not -Contain $recent
    }

    It 'Restore-PgBackup refuses a target named like PgBackup''s own databases' {
        { $Backup | Restore-PgBackup -ConnectionString $Uri -TargetDatabase 'app_pgbackup_restore_0123456789ab' -CreateDatabase -Confirm:$false } |
            Should -Throw -ErrorId 'InvalidParameter,PgBackup.Commands.RestorePgBackupCommand'
    }
}
