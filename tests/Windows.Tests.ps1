# Issue 25: what PgBackup does for Windows and for servers that do not speak English, as far as Linux can show it.
# The decisions themselves are xUnit tests (WindowsSeamTests); here: a PostgreSQL server whose messages are German
# (Debian's catalogs, LANGUAGE=de with lc_messages C.UTF-8, as EDB's installer sets lc_messages to the OS language on
# a German Windows), and the scheduled-task example's registered command line split by the Windows rules.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    $script:Out = New-TestFolder
    $script:German = Start-TestPostgres -Name german -ServerOptions '-c lc_messages=C.UTF-8' -Environment @{ LANGUAGE = 'de' }
    $script:Db = New-TestDatabaseName 'de'
    New-TestDatabase -Server $German -Name $Db -SqlFile $SampleSql
    $script:Uri = Get-TestPostgresUri -Server $German -Database $Db
    # The reference splitter of Windows command lines (the C runtime's and CommandLineToArgvW's rules).
    if (-not ('PgBackup.TestHarness.WindowsArgv' -as [type])) {
        Add-Type -TypeDefinition (Get-Content -Raw (Join-Path $PSScriptRoot 'harness/WindowsArgv.cs'))
    }

    function Get-EngineType([string]$Name) {
        # An engine type of the build under test (loaded in the module's own context on PowerShell 7).
        $engine = [System.AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'PgBackup.Engine' } | Select-Object -First 1
        $engine.GetType($Name, $true)
    }
}

AfterAll {
    if ($German) { Stop-TestPostgres $German }
    Remove-TestFolder $Out
}

Describe 'A server whose messages are in German' {
    It 'speaks German (the premise of these tests)' {
        $said = Invoke-TestPsql -Server $German -Sql 'SELECT 1/0;' -AllowFailure
        "$said" | Should -BeLike '*FEHLER*Division durch Null*'
    }

    It 'a table locked longer than -LockWaitTimeoutSeconds is still PgDumpFailed with category OperationTimeout, and the message is readable' {
        $folder = Join-Path $Out 'locked'
        $lock = Start-TableLock -Server $German -Database $Db -Table 'public.tracks'
        try {
            $err = $null
            try { New-PgBackup -ConnectionString $Uri -Path $folder -LockWaitTimeoutSeconds 1 -Engine PgDump } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'PgDumpFailed,PgBackup.Commands.NewPgBackupCommand'
            $err.CategoryInfo.Category | Should -Be 'OperationTimeout' -Because "$err"
            # pg_dump connected with lc_messages=C (a superuser may set it): the server's words come in English.
            "$err" | Should -BeLike '*statement timeout*'
            "$err" | Should -Not -BeLike '*FEHLER*'
            Get-BackupLikeFiles $folder | Should -BeNullOrEmpty
        }
        finally { Stop-TableLock $lock }
    }

    It 'backs up, drills and restores, also as a role that may not set lc_messages (no option it would be refused for)' {
        $role = 'plain_' + [guid]::NewGuid().ToString('n').Substring(0, 6)
        Invoke-TestPsql -Server $German -Database $Db -Sql "CREATE ROLE $role LOGIN PASSWORD 'pw-$role'; ALTER DATABASE $Db OWNER TO $role; GRANT SELECT ON ALL TABLES IN SCHEMA public TO $role; GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO $role;" | Out-Null
        $asRole = "postgresql://${role}:pw-$role@127.0.0.1:$($German.Port)/$Db"
        $b = New-PgBackup -ConnectionString $asRole -Path (Join-Path $Out 'role') -Format Custom -Engine PgDump
        $b.Status | Should -Be 'Complete'
        $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'super') -Format Custom
        ($b | Test-PgBackup -Restore -ConnectionString $Uri).Passed | Should -BeTrue
    }

    It 'backs up and drills a database whose name is not ASCII (its connection reaches pg_dump and pg_restore as a percent-encoded URI)' {
        $name = 'Lagerbestände_' + [guid]::NewGuid().ToString('n').Substring(0, 6)
        New-TestDatabase -Server $German -Name $name -Sql 'CREATE TABLE "Ölpreis" (n int); INSERT INTO "Ölpreis" VALUES (1), (2);'
        $b = New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $German -Database $name) -Path (Join-Path $Out 'umlaut') -Format Custom
        $b.Status | Should -Be 'Complete'
        $b.Database | Should -Be $name
        $b.RowCount | Should -Be 2
        ($b | Test-PgBackup -Restore -ConnectionString $Uri).Passed | Should -BeTrue
    }

    It 'a database busy with another session is TargetDatabaseInUse when it is to be replaced (SQLSTATE 55006, not the English text)' {
        $target = New-TestDatabaseName 'busy'
        $replacement = New-TestDatabaseName 'repl'
        New-TestDatabase -Server $German -Name $target
        New-TestDatabase -Server $German -Name $replacement
        $session = Start-IdleSession -Server $German -Database $target
        try {
            $info = (Get-EngineType 'PgBackup.PgConnectionInfo')::Parse($German.ConnectionString)
            $redactor = (Get-EngineType 'PgBackup.Redactor')::None
            $admin = (Get-EngineType 'PgBackup.DatabaseAdmin')::Connect($info, $null, $redactor, [System.Threading.CancellationToken]::None)
            try {
                $mark = $admin.NewMark([Enum]::Parse((Get-EngineType 'PgBackup.ScratchKind'), 'Previous'), $false)
                $log = (Get-EngineType 'PgBackup.NullLog')::Instance
                $err = $null
                try { $admin.Swap($target, $replacement, "${target}_prev", $false, $log, $null, $mark) } catch { $err = $_.Exception.InnerException }
                $err | Should -Not -BeNullOrEmpty
                $err.ErrorId | Should -Be 'TargetDatabaseInUse' -Because "$err"
            }
            finally { $admin.Dispose() }
            Invoke-TestPsql -Server $German -Sql "SELECT datname FROM pg_database WHERE datname = '$target';" | Should -Be $target
        }
        finally { Stop-TableLock $session }
    }
}

Describe 'The scheduled-task example (examples/scheduled-task/Register-PgBackupTask.ps1)' {
    BeforeAll {
        $script:Register = Join-Path $RepoRoot 'examples/scheduled-task/Register-PgBackupTask.ps1'
        function Invoke-Register([hashtable]$Parameters) {
            # The ScheduledTasks module's cmdlets (Windows only) as stand-ins that keep what they were given.
            $global:PgBackupRegistered = @{}
            function global:New-ScheduledTaskAction { param($Execute, $Argument, $WorkingDirectory) $global:PgBackupRegistered.Execute = $Execute; $global:PgBackupRegistered.Argument = $Argument; 'action' }
            function global:New-ScheduledTaskTrigger { param([switch]$Daily, $At) $global:PgBackupRegistered.At = $At; 'trigger' }
            function global:New-ScheduledTaskSettingsSet { param([switch]$StartWhenAvailable, $ExecutionTimeLimit, $RestartCount, $RestartInterval) 'settings' }
            function global:Register-ScheduledTask { param($TaskName, $Action, $Trigger, $Settings, $User, $RunLevel, [switch]$Force) $global:PgBackupRegistered.TaskName = $TaskName }
            try { & $Register @Parameters }
            finally {
                Remove-Item Function:\New-ScheduledTaskAction, Function:\New-ScheduledTaskTrigger, Function:\New-ScheduledTaskSettingsSet, Function:\Register-ScheduledTask
            }
            $r = $global:PgBackupRegistered
            Remove-Variable -Scope Global -Name PgBackupRegistered
            $r
        }
        function Split-Windows([string]$CommandLine) {
            $crt = [PgBackup.TestHarness.WindowsArgv]::Split($CommandLine, $false)
            $shell = [PgBackup.TestHarness.WindowsArgv]::Split($CommandLine, $true)
            ($crt -join "`n") | Should -Be ($shell -join "`n")
            , [string[]]$crt
        }
    }

    It 'registers a command line that Windows splits back into the job''s parameters, whatever the paths' -ForEach @(
        @{ Backup = 'D:\'; Upload = $null }
        @{ Backup = 'D:\backups'; Upload = 's3://acme-backups/pg' }
        @{ Backup = 'C:\Backup Files\pg\'; Upload = '\\nas\share\pg\' }
        @{ Backup = 'E:\odd "quoted" name\'; Upload = $null }
    ) {
        $job = 'C:\Program Files\PgBackup\Invoke-PgBackupJob.ps1'
        $p = @{ JobScript = $job; BackupPath = $Backup; PowerShellPath = 'C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe' }
        if ($Upload) { $p.UploadTo = $Upload }
        $r = Invoke-Register $p
        $r.Execute | Should -Be 'C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe'
        $argv = Split-Windows $r.Argument
        $argv[0..5] -join '|' | Should -Be "-NoProfile|-NonInteractive|-ExecutionPolicy|Bypass|-File|$job"
        $argv[[array]::IndexOf($argv, '-BackupPath') + 1] | Should -Be $Backup
        $argv[[array]::IndexOf($argv, '-LogPath') + 1] | Should -Be 'C:\Program Files\PgBackup\pgbackup-job.log'
        if ($Upload) { $argv[[array]::IndexOf($argv, '-UploadTo') + 1] | Should -Be $Upload } else { $argv | Should -Not -Contain '-UploadTo' }
        $argv | Should -Contain '-Drill'
        # Every name is one the job script has.
        $jobParams = (Get-Command (Join-Path $RepoRoot 'examples/scheduled-task/Invoke-PgBackupJob.ps1')).Parameters.Keys
        foreach ($name in $argv[6..($argv.Count - 1)] | Where-Object { $_ -like '-*' }) { $jobParams | Should -Contain $name.Substring(1) }
    }

    It 'keeps the log on a local disk when the backups go to a bucket, runs the PowerShell that registered it by default, and refuses an s3:// log' {
        $r = Invoke-Register @{ JobScript = 'C:\PgBackup\Invoke-PgBackupJob.ps1'; BackupPath = 's3://acme-backups/pg' }
        $argv = Split-Windows $r.Argument
        $argv[[array]::IndexOf($argv, '-LogPath') + 1] | Should -Be 'C:\PgBackup\pgbackup-job.log'
        $r.Execute | Should -Be (Get-Process -Id $PID).Path
        { Invoke-Register @{ BackupPath = 'D:\b'; LogPath = 's3://acme-backups/pg/job.log' } } | Should -Throw '*must be a local file*'
    }

    It 'the job logs in UTC, and a log it cannot write does not change its outcome' {
        # TZ=Asia/Tokyo: a local time printed with the 'u' format's Z would be 9 hours off.
        $log = Join-Path $Out 'no-such-folder/job.log'
        $launcher = Join-Path $Out 'job-launcher.ps1'
        Set-Content -Path $launcher -Value "$(Get-TestModuleImport)`n& '$(Join-Path $RepoRoot 'examples/scheduled-task/Invoke-PgBackupJob.ps1')' @args`nexit `$LASTEXITCODE"
        $pwshDll = Join-Path $PSHOME 'pwsh.dll'
        [string[]]$pre = if (Test-Path $pwshDll) { @($pwshDll) } else { @() }
        $env:TZ = 'Asia/Tokyo'
        try {
            $output = & ([Environment]::ProcessPath) @pre -NoProfile -NonInteractive -File $launcher -ConnectionString 'postgresql://nobody@127.0.0.1:1/none' -BackupPath (Join-Path $Out 'job') -LogPath $log -ModulePath $env:PGBACKUP_TEST_MODULE 2>&1
            $code = $LASTEXITCODE
        }
        finally { Remove-Item Env:TZ }
        $text = ($output | Out-String) -replace '\x1b\[[0-9;?]*[A-Za-z]', ''
        $code | Should -Be 1 -Because $text
        $text | Should -Match "job FAILED at step 'backup'"
        $text | Should -BeLike '*Could not write the log*'
        $stamp = [regex]::Match($text, '(\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ) job FAILED').Groups[1].Value
        $when = [DateTime]::ParseExact($stamp, 'yyyy-MM-dd HH:mm:ssZ', [Globalization.CultureInfo]::InvariantCulture, 'AdjustToUniversal,AssumeUniversal')
        [Math]::Abs(([DateTime]::UtcNow - $when).TotalHours) | Should -BeLessThan 1
    }
}

Describe 'The module on Windows PowerShell 5.1' {
    It 'asks for .NET Framework 4.7.2 in its manifest, and ships what its Windows PowerShell build needs' {
        $m = Import-PowerShellDataFile $env:PGBACKUP_TEST_MODULE
        $m.DotNetFrameworkVersion | Should -Be '4.7.2'
        $m.PowerShellVersion | Should -Be '5.1'
        $m.CompatiblePSEditions | Should -Contain 'Desktop'
        # IANA <-> Windows time-zone ids (CLDR's table) beside the netstandard2.0 build.
        Join-Path (Split-Path $env:PGBACKUP_TEST_MODULE) 'bin/netstandard2.0/TimeZoneConverter.dll' | Should -Exist
    }

    It '-TimeZone takes the help''s IANA example and a Windows id alike' {
        $folder = Join-Path $Out 'tz'
        New-Item -ItemType Directory -Path $folder | Out-Null
        foreach ($zone in 'Europe/Berlin', 'W. Europe Standard Time') {
            { Invoke-PgBackupRetention -Path $folder -KeepDaily 7 -TimeZone $zone -Confirm:$false } | Should -Not -Throw
        }
    }
}
