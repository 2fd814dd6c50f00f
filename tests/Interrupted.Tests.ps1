# Jobs killed half-way with kill -9, as a scheduler's time limit, Azure Automation's fair share, a reboot or an
# out-of-memory kill end them: nine PowerShell processes, each in the middle of its work, are killed at once. Then no
# child process of theirs and no session of theirs on the server is left, the next restore drops the databases they
# left (never one that a live restore uses; one with sessions: Get-PgBackupScratchDatabase.Tests), nothing they left
# looks like a good backup, and each job runs again.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    Add-Type -Path (Join-Path $PSScriptRoot 'harness/CutProxy.cs')
    $script:Out = New-TestFolder
    $script:Gate = Join-Path $Out 'gate'
    $script:Bucket = New-TestBucket -Server $S3
    $script:Sfx = [guid]::NewGuid().ToString('n').Substring(0, 6)

    # The source: an index whose expression waits while the gate file exists (pg_stat_file: the server runs here), so
    # that every restore of its backups is busy on the server, in CREATE INDEX, when the test acts.
    $script:Src = "kill_src_$Sfx"
    New-TestDatabase -Server $Main -Name $Src -SqlFile $SampleSql
    Invoke-TestPsql -Server $Main -Database $Src -Sql @"
CREATE FUNCTION public.gate(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS `$`$
BEGIN
    WHILE (pg_catalog.pg_stat_file('$Gate', true)).size IS NOT NULL LOOP PERFORM pg_catalog.pg_sleep(0.05); END LOOP;
    RETURN t;
END `$`$;
CREATE INDEX users_gate ON public.users (public.gate(id));
"@ | Out-Null
    $script:SrcUri = Get-TestPostgresUri -Server $Main -Database $Src
    $script:Plain = New-PgBackup -ConnectionString $SrcUri -Path (Join-Path $Out 'src')
    $script:Custom = New-PgBackup -ConnectionString $SrcUri -Path (Join-Path $Out 'src') -Format Custom
    # A database without the gate: its backups go to S3 (killed while pg_dump waits for a lock) and drill quickly.
    $script:Other = "kill_other_$Sfx"
    New-TestDatabase -Server $Main -Name $Other -Sql "CREATE TABLE t AS SELECT g AS id, md5(g::text) || md5((g * 3)::text) AS v FROM generate_series(1, 20000) g;"
    $script:OtherUri = Get-TestPostgresUri -Server $Main -Database $Other
    $script:Small = New-PgBackup -ConnectionString $OtherUri -Path (Join-Path $Out 'small')
    # In S3: a copy and an encryption both read it when they are killed (the encryption removes it when it runs again).
    $script:Big = New-PgBackup -ConnectionString $OtherUri -Path "s3://$Bucket/big/" -Compression None @S3Params
    # Six backups of which retention keeps two.
    $script:Kept = Join-Path $Out 'retention'
    New-Item -ItemType Directory $Kept | Out-Null
    foreach ($day in 1..6) {
        $name = "backup_${Other}_202601{0:d2}_030000.sql.gz" -f $day
        Copy-Item $Small.Path (Join-Path $Kept $name)
        Copy-Item "$($Small.Path).json" (Join-Path $Kept "$name.json")
        Set-ManifestTime -Path (Join-Path $Kept $name) -Time ([datetime]::new(2026, 1, $day, 3, 0, 0, [DateTimeKind]::Utc))
    }

    function Start-KilledJob([string]$Name, [string]$Body) {
        # A PowerShell process that runs one job of the module (its output in <name>.log); returns the process.
        $file = Join-Path $Out "$Name.ps1"
        Set-Content $file @"
`$ErrorActionPreference = 'Stop'
Import-Module '$($env:PGBACKUP_TEST_MODULE)'
`$S3Credential = [pscredential]::new('$($S3.AccessKey)', (ConvertTo-SecureString '$($S3.SecretKey)' -AsPlainText -Force))
& { $Body } *>&1 | Out-File '$(Join-Path $Out "$Name.log")'
"@
        $psi = [System.Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
        $dll = Join-Path $PSHOME 'pwsh.dll'
        if (Test-Path $dll) { $psi.ArgumentList.Add($dll) }
        foreach ($a in '-NoProfile', '-NonInteractive', '-File', $file) { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $p = [System.Diagnostics.Process]::Start($psi)
        $p.BeginOutputReadLine()
        $p.BeginErrorReadLine()
        $p | Add-Member -NotePropertyName Job -NotePropertyValue $Name -PassThru
    }

    function Get-ProcessTable {
        # Every process here: id => (parent id, name, ended), from /proc.
        $table = @{}
        foreach ($d in [System.IO.Directory]::GetDirectories('/proc')) {
            $id = 0
            if (-not [int]::TryParse([System.IO.Path]::GetFileName($d), [ref]$id)) { continue }
            try { $stat = [System.IO.File]::ReadAllText("$d/stat") } catch { continue }
            $close = $stat.LastIndexOf(')')
            $fields = $stat.Substring($close + 2).Split(' ')
            $table[$id] = [pscustomobject]@{ Parent = [int]$fields[1]; Name = $stat.Substring($stat.IndexOf('(') + 1, $close - $stat.IndexOf('(') - 1); Ended = $fields[0] -in 'Z', 'X' }
        }
        $table
    }

    function Get-Descendants([int]$Id) {
        # The processes below one (children, their children...), as (id, name).
        $table = Get-ProcessTable
        $found = [System.Collections.Generic.List[object]]::new()
        $queue = [System.Collections.Generic.Queue[int]]::new()
        $queue.Enqueue($Id)
        while ($queue.Count) {
            $parent = $queue.Dequeue()
            foreach ($kv in $table.GetEnumerator()) {
                if ($kv.Value.Parent -eq $parent -and -not $kv.Value.Ended) { $found.Add([pscustomobject]@{ Id = $kv.Key; Name = $kv.Value.Name }); $queue.Enqueue($kv.Key) }
            }
        }
        $found
    }

    function Test-Within([scriptblock]$Condition, [double]$Seconds) {
        # True as soon as the condition holds, false when it still does not after the time given.
        $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
        while (-not (& $Condition)) {
            if ([DateTime]::UtcNow -gt $deadline) { return $false }
            Start-Sleep -Milliseconds 100
        }
        $true
    }

    function Wait-For([scriptblock]$Condition, [string]$What, [double]$Seconds = 90) {
        if (-not (Test-Within $Condition $Seconds)) { throw "Timed out waiting for: $What" }
    }

    function Get-BusyIn([string]$Pattern) {
        # Sessions in databases named like the pattern that are creating the gated index.
        [int](Invoke-TestPsql -Server $Main -Sql "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE '$Pattern' AND state = 'active' AND query LIKE '%users_gate%';" | Select-Object -Last 1)
    }
}

AfterAll {
    # Also after a failure: every database of this file's, and those its killed jobs made.
    Remove-Item $Gate -ErrorAction SilentlyContinue
    $jobIds = if (Get-Variable Jobs -Scope Script -ErrorAction SilentlyContinue) { @($script:Jobs | ForEach-Object Id) } else { @() }
    $names = @(Get-DatabaseNames -Server $Main | Where-Object { $_ -like "*$Sfx*" }) +
        @(Get-PgBackupScratchDatabase -ConnectionString $SrcUri -ErrorAction Continue | Where-Object ProcessId -in $jobIds | ForEach-Object Name)
    foreach ($name in $names) {
        $out = Invoke-TestPsql -Server $Main -Sql "DROP DATABASE IF EXISTS `"$name`" WITH (FORCE);" -AllowFailure
        if ($LASTEXITCODE) { Write-Host "Could not drop $($name): $out" }
    }
    Remove-TestFolder $Out
}

Describe 'A job killed half-way (kill -9)' {
    BeforeAll {
        $script:Targets = @{ D = "kill_d_$Sfx"; E = "kill_e_$Sfx"; L = "kill_live_$Sfx" }
        $script:CopyTo = Join-Path $Out 'copied'
        $auth = "-S3Credential `$S3Credential"
        $script:ProxyCopy = [PgBackup.TestHarness.CutProxy]::new('127.0.0.1', $S3.Port)
        $ProxyCopy.StallDownloadAfterBytes = 256KB
        $script:ProxyProtect = [PgBackup.TestHarness.CutProxy]::new('127.0.0.1', $S3.Port)
        $ProxyProtect.StallUploadAfterBytes = 256KB
        $retentionMark = Join-Path $Out 'retention-removed'
        Set-Content $Gate 'closed'
        $lock = Start-TableLock -Server $Main -Database $Other -Table 't'
        $script:Jobs = @(
            Start-KilledJob A "Restore-PgBackup -Path '$($Plain.Path)' -ConnectionString '$SrcUri' -Force"
            Start-KilledJob B "Test-PgBackup -Path '$($Custom.Path)' -Restore -ConnectionString '$SrcUri'"
            Start-KilledJob C "Export-PgBackupData -Path '$($Plain.Path)' -Table public.users -ConnectionString '$SrcUri'"
            Start-KilledJob D "Restore-PgBackup -Path '$($Custom.Path)' -ConnectionString '$SrcUri' -TargetDatabase $($Targets.D) -CreateDatabase -Jobs 2 -Confirm:`$false"
            Start-KilledJob E "Restore-PgBackup -Path '$($Plain.Path)' -ConnectionString '$SrcUri' -TargetDatabase $($Targets.E) -CreateDatabase -Jobs 2 -Confirm:`$false"
            Start-KilledJob F "New-PgBackup -ConnectionString '$OtherUri' -Path 's3://$Bucket/killed/' $auth -EndpointUrl '$($S3.Endpoint)'"
            Start-KilledJob G "Copy-PgBackup -Path '$($Big.Path)' -Destination '$CopyTo' $auth -EndpointUrl '$($ProxyCopy.Url)'"
            Start-KilledJob H "Protect-PgBackup -Path '$($Big.Path)' -Passphrase (ConvertTo-SecureString pw -AsPlainText -Force) $auth -EndpointUrl '$($ProxyProtect.Url)' -Confirm:`$false"
            Start-KilledJob I "Invoke-PgBackupRetention -Path '$Kept' -KeepLast 2 -Confirm:`$false | ForEach-Object { if (`$_.Removed) { Set-Content '$retentionMark' `$_.Id; while (`$true) { Start-Sleep 1 } } }"
        )
        try {
            # Each under way: restores in CREATE INDEX, pg_dump waiting for its lock, transfers stalled, retention
            # after its first removal.
            Wait-For { (Get-BusyIn "$($Src)_pgbackup_restore_%") -gt 0 } 'A: the restore in its scratch database'
            Wait-For { (Get-BusyIn 'pgbackup_drill_%') -gt 0 } 'B: the drill'
            Wait-For { (Get-BusyIn 'pgbackup_export_%') -gt 0 } 'C: the export'
            Wait-For { (Get-BusyIn "$($Targets.D)_pgbackup_restore_%") -gt 0 } 'D: the Custom restore with -Jobs 2'
            Wait-For { (Get-BusyIn "$($Targets.E)_pgbackup_restore_%") -gt 0 } 'E: the Plain restore with -Jobs 2'
            Wait-PgDumpWaiting -Server $Main -Database $Other -TimeoutSeconds 90
            Wait-For { $ProxyCopy.Stalls -gt 0 } 'G: the copy'
            Wait-For { $ProxyProtect.Stalls -gt 0 } 'H: the encryption'
            Wait-For { Test-Path $retentionMark } 'I: the retention'
            $script:Trees = @{}
            foreach ($j in $Jobs) { $Trees[$j.Job] = @(Get-Descendants $j.Id) }
            $script:Scratch = Get-PgBackupScratchDatabase -ConnectionString $SrcUri
            foreach ($j in $Jobs) { & kill -KILL $j.Id }
            # When each killed job's processes (it and everything it started) are all gone, looked at every 0.1 s.
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $script:ChildSeconds = @{}
            while ($ChildSeconds.Count -lt $Jobs.Count -and $clock.Elapsed.TotalSeconds -lt 20) {
                $table = Get-ProcessTable
                foreach ($j in $Jobs | Where-Object { -not $ChildSeconds.ContainsKey($_.Job) }) {
                    $alive = @(@($j.Id) + @($Trees[$j.Job] | ForEach-Object Id) | Where-Object { $table.ContainsKey($_) -and -not $table[$_].Ended })
                    if (-not $alive) { $ChildSeconds[$j.Job] = $clock.Elapsed.TotalSeconds }
                }
                Start-Sleep -Milliseconds 100
            }
            Write-Host "Killed jobs' processes all gone after (s): $(($ChildSeconds.GetEnumerator() | Sort-Object Name | ForEach-Object { '{0} {1:0.0}' -f $_.Name, $_.Value }) -join ', ')"
            # While the gate is closed and the lock held, their sessions could only end by being stopped.
            $script:ServerWorkEnded = Test-Within {
                (Get-BusyIn '%pgbackup_%') -eq 0 -and
                [int](Invoke-TestPsql -Server $Main -Sql "SELECT count(*) FROM pg_stat_activity WHERE datname = '$Other' AND application_name = 'pg_dump';" | Select-Object -Last 1) -eq 0
            } 10
        }
        catch {
            foreach ($j in $Jobs) { Write-Host "--- $($j.Job)"; Get-Content (Join-Path $Out "$($j.Job).log") -ErrorAction SilentlyContinue | Write-Host }
            throw
        }
        finally {
            foreach ($j in $Jobs) { if (-not $j.HasExited) { $j.Kill() } }
            Stop-TableLock $lock
        }
    }
    AfterAll {
        $ProxyCopy.Dispose()
        $ProxyProtect.Dispose()
    }

    It 'leaves no child process: pg_restore (with its -Jobs 2 workers), pg_dump and the watchdog end within seconds' {
        $Trees.B.Name | Should -Contain 'pg_restore'
        @($Trees.D | Where-Object Name -eq 'pg_restore').Count | Should -BeGreaterOrEqual 3 -Because 'the leader and its two workers'
        $Trees.F.Name | Should -Contain 'pg_dump'
        $Trees.B.Name | Should -Contain 'sh' -Because 'the watchdog runs beside the children'
        # A, C and E run no child at all: PgBackup runs plain scripts itself.
        foreach ($j in 'A', 'C', 'E') { $Trees[$j] | Where-Object Name -like 'pg_*' | Should -BeNullOrEmpty }
        foreach ($j in $Jobs) {
            $ChildSeconds.ContainsKey($j.Job) | Should -BeTrue -Because "$($j.Job)'s processes end"
            $ChildSeconds[$j.Job] | Should -BeLessThan 10
        }
        # The work on the server stopped too, while the index being built still waited and the lock pg_dump waited for
        # was still held: pg_restore and pg_dump, ended with SIGTERM, cancelled their queries; PgBackup's own sessions
        # (plain scripts) stop when their client is gone (client_connection_check_interval).
        $ServerWorkEnded | Should -BeTrue
    }

    It 'marked every database it made; the next restoring cmdlet drops them, never one a live restore uses' {
        # Each job's database, marked with its process, named for its kind.
        $expected = @{ A = "$($Src)_pgbackup_restore_*"; B = 'pgbackup_drill_*'; C = 'pgbackup_export_*'; D = "$($Targets.D)_pgbackup_restore_*"; E = "$($Targets.E)_pgbackup_restore_*" }
        $left = foreach ($j in $Jobs) {
            $made = @($Scratch | Where-Object ProcessId -eq $j.Id)
            if (-not $expected.ContainsKey($j.Job)) { $made | Should -BeNullOrEmpty; continue }
            $made.Count | Should -Be 1 -Because "$($j.Job) made one database"
            $made.Name | Should -BeLike $expected[$j.Job]
            $made.Process | Should -Be 'Running' -Because 'its process was alive then'
            $made.Name
        }
        (Get-PgBackupScratchDatabase -ConnectionString $SrcUri | Where-Object Name -in $left).Status | Should -Be (@('Stale') * 5)

        # The next restore drops them, each with a warning.
        $live = Start-AsyncPipeline -Script { param($p, $u, $t) Restore-PgBackup -Path $p -ConnectionString $u -TargetDatabase $t -CreateDatabase -Confirm:$false } -Arguments $Plain.Path, $SrcUri, $Targets.L
        try {
            Wait-For { (Get-BusyIn "$($Targets.L)_pgbackup_restore_%") -gt 0 } 'the second restore'
            $warnings = @($live.PowerShell.Streams.Warning | ForEach-Object Message)
            $dropped = @($warnings | ForEach-Object { if ($_ -match "^Dropped '([^']+)' \(\d+(\.\d)? MB, a \w+ database made .* UTC by process \d+ on host .*, which has ended\), left on 127\.0\.0\.1:\d+ by a PgBackup job that did not finish\.$") { $Matches[1] } })
            $dropped | Sort-Object | Should -Be ($left | Sort-Object) -Because ($warnings -join "`n")
            $names = Get-DatabaseNames -Server $Main
            foreach ($name in $left) { $names | Should -Not -Contain $name }

            # While that restore is live, a drill elsewhere on the server leaves its database alone.
            $liveScratch = Get-PgBackupScratchDatabase -ConnectionString $SrcUri | Where-Object Name -like "$($Targets.L)_pgbackup_restore_*"
            $liveScratch.Status | Should -Be 'InUse'
            $liveScratch.Process | Should -Be 'Running'
            $t = $Small | Test-PgBackup -Restore -ConnectionString $SrcUri -WarningVariable warnings 3>$null
            $t.Passed | Should -BeTrue
            $warnings | Should -BeNullOrEmpty
            (Get-PgBackupScratchDatabase -ConnectionString $SrcUri).Name | Should -Be $liveScratch.Name

            # The gate opens: the live restore completes; its database was not touched.
            Remove-Item $Gate
            $r = $live.PowerShell.EndInvoke($live.Handle)
            $r.Mode | Should -Be 'Created'
            $r.Verified | Should -BeTrue
        }
        finally { Stop-AsyncPipeline $live }
        Get-PgBackupScratchDatabase -ConnectionString $SrcUri | Should -BeNullOrEmpty
    }

    It 'leaves nothing that looks like a good backup, and each job runs again' {
        # A, B, C, D, E again.
        $r = $Plain | Restore-PgBackup -ConnectionString $SrcUri -Force
        $r.Mode | Should -Be 'Replaced'
        $r.Verified | Should -BeTrue
        ($Custom | Test-PgBackup -Restore -ConnectionString $SrcUri).Passed | Should -BeTrue
        @($Plain | Export-PgBackupData -Table public.users -ConnectionString $SrcUri).Count | Should -Be 40
        ($Custom | Restore-PgBackup -ConnectionString $SrcUri -TargetDatabase $Targets.D -CreateDatabase -Jobs 2 -Confirm:$false).Verified | Should -BeTrue
        ($Plain | Restore-PgBackup -ConnectionString $SrcUri -TargetDatabase $Targets.E -CreateDatabase -Jobs 2 -Confirm:$false).Verified | Should -BeTrue

        # F: the backup to S3 is listed as incomplete (its marker), never as a backup; a new one is complete.
        $killed = @(Get-PgBackup -Path "s3://$Bucket/killed/" @S3Params)
        $killed.Status | Should -Be 'Incomplete'
        (New-PgBackup -ConnectionString $OtherUri -Path "s3://$Bucket/killed/" @S3Params).Status | Should -Be 'Complete'

        # G: the copy left a .partial; the same copy runs again and replaces it.
        (Get-PgBackup -Path $CopyTo).Status | Should -Be 'Incomplete'
        Get-ChildItem $CopyTo -Name | Should -Be "$($Big.Name).partial"
        $copy = Copy-PgBackup -Path $Big.Path -Destination $CopyTo @S3Params
        $copy.Status | Should -Be 'Complete'
        (Get-FileHash -Algorithm SHA256 $copy.Path).Hash | Should -Be $Big.Sha256
        (Get-ChildItem $CopyTo -Name | Sort-Object) | Should -Be (@($Big.Name, "$($Big.Name).json") | Sort-Object)

        # H: the original is as it was; the unfinished encrypted copy is incomplete; the same encryption runs again.
        $listed = Get-PgBackup -Path "s3://$Bucket/big/" @S3Params
        ($listed | Where-Object Name -eq $Big.Name).Status | Should -Be 'Complete'
        ($listed | Where-Object Name -eq "$($Big.Name).gpg").Status | Should -Be 'Incomplete'
        $p = Protect-PgBackup -Path $Big.Path -Passphrase (ConvertTo-SecureString pw -AsPlainText -Force) @S3Params -Confirm:$false
        $p.Status | Should -Be 'Complete'
        $listed = @(Get-PgBackup -Path "s3://$Bucket/big/" @S3Params)
        $listed.Name | Should -Be "$($Big.Name).gpg"
        $listed.Status | Should -Be 'Complete'

        # I: retention stopped after its first removal: what is left is whole; run again, it ends where it would have.
        $left = @(Get-PgBackup -Path $Kept)
        $left.Count | Should -BeLessThan 6
        $left.Count | Should -BeGreaterThan 2
        foreach ($b in $left) { $b.Status | Should -Be 'Complete'; ($b | Test-PgBackup).Passed | Should -BeTrue }
        $decisions = Invoke-PgBackupRetention -Path $Kept -KeepLast 2 -Confirm:$false
        @($decisions | Where-Object Removed).Count | Should -Be ($left.Count - 2)
        (Get-PgBackup -Path $Kept).StartTime.Day | Should -Be 6, 5
    }
}
