BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    $script:Db = New-TestDatabaseName 'ret'
    $script:Db2 = New-TestDatabaseName 'ret2'
    New-TestDatabase -Server $Main -Name $Db -SqlFile $SampleSql
    New-TestDatabase -Server $Main -Name $Db2 -Sql 'CREATE TABLE t (a int); INSERT INTO t VALUES (1);'
    $script:Uri = Get-TestPostgresUri -Server $Main -Database $Db
    $script:Uri2 = Get-TestPostgresUri -Server $Main -Database $Db2
    $script:Work = New-TestFolder
    # One real backup made the guide's way (pg_dump | gzip); the guide's files in the tests are copies of it.
    $script:GuideTemplate = Join-Path $Work 'template.sql.gz'
    & bash -c "set -o pipefail; PGPASSWORD='$($Main.Password)' pg_dump -h 127.0.0.1 -p $($Main.Port) -U $($Main.User) $Db | gzip > '$GuideTemplate'"
    if ($LASTEXITCODE -ne 0) { throw 'pg_dump | gzip failed.' }
    $script:EmptyGzip = Join-Path $Work 'empty.sql.gz'
    & bash -c "true | gzip > '$EmptyGzip'"

    function Utc([int]$y, [int]$mo, [int]$d, [int]$h = 3, [int]$mi = 0) { [datetime]::new($y, $mo, $d, $h, $mi, 0, [DateTimeKind]::Utc) }

    function New-GuideBackup {
        # Files named as the guide's backup-database.sh names them; -Failed makes the empty gzip a failed pg_dump leaves.
        param([string]$Folder, [datetime[]]$Time, [string]$Database = $Db, [switch]$Failed)
        foreach ($t in $Time) {
            $path = Join-Path $Folder ("backup_${Database}_" + $t.ToString('yyyyMMdd_HHmmss') + '.sql.gz')
            Copy-Item $(if ($Failed) { $EmptyGzip } else { $GuideTemplate }) $path
            $path
        }
    }

    function New-RealBackup {
        # Backups made by New-PgBackup (schema only, so they are quick), then moved to the given times.
        param([string]$Folder, [datetime[]]$Time, [string]$ConnectionString = $Uri)
        foreach ($t in $Time) {
            $b = New-PgBackup -ConnectionString $ConnectionString -Path $Folder -SchemaOnly
            Set-ManifestTime -Path $b.Path -Time $t
            $b.Path
        }
    }

    function Get-Names([string]$Folder) { @(Get-ChildItem $Folder -Force | Select-Object -ExpandProperty Name | Sort-Object) }
}

AfterAll {
    Remove-TestFolder $Work
}

Describe 'Invoke-PgBackupRetention' {
    BeforeEach { $script:Folder = New-TestFolder }
    AfterEach { Remove-TestFolder $Folder }

    It 'has the expected parameters, and asks before it removes (ConfirmImpact High)' {
        $expected = 'InputObject', 'AllInGroup', 'Path', 'Database', 'KeepLast', 'KeepHourly', 'KeepDaily', 'KeepWeekly', 'KeepMonthly',
            'KeepYearly', 'KeepWithin', 'TimeZone', 'RemoveIncomplete', 'VerifyKey', 'S3Credential', 'ProfileName', 'Region', 'EndpointUrl', 'S3AddressingStyle', 'S3ChecksumMode', 'S3TimeoutSeconds', 'AzureSasToken', 'AzureConnectionString', 'AzureAccountKey', 'AzureEndpointUrl'
        $cmd = Get-Command Invoke-PgBackupRetention
        $actual = $cmd.Parameters.Keys | Where-Object { $_ -notin [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters }
        $actual | Sort-Object | Should -Be ($expected | Sort-Object)
        $attr = $cmd.ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
        $attr.ConfirmImpact | Should -Be 'High'
        $attr.SupportsShouldProcess | Should -BeTrue
        $cmd.Parameters.Keys | Should -Contain 'WhatIf'
        ($cmd.ParameterSets.Name | Sort-Object) | Should -Be @('InputObject', 'Path')
        $cmd.Parameters['KeepWithin'].ParameterType | Should -Be ([timespan])
        $cmd.OutputType.Name | Should -Contain 'PgBackup.RetentionDecision'
    }

    It 'stops without a rule or with an unknown time zone, and removes nothing' {
        New-GuideBackup $Folder (Utc 2026 3 1), (Utc 2026 3 2) | Out-Null
        { Get-PgBackup -Path $Folder | Invoke-PgBackupRetention -Confirm:$false } | Should -Throw -ErrorId 'RetentionPolicyMissing,PgBackup.Commands.InvokePgBackupRetentionCommand'
        { Invoke-PgBackupRetention -Path $Folder -KeepLast 0 -Confirm:$false } | Should -Throw -ErrorId 'RetentionPolicyMissing,*'
        { Invoke-PgBackupRetention -Path $Folder -KeepLast 1 -TimeZone 'Mars/Olympus_Mons' -Confirm:$false } | Should -Throw -ErrorId 'TimeZoneNotFound,*'
        # A plain number is a TimeSpan of ticks, not days: refused rather than keeping almost nothing.
        { Invoke-PgBackupRetention -Path $Folder -KeepWithin 7 -Confirm:$false } | Should -Throw -ErrorId 'InvalidParameter,*'
        (Get-Names $Folder).Count | Should -Be 2
        # An empty pipeline plans nothing (and never falls back to a default folder).
        @(@() | Invoke-PgBackupRetention -KeepLast 1 -Confirm:$false).Count | Should -Be 0
    }

    It 'keeps the last N real backups by their manifests'' times; -WhatIf deletes nothing; a second run removes nothing more' {
        # Made in one order, dated in another: retention must follow the manifests, not names or file times.
        $times = (Utc 2026 1 5), (Utc 2026 3 1), (Utc 2025 11 20), (Utc 2026 2 14), (Utc 2025 12 24), (Utc 2026 1 30)
        $paths = New-RealBackup $Folder $times
        $before = Get-Names $Folder
        $before.Count | Should -Be 12

        $plan = @(Get-PgBackup -Path $Folder | Invoke-PgBackupRetention -KeepLast 3 -WhatIf)
        $plan.Count | Should -Be 6
        $plan[0].PSObject.TypeNames[0] | Should -Be 'PgBackup.RetentionDecision'
        Get-Names $Folder | Should -Be $before
        @($plan | Where-Object Action -eq 'Remove').Count | Should -Be 3
        @($plan | Where-Object Removed).Count | Should -Be 0
        ($plan | Where-Object Action -eq 'Keep').Time | Should -Be @((Utc 2026 3 1), (Utc 2026 2 14), (Utc 2026 1 30))
        $plan[0].Reasons | Should -Be @('last 1', 'newest')
        $plan[0].Group | Should -Be "$Db @ $Folder"
        $plan[0].Backup.Path | Should -Be $paths[1]
        $plan[0].IsGood | Should -BeTrue

        $done = @(Get-PgBackup -Path $Folder | Invoke-PgBackupRetention -KeepLast 3 -Confirm:$false)
        @($done | Where-Object Removed).Count | Should -Be 3
        $left = @(Get-PgBackup -Path $Folder)
        $left.Path | Should -Be @($paths[1], $paths[3], $paths[5])
        (Get-Names $Folder).Count | Should -Be 6     # each remaining backup with its manifest, nothing else removed
        foreach ($p in $paths[0], $paths[2], $paths[4]) { Test-Path $p | Should -BeFalse; Test-Path "$p.json" | Should -BeFalse }

        $again = @(Invoke-PgBackupRetention -Path $Folder -KeepLast 3 -Confirm:$false)
        @($again | Where-Object Action -eq 'Remove').Count | Should -Be 0
    }

    It 'applies the guide''s 7 daily, 4 weekly and 12 monthly backups to the guide''s files' {
        $times = for ($t = Utc 2025 1 1; $t -le (Utc 2026 3 15); $t = $t.AddDays(1)) { $t }
        New-GuideBackup $Folder $times | Out-Null
        Set-Content (Join-Path $Folder 'README.txt') 'not a backup'
        $plan = @(Invoke-PgBackupRetention -Path $Folder -KeepDaily 7 -KeepWeekly 4 -KeepMonthly 12 -TimeZone UTC -WhatIf)
        $plan.Count | Should -Be $times.Count
        $kept = @($plan | Where-Object Action -eq 'Keep')
        # 7 days (9-15 March), ISO weeks 10, 9 and 8 (week 11 ends on Sunday 15 March), and 11 more month ends.
        $kept.Count | Should -Be 21
        $byDay = @{}; foreach ($d in $plan) { $byDay[$d.Time.ToString('yyyy-MM-dd')] = $d }
        $byDay['2026-03-15'].Reasons | Should -Be @('daily 2026-03-15', 'weekly 2026-W11', 'monthly 2026-03', 'newest')
        $byDay['2026-03-09'].Reasons | Should -Be @('daily 2026-03-09')
        $byDay['2026-03-08'].Reasons | Should -Be @('weekly 2026-W10')
        $byDay['2026-02-22'].Reasons | Should -Be @('weekly 2026-W08')
        $byDay['2026-02-28'].Reasons | Should -Be @('monthly 2026-02')
        $byDay['2025-04-30'].Reasons | Should -Be @('monthly 2025-04')
        $byDay['2025-03-31'].Action | Should -Be 'Remove'
        $byDay['2026-02-21'].Action | Should -Be 'Remove'

        Invoke-PgBackupRetention -Path $Folder -KeepDaily 7 -KeepWeekly 4 -KeepMonthly 12 -TimeZone UTC -Confirm:$false | Out-Null
        $left = @(Get-PgBackup -Path $Folder)
        $left.Count | Should -Be 21
        ($left.StartTime | Sort-Object) | Should -Be ($kept.Time | Sort-Object)
        Test-Path (Join-Path $Folder 'README.txt') | Should -BeTrue
    }

    It 'keeps "the last 7 days" relative to the newest good backup when recent backups failed, and counts no failed or incomplete backup' {
        New-GuideBackup $Folder (0..19 | ForEach-Object { (Utc 2026 2 1).AddDays($_) }) | Out-Null
        # Then three weeks of failed runs: pg_dump wrote nothing, gzip made an empty file.
        New-GuideBackup $Folder (1..18 | ForEach-Object { (Utc 2026 2 20).AddDays($_) }) -Failed | Out-Null
        # An interrupted PgBackup run, and one that may still be running.
        Set-Content (Join-Path $Folder "backup_${Db}_20260305_120000.sql.gz.partial") 'x'
        $running = "backup_${Db}_$([datetime]::UtcNow.ToString('yyyyMMdd_HHmmss')).sql.gz.partial"
        Set-Content (Join-Path $Folder $running) 'x'

        $plan = @(Invoke-PgBackupRetention -Path $Folder -KeepWithin 7.00:00:00 -Confirm:$false)
        $good = @($plan | Where-Object IsGood)
        ($good | Where-Object Action -eq 'Keep').Time | Should -Be (0..6 | ForEach-Object { (Utc 2026 2 20).AddDays(-$_) })
        ($good | Where-Object Action -eq 'Keep')[0].Reasons | Should -Be @('within 7d', 'newest')
        $failed = @($plan | Where-Object { -not $_.IsGood })
        $failed.Count | Should -Be 20
        $failed | ForEach-Object { $_.Action | Should -Be 'Keep'; $_.Reasons | Should -Be 'incomplete (not counted; -RemoveIncomplete removes it)' }
        @(Get-PgBackup -Path $Folder).Count | Should -Be 27

        # -KeepLast 1 keeps the last good backup, not the newest file.
        (Invoke-PgBackupRetention -Path $Folder -KeepLast 1 -WhatIf | Where-Object { $_.IsGood -and $_.Action -eq 'Keep' }).Time | Should -Be (Utc 2026 2 20)

        # -RemoveIncomplete removes the failed ones, but not one that may still be being written.
        $plan = @(Invoke-PgBackupRetention -Path $Folder -KeepWithin 7.00:00:00 -RemoveIncomplete -Confirm:$false)
        @($plan | Where-Object { -not $_.IsGood -and $_.Removed }).Count | Should -Be 19
        ($plan | Where-Object Id -eq (Join-Path $Folder ($running -replace '\.partial$'))).Reasons |
            Should -Be 'incomplete, less than 24 hours old (may still be being written)'
        Get-Names $Folder | Should -Contain $running
        @(Get-PgBackup -Path $Folder).Count | Should -Be 8
    }

    It 'does not count incomplete PgBackup backups (a partial, a manifest without data)' {
        $paths = New-RealBackup $Folder (Utc 2026 3 1), (Utc 2026 3 2), (Utc 2026 3 3)
        Remove-Item $paths[2]                   # the newest lost its data: only its manifest is left
        Set-Content (Join-Path $Folder "backup_${Db}_20260304_030000.sql.gz.partial") 'x'
        $plan = @(Get-PgBackup -Path $Folder | Invoke-PgBackupRetention -KeepLast 1 -Confirm:$false)
        $plan.Count | Should -Be 4
        ($plan | Where-Object { $_.IsGood -and $_.Action -eq 'Keep' }).Id | Should -Be $paths[1]
        Test-Path $paths[1] | Should -BeTrue
        Test-Path $paths[0] | Should -BeFalse
        Test-Path "$($paths[2]).json" | Should -BeTrue
        @($plan | Where-Object { -not $_.IsGood }).Action | Should -Be @('Keep', 'Keep')
    }

    It 'treats each database and each folder as its own group' {
        $other = New-TestFolder
        try {
            New-GuideBackup $Folder ((1..5) | ForEach-Object { Utc 2026 3 $_ }) | Out-Null
            New-GuideBackup $Folder (Utc 2025 1 1), (Utc 2025 1 2) -Database $Db2 | Out-Null
            New-GuideBackup $other (Utc 2024 6 1), (Utc 2024 6 2) | Out-Null
            $plan = @(Get-PgBackup -Path $Folder, $other | Invoke-PgBackupRetention -KeepLast 1 -Confirm:$false)
            $plan.Count | Should -Be 9
            ($plan.Group | Select-Object -Unique | Sort-Object) | Should -Be (@("$Db @ $Folder", "$Db @ $other", "$Db2 @ $Folder") | Sort-Object)
            (Get-PgBackup -Path $Folder, $other).Name | Sort-Object | Should -Be (@("backup_${Db}_20260305_030000.sql.gz", "backup_${Db2}_20250102_030000.sql.gz", "backup_${Db}_20240602_030000.sql.gz") | Sort-Object)
            # -Database narrows a folder to some databases.
            New-GuideBackup $Folder (Utc 2025 1 3) -Database $Db2 | Out-Null
            $plan = @(Invoke-PgBackupRetention -Path $Folder -Database 'ret2_*' -KeepLast 1 -WhatIf)
            $plan.Group | Select-Object -Unique | Should -Be "$Db2 @ $Folder"
        }
        finally { Remove-TestFolder $other }
    }

    It 'plans exactly the backups piped; with -AllInGroup, every backup of their database in their folder' {
        New-GuideBackup $Folder ((1..4) | ForEach-Object { Utc 2026 3 $_ }) | Out-Null
        New-GuideBackup $Folder (Utc 2026 1 1), (Utc 2026 1 2) -Database $Db2 | Out-Null
        # Only the two oldest backups of $Db are given: the newest of those two is kept, the two newest files untouched.
        $plan = @(Get-PgBackup -Path $Folder -Database $Db | Select-Object -Last 2 | Invoke-PgBackupRetention -KeepLast 1 -Confirm:$false)
        $plan.Count | Should -Be 2
        ($plan | Where-Object Action -eq 'Keep').Time | Should -Be (Utc 2026 3 2)
        @(Get-PgBackup -Path $Folder -Database $Db).Count | Should -Be 3

        # The recipe: a new backup, then the last 2 of its database in its folder; the other database is not touched.
        $plan = @(New-PgBackup -ConnectionString $Uri -Path $Folder -SchemaOnly | Invoke-PgBackupRetention -KeepLast 2 -AllInGroup -Confirm:$false)
        $plan.Count | Should -Be 4
        @($plan | Where-Object Removed).Count | Should -Be 2
        $left = @(Get-PgBackup -Path $Folder -Database $Db)
        $left.Count | Should -Be 2
        $left[0].Status | Should -Be 'Complete'
        $left[1].StartTime | Should -Be (Utc 2026 3 4)
        @(Get-PgBackup -Path $Folder -Database $Db2).Count | Should -Be 2

        # -AllInGroup needs backups in folders.
        { [pscustomobject]@{ Id = 'br-1'; CreatedAt = (Utc 2026 1 1); Group = 'neon' } | Invoke-PgBackupRetention -KeepLast 1 -AllInGroup -Confirm:$false } |
            Should -Throw -ErrorId 'InvalidParameter,*'
    }

    It 'reckons days in -TimeZone' {
        # 21:00, 22:30 and 23:30 UTC on 14 March: one day in UTC; in Berlin (UTC+1), 23:30 UTC is already the 15th.
        New-GuideBackup $Folder (Utc 2026 3 13 12), (Utc 2026 3 14 21), (Utc 2026 3 14 22 30), (Utc 2026 3 14 23 30) | Out-Null
        $utc = @(Invoke-PgBackupRetention -Path $Folder -KeepDaily 2 -TimeZone UTC -WhatIf | Where-Object Action -eq 'Keep')
        $utc.Time | Should -Be @((Utc 2026 3 14 23 30), (Utc 2026 3 13 12))
        $utc[1].Reasons | Should -Be 'daily 2026-03-13'
        $berlin = @(Invoke-PgBackupRetention -Path $Folder -KeepDaily 2 -TimeZone Europe/Berlin -WhatIf | Where-Object Action -eq 'Keep')
        $berlin.Time | Should -Be @((Utc 2026 3 14 23 30), (Utc 2026 3 14 22 30))
        $berlin[0].Reasons[0] | Should -Be 'daily 2026-03-15'
        $berlin[1].Reasons | Should -Be 'daily 2026-03-14'
    }

    It 'reports a failed removal as an error for that backup and removes the others' {
        $locked = New-TestFolder
        $lock = $null
        try {
            New-GuideBackup $Folder ((1..3) | ForEach-Object { Utc 2026 3 $_ }) | Out-Null
            $stuck = New-RealBackup $locked (Utc 2026 2 1), (Utc 2026 2 2)
            $lock = Lock-TestPath $stuck[0]
            $plan = @(Get-PgBackup -Path $locked, $Folder | Invoke-PgBackupRetention -KeepLast 1 -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue)
            $plan.Count | Should -Be 5
            @($errs).Count | Should -Be 1
            $errs[0].FullyQualifiedErrorId | Should -Be 'RemoveFailed,PgBackup.Commands.InvokePgBackupRetentionCommand'
            $errs[0].TargetObject.Path | Should -Be $stuck[0]
            ($plan | Where-Object Id -eq $stuck[0]).Removed | Should -BeFalse
            @($plan | Where-Object Removed).Count | Should -Be 2
            @(Get-PgBackup -Path $Folder).Count | Should -Be 1
            # The data goes first: a failed removal leaves the backup whole.
            Test-Path "$($stuck[0]).json" | Should -BeTrue
            (Get-PgBackup -Path $locked | Where-Object Path -eq $stuck[0]).Status | Should -Be 'Complete'
        }
        finally { Unlock-TestPath $lock; Remove-TestFolder $locked }
    }

    It 'asks before removing: without -Confirm:$false a non-interactive session removes nothing' {
        New-GuideBackup $Folder (Utc 2026 3 1), (Utc 2026 3 2) | Out-Null
        { Invoke-PgBackupRetention -Path $Folder -KeepLast 1 -ErrorAction Stop } | Should -Throw
        (Get-Names $Folder).Count | Should -Be 2
    }

    It 'plans other objects that have a time, a group and an identity' {
        $paths = New-RealBackup $Folder (Utc 2026 3 1), (Utc 2026 3 2), (Utc 2026 3 3)
        # Plain objects that name backups by path can be removed like backups.
        $plain = Get-PgBackup -Path $Folder | Select-Object Path, StartTime, Database
        $plan = @($plain | Invoke-PgBackupRetention -KeepLast 2 -Confirm:$false)
        ($plan | Where-Object Removed).Id | Should -Be $paths[0]
        Test-Path $paths[0] | Should -BeFalse
        Test-Path "$($paths[0]).json" | Should -BeFalse
        $plan[0].Backup.GetType().Name | Should -Be 'PSCustomObject'

        # Others can be planned, but PgBackup does not remove what it does not know.
        $branches = @(
            [pscustomobject]@{ id = 'br-new'; created_at = '2026-03-15T14:30:22Z'; Group = 'project-1' }
            [pscustomobject]@{ id = 'br-old'; created_at = '2026-03-01T14:30:22Z'; Group = 'project-1' }
        )
        $plan = @($branches | Invoke-PgBackupRetention -KeepLast 1 -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue)
        $plan.Id | Should -Be @('br-new', 'br-old')
        $plan[1].Time | Should -Be ([datetime]::new(2026, 3, 1, 14, 30, 22, [DateTimeKind]::Utc))
        $plan[1].Removed | Should -BeFalse
        $errs[0].FullyQualifiedErrorId | Should -Be 'RemoveFailed,PgBackup.Commands.InvokePgBackupRetentionCommand'

        # An object without a group stops everything before anything is removed.
        { Get-PgBackup -Path $Folder | Select-Object Path, StartTime | Invoke-PgBackupRetention -KeepLast 1 -Confirm:$false } | Should -Throw -ErrorId 'InvalidParameter,*'
        @(Get-PgBackup -Path $Folder).Count | Should -Be 2
    }
}
