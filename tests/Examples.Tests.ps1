BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    $script:Examples = Join-Path $RepoRoot 'examples'
    $script:Db = New-TestDatabaseName 'job'
    New-TestDatabase -Server $Main -Name $Db -SqlFile $SampleSql
    $script:Uri = Get-TestPostgresUri -Server $Main -Database $Db
    $script:Out = New-TestFolder

    function Invoke-Example([string]$Script, [string[]]$Arguments) {
        # Runs an example script as a scheduler would: a fresh pwsh -NoProfile -NonInteractive -File; returns output and exit code.
        $pwshDll = Join-Path $PSHOME 'pwsh.dll'
        [string[]]$pre = if (Test-Path $pwshDll) { @($pwshDll) } else { @() }
        $output = & ([Environment]::ProcessPath) @pre -NoProfile -NonInteractive -File $Script @Arguments 2>&1
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($output | Out-String) }
    }
}

AfterAll { Remove-TestFolder $Out }

Describe 'The scheduled job (examples/scheduled-task/Invoke-PgBackupJob.ps1)' {
    It 'backs up, drills and applies retention, and exits 0' {
        $folder = Join-Path $Out 'ok'
        $log = Join-Path $Out 'ok.log'
        $r = Invoke-Example (Join-Path $Examples 'scheduled-task/Invoke-PgBackupJob.ps1') @(
            '-ConnectionString', $Uri, '-BackupPath', $folder, '-Drill', '-LogPath', $log, '-ModulePath', $env:PGBACKUP_TEST_MODULE)
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $text = Get-Content -Raw $log
        $text | Should -Match 'backup ok: .*backup_job_'
        $text | Should -Match 'drill ok: '
        $text | Should -Match 'retention ok: kept 1, removed 0'
        $text | Should -Match 'job ok'
        @(Get-PgBackup -Path $folder).Count | Should -Be 1
    }

    It 'exits non-zero and names the failed step and its error id' {
        $log = Join-Path $Out 'fail.log'
        $bad = "postgresql://postgres:wrong-password@127.0.0.1:$($Main.Port)/$Db"
        $r = Invoke-Example (Join-Path $Examples 'scheduled-task/Invoke-PgBackupJob.ps1') @(
            '-ConnectionString', $bad, '-BackupPath', (Join-Path $Out 'fail'), '-LogPath', $log, '-ModulePath', $env:PGBACKUP_TEST_MODULE)
        $r.ExitCode | Should -Be 1
        (Get-Content -Raw $log) | Should -Match "FAILED at step 'backup': AuthenticationFailed"
        (Get-Content -Raw $log) | Should -Not -Match 'wrong-password'
    }

    It 'fails the job when the drill fails' {
        $log = Join-Path $Out 'drill.log'
        $r = Invoke-Example (Join-Path $Examples 'scheduled-task/Invoke-PgBackupJob.ps1') @(
            '-ConnectionString', $Uri, '-BackupPath', (Join-Path $Out 'drillfail'), '-Drill', '-DrillConnectionString', "postgresql://postgres:x@127.0.0.1:$(Get-FreeTcpPort)/postgres",
            '-LogPath', $log, '-ModulePath', $env:PGBACKUP_TEST_MODULE)
        $r.ExitCode | Should -Be 1
        (Get-Content -Raw $log) | Should -Match "FAILED at step 'drill': ServerUnreachable"
    }

    It 'the Register-ScheduledTask script parses and installs a daily 03:00 task running the job' {
        $file = Join-Path $Examples 'scheduled-task/Register-PgBackupTask.ps1'
        $tokens = $null; $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($file, [ref]$tokens, [ref]$errors)
        $errors | Should -BeNullOrEmpty
        $commands = $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] }, $true) | ForEach-Object { $_.GetCommandName() }
        $commands | Should -Contain 'Register-ScheduledTask'
        $commands | Should -Contain 'New-ScheduledTaskTrigger'
        (Get-Content -Raw $file) | Should -Match "-Daily -At '03:00'"
    }

    It 'the cron line calls the job with parameters it has' {
        $line = Get-Content (Join-Path $Examples 'cron/pgbackup.cron') | Where-Object { $_ -match '^\d' }
        $line | Should -Match '^0 3 \* \* \* '
        $jobParams = (Get-Command (Join-Path $Examples 'scheduled-task/Invoke-PgBackupJob.ps1')).Parameters.Keys
        foreach ($p in [regex]::Matches($line, ' -(\w+)') | ForEach-Object { $_.Groups[1].Value } | Where-Object { $_ -notin 'NoProfile', 'NonInteractive', 'File' }) {
            $jobParams | Should -Contain $p
        }
    }

    It 'the GitHub Actions workflow runs daily at 03:00 and uses PgBackup''s cmdlets' {
        $text = Get-Content -Raw (Join-Path $Examples 'github-actions/backup.yml')
        $text | Should -Match "cron: '0 3 \* \* \*'"
        $text | Should -Match 'New-PgBackup -Path s3://'
        $text | Should -Match 'Invoke-PgBackupRetention -KeepDaily 7 -KeepWeekly 4 -KeepMonthly 12'
    }
}
