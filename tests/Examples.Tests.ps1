BeforeDiscovery {
    # Whether the examples can be run with the PostgreSQL client tools out of reach: in a mount namespace of their own
    # (unshare, as root), where the install folders are empty. Elsewhere those tests are skipped, saying why.
    $script:CanHideTools = ((& id -u) -eq '0') -and [bool](Get-Command unshare -ErrorAction SilentlyContinue)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    $script:Examples = Join-Path $RepoRoot 'examples'
    $script:Db = New-TestDatabaseName 'job'
    New-TestDatabase -Server $Main -Name $Db -SqlFile $SampleSql
    $script:Uri = Get-TestPostgresUri -Server $Main -Database $Db
    $script:Out = New-TestFolder

    function Invoke-Example([string]$Script, [string[]]$Arguments, [switch]$HideTools) {
        # Runs an example script as a scheduler would: a fresh pwsh -NoProfile -NonInteractive -File; returns output and
        # exit code. The file run is a launcher that imports the build under test first (the example's own
        # Import-Module then finds it loaded), calls the example and exits with its exit code. -HideTools runs it
        # where no PostgreSQL client program can be found, as in Azure Automation's cloud sandbox: the install folders
        # (/usr/lib/postgresql, and postgresql-common, which /usr/bin's pg_dump and psql link to) are mounted empty
        # in a mount namespace of the child's own; the running test servers are not affected.
        $launcher = Join-Path $Out ('launch-' + [guid]::NewGuid().ToString('n') + '.ps1')
        Set-Content -Path $launcher -Value "$(Get-TestModuleImport)`n`$global:LASTEXITCODE = 0`n& '$Script' @args`nexit `$LASTEXITCODE"
        $pwshDll = Join-Path $PSHOME 'pwsh.dll'
        [string[]]$pre = if (Test-Path $pwshDll) { @($pwshDll) } else { @() }
        try {
            if ($HideTools) {
                $empty = Join-Path $Out 'no-tools'
                New-Item -ItemType Directory -Force -Path $empty | Out-Null
                $hide = "mount --bind '$empty' /usr/lib/postgresql && mount --bind '$empty' /usr/share/postgresql-common && " +
                    "for t in pg_dump pg_dumpall pg_restore psql; do if command -v `$t >/dev/null 2>&1; then echo `"`$t is still reachable`"; exit 3; fi; done && " +
                    "if ls /usr/lib/postgresql/*/bin >/dev/null 2>&1; then echo 'PostgreSQL install folders are still reachable'; exit 3; fi && exec `"`$@`""
                $output = & unshare -m bash -c $hide hide ([Environment]::ProcessPath) @pre -NoProfile -NonInteractive -File $launcher @Arguments 2>&1
            }
            else { $output = & ([Environment]::ProcessPath) @pre -NoProfile -NonInteractive -File $launcher @Arguments 2>&1 }
        }
        finally { Remove-Item $launcher }
        # Without the terminal's colour sequences (formatted objects and errors carry them), which test reports cannot hold.
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = (($output | Out-String) -replace '\x1b\[[0-9;?]*[A-Za-z]', '') }
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

    It 'backs up and drills with no PostgreSQL client tools reachable (the native engine; the drill needs none)' -Skip:(-not $CanHideTools) {
        $folder = Join-Path $Out 'no-tools-job'
        $log = Join-Path $Out 'no-tools-job.log'
        $r = Invoke-Example (Join-Path $Examples 'scheduled-task/Invoke-PgBackupJob.ps1') @(
            '-ConnectionString', $Uri, '-BackupPath', $folder, '-Drill', '-LogPath', $log, '-ModulePath', $env:PGBACKUP_TEST_MODULE) -HideTools
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $text = Get-Content -Raw $log
        $text | Should -Match 'backup ok: .*backup_job_'
        $text | Should -Match 'drill ok: '
        $b = @(Get-PgBackup -Path $folder)
        $b.Count | Should -Be 1
        $b[0].Engine | Should -Be 'Native'
        $b[0].PgDumpVersion | Should -BeNullOrEmpty
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

    It 'fails at the backup step, instead of waiting, when a table stays locked longer than -LockWaitTimeoutSeconds' {
        $log = Join-Path $Out 'lock.log'
        $lock = Start-TableLock -Server $Main -Database $Db -Table 'public.tracks'
        try {
            $r = Invoke-Example (Join-Path $Examples 'scheduled-task/Invoke-PgBackupJob.ps1') @(
                '-ConnectionString', $Uri, '-BackupPath', (Join-Path $Out 'locked'), '-LockWaitTimeoutSeconds', '1', '-LogPath', $log, '-ModulePath', $env:PGBACKUP_TEST_MODULE)
        }
        finally { Stop-TableLock $lock }
        $r.ExitCode | Should -Be 1 -Because $r.Output
        (Get-Content -Raw $log) | Should -Match "FAILED at step 'backup': PgDumpFailed"
        @(Get-PgBackup -Path (Join-Path $Out 'locked') -ErrorAction SilentlyContinue).Count | Should -Be 0
    }

    It 'fails the job when the drill fails' {
        $log = Join-Path $Out 'drill.log'
        $r = Invoke-Example (Join-Path $Examples 'scheduled-task/Invoke-PgBackupJob.ps1') @(
            '-ConnectionString', $Uri, '-BackupPath', (Join-Path $Out 'drillfail'), '-Drill', '-DrillConnectionString', "postgresql://postgres:x@127.0.0.1:$(Get-FreeTcpPort)/postgres",
            '-LogPath', $log, '-ModulePath', $env:PGBACKUP_TEST_MODULE)
        $r.ExitCode | Should -Be 1
        (Get-Content -Raw $log) | Should -Match "FAILED at step 'drill': ServerUnreachable"
    }

    It 'copies the backup to a folder with -UploadTo' {
        $folder = Join-Path $Out 'upload-src'
        $offsite = Join-Path $Out 'upload-dst'
        $log = Join-Path $Out 'upload.log'
        $r = Invoke-Example (Join-Path $Examples 'scheduled-task/Invoke-PgBackupJob.ps1') @(
            '-ConnectionString', $Uri, '-BackupPath', $folder, '-UploadTo', $offsite, '-LogPath', $log, '-ModulePath', $env:PGBACKUP_TEST_MODULE)
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $local = @(Get-PgBackup -Path $folder)
        $local.Count | Should -Be 1
        (Get-Content -Raw $log) | Should -Match ([regex]::Escape("upload ok: $(Join-Path $offsite $local[0].Name)"))
        $copy = @(Get-PgBackup -Path $offsite)
        $copy.Count | Should -Be 1
        $copy[0].Status | Should -Be 'Complete'
        $copy[0].Sha256 | Should -Be $local[0].Sha256
        Test-Path "$($copy[0].Path).json" | Should -BeTrue
    }

    It 'copies the backup to an S3 bucket with -UploadTo: keys from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, -S3EndpointUrl' -Skip:(-not $env:PGBACKUP_TEST_S3) {
        $bucket = New-TestBucket -Server $S3 -Prefix 'job'
        $folder = Join-Path $Out 'upload-s3'
        $log = Join-Path $Out 'upload-s3.log'
        $env:AWS_ACCESS_KEY_ID = $S3.AccessKey
        $env:AWS_SECRET_ACCESS_KEY = $S3.SecretKey
        try {
            $r = Invoke-Example (Join-Path $Examples 'scheduled-task/Invoke-PgBackupJob.ps1') @(
                '-ConnectionString', $Uri, '-BackupPath', $folder, '-UploadTo', "s3://$bucket/pg", '-S3EndpointUrl', $S3.Endpoint,
                '-LogPath', $log, '-ModulePath', $env:PGBACKUP_TEST_MODULE)
        }
        finally { Remove-Item Env:AWS_ACCESS_KEY_ID, Env:AWS_SECRET_ACCESS_KEY -ErrorAction SilentlyContinue }
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $local = @(Get-PgBackup -Path $folder)
        $local.Count | Should -Be 1
        $name = $local[0].Name
        (Get-Content -Raw $log) | Should -Match ([regex]::Escape("upload ok: s3://$bucket/pg/$name"))
        Get-TestS3Key -Server $S3 -Bucket $bucket | Sort-Object | Should -Be @("pg/$name", "pg/$name.json")
        $copy = @(Get-PgBackup -Path "s3://$bucket/pg" @S3Params)
        $copy.Count | Should -Be 1
        $copy[0].Status | Should -Be 'Complete'
        $copy[0].Sha256 | Should -Be $local[0].Sha256
        $r.Output + (Get-Content -Raw $log) | Should -Not -Match ([regex]::Escape($S3.SecretKey))
    }

    It 'reads the S3 keys from a profile with -S3ProfileName, and fails at the upload step for a missing bucket' -Skip:(-not $env:PGBACKUP_TEST_S3) {
        $bucket = New-TestBucket -Server $S3 -Prefix 'job'
        $credentials = Join-Path $Out 'aws-credentials'
        Set-Content -Path $credentials -Value @(
            '[rgw]', "aws_access_key_id = $($S3.AccessKey)", "aws_secret_access_key = $($S3.SecretKey)")
        $env:AWS_SHARED_CREDENTIALS_FILE = $credentials
        $env:AWS_CONFIG_FILE = Join-Path $Out 'no-aws-config'
        try {
            $log = Join-Path $Out 'profile.log'
            $r = Invoke-Example (Join-Path $Examples 'scheduled-task/Invoke-PgBackupJob.ps1') @(
                '-ConnectionString', $Uri, '-BackupPath', (Join-Path $Out 'profile'), '-UploadTo', "s3://$bucket/", '-S3ProfileName', 'rgw',
                '-S3EndpointUrl', $S3.Endpoint, '-S3Region', $S3.Region, '-LogPath', $log, '-ModulePath', $env:PGBACKUP_TEST_MODULE)
            $r.ExitCode | Should -Be 0 -Because $r.Output
            (Get-Content -Raw $log) | Should -Match ([regex]::Escape("upload ok: s3://$bucket/backup_job_"))
            @(Get-PgBackup -Path "s3://$bucket/" @S3Params | Where-Object Status -eq 'Complete').Count | Should -Be 1

            $log = Join-Path $Out 'nobucket.log'
            $r = Invoke-Example (Join-Path $Examples 'scheduled-task/Invoke-PgBackupJob.ps1') @(
                '-ConnectionString', $Uri, '-BackupPath', (Join-Path $Out 'nobucket'), '-UploadTo', "s3://no-such-bucket-$([guid]::NewGuid().ToString('n').Substring(0, 8))/pg",
                '-S3ProfileName', 'rgw', '-S3EndpointUrl', $S3.Endpoint, '-LogPath', $log, '-ModulePath', $env:PGBACKUP_TEST_MODULE)
            $r.ExitCode | Should -Be 1
            (Get-Content -Raw $log) | Should -Match "FAILED at step 'upload': S3BucketNotFound"
            (Get-Content -Raw $log) | Should -Not -Match ([regex]::Escape($S3.SecretKey))
        }
        finally { Remove-Item Env:AWS_SHARED_CREDENTIALS_FILE, Env:AWS_CONFIG_FILE -ErrorAction SilentlyContinue }
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

Describe 'The Azure Automation runbook (examples/azure-automation/PgBackup-Runbook.ps1)' {
    BeforeAll {
        $script:Runbook = Join-Path $Examples 'azure-automation/PgBackup-Runbook.ps1'
        if ($S3) { $script:Bucket = New-TestBucket -Server $S3 -Prefix 'runbook' }
        # The same dump as the guide's script uploads with aws s3 cp: older backups to seed the bucket with.
        $script:GuideDump = Join-Path $Out 'runbook-guide.sql.gz'
        & bash -c "set -o pipefail; PGPASSWORD='$($Main.Password)' pg_dump -h 127.0.0.1 -p $($Main.Port) -U $($Main.User) --schema-only $Db | gzip > '$GuideDump'"
        if ($LASTEXITCODE -ne 0) { throw 'pg_dump | gzip failed.' }

        function New-Assets([string]$Prefix) {
            # The assets a user creates in the Automation account: no password in the connection string, the
            # database's and the bucket's keys as Automation credentials.
            @{
                Variables   = @{
                    'PgBackup-ConnectionString' = "postgresql://127.0.0.1:$($Main.Port)/$Db"
                    'PgBackup-S3Uri'            = "s3://$Bucket/$Prefix"
                    'PgBackup-S3EndpointUrl'    = $S3.Endpoint
                    'PgBackup-S3Region'         = $S3.Region
                }
                Credentials = @{
                    'PgBackup-Database' = @{ UserName = $Main.User; Password = $Main.Password }
                    'PgBackup-S3'       = @{ UserName = $S3.AccessKey; Password = $S3.SecretKey }
                }
                Parameters  = @{}
            }
        }

        function Invoke-Runbook([hashtable]$Assets, [switch]$HideTools) {
            # Runs the runbook in a fresh pwsh with stand-ins for the Automation cmdlets that serve these assets.
            $file = Join-Path $Out ('assets-' + [guid]::NewGuid().ToString('n') + '.json')
            $Assets.Parameters.ModulePath = $env:PGBACKUP_TEST_MODULE
            $Assets | ConvertTo-Json -Depth 5 | Set-Content -Path $file
            try { Invoke-Example (Join-Path $PSScriptRoot 'harness/Invoke-AutomationRunbook.ps1') @('-Runbook', $Runbook, '-AssetFile', $file) -HideTools:$HideTools }
            finally { Remove-Item $file }
        }
    }

    It 'has help that names every asset it reads, and examples' {
        $help = Get-Help $Runbook -Full
        $help.Synopsis | Should -Match 'Azure Automation'
        $description = ($help.description | Out-String)
        $parameters = (Get-Command $Runbook).Parameters
        foreach ($p in 'ConnectionStringVariable', 'AzureUriVariable', 'AzureSasTokenVariable', 'AzureClientIdVariable', 'AzureEndpointUrlVariable', 'S3UriVariable', 'S3EndpointUrlVariable', 'S3RegionVariable', 'DrillConnectionStringVariable',
            'DatabaseCredentialName', 'S3CredentialName', 'DrillCredentialName') {
            $parameters.Keys | Should -Contain $p
            $default = ($help.parameters.parameter | Where-Object name -eq $p).defaultValue
            $default | Should -BeLike 'PgBackup-*'
            $description | Should -Match ([regex]::Escape($default)) -Because "the help says which asset $p names"
        }
        @($help.examples.example).Count | Should -BeGreaterOrEqual 1
        (Get-Content -Raw $Runbook) | Should -Match 'Get-AutomationVariable -Name'
        (Get-Content -Raw $Runbook) | Should -Match 'Get-AutomationPSCredential -Name'
    }

    It 'backs up straight to the bucket, drills, applies retention there, and writes no secret' -Skip:(-not $env:PGBACKUP_TEST_S3) {
        # Four older backups of this database from one day, and one of another database, under the same prefix.
        $old = '120000', '120010', '120020', '120030' | ForEach-Object { "nightly/backup_${Db}_20240101_$_.sql.gz" }
        $other = 'nightly/backup_otherdb_20240101_120000.sql.gz'
        Write-TestS3Object -Server $S3 -Bucket $Bucket -Key ($old + $other) -File $GuideDump
        $assets = New-Assets 'nightly'
        $assets.Parameters.Drill = $true
        $r = Invoke-Runbook $assets
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $r.Output | Should -Match "backup ok: s3://$Bucket/nightly/backup_${Db}_\d{8}_\d{6}\.sql\.gz"
        $r.Output | Should -Match 'drill ok: '
        # The default policy (7 daily, 4 weekly, 12 monthly) keeps the new backup, the newest of that old day and
        # the oldest (restic's rule while budget is left), and removes the other two.
        $r.Output | Should -Match 'retention ok: kept 3, removed 2'
        $line = ($r.Output -split "`n") -match 'retention ok'
        $line | Should -Match ([regex]::Escape(($old[1] -split '/')[-1]))
        $line | Should -Match ([regex]::Escape(($old[2] -split '/')[-1]))
        $r.Output | Should -Match 'runbook ok'
        $r.Output | Should -Match 'Drill\s+:\s+Passed'

        $new = @(Get-PgBackup -Path "s3://$Bucket/nightly" -Database $Db @S3Params | Where-Object Name -notin ($old | Split-Path -Leaf))
        $new.Count | Should -Be 1
        $new[0].Status | Should -Be 'Complete'
        $keys = @(Get-TestS3Key -Server $S3 -Bucket $Bucket -Prefix 'nightly/')
        $keys | Should -Contain "nightly/$($new[0].Name)"
        $keys | Should -Contain "nightly/$($new[0].Name).json"
        $keys | Should -Not -Contain $old[1]
        $keys | Should -Not -Contain $old[2]
        $keys | Should -Contain $old[0]
        $keys | Should -Contain $old[3]
        $keys | Should -Contain $other
        $keys | Where-Object { $_ -like '*.partial' } | Should -BeNullOrEmpty
        Get-TestS3Upload -Server $S3 -Bucket $Bucket | Should -BeNullOrEmpty

        $r.Output | Should -Not -Match ([regex]::Escape($Main.Password))
        $r.Output | Should -Not -Match ([regex]::Escape($S3.SecretKey))
    }

    It 'backs up to Azure Blob Storage with a SAS token, applies retention in the container, and writes no secret' -Skip:(-not $env:PGBACKUP_TEST_AZURE) {
        $container = New-TestContainer -Server $Azure -Prefix 'runbook'
        $old = '120000', '120010', '120020', '120030' | ForEach-Object { "nightly/backup_${Db}_20240101_$_.sql.gz" }
        Write-TestBlob -Server $Azure -Container $container -Name $old -File $GuideDump
        $sas = New-TestAzureSas -Server $Azure -Container $container
        $assets = New-Assets 'unused'
        $assets.Variables.Remove('PgBackup-S3Uri')
        $assets.Variables['PgBackup-AzureUri'] = "az://$($Azure.Account)/$container/nightly/"
        $assets.Variables['PgBackup-AzureSasToken'] = $sas
        $assets.Variables['PgBackup-AzureEndpointUrl'] = $Azure.Endpoint
        $r = Invoke-Runbook $assets
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $r.Output | Should -Match "settings ok: to az://$($Azure.Account)/$container/nightly/ at .*, SAS token 'PgBackup-AzureSasToken'"
        $r.Output | Should -Match "backup ok: az://$($Azure.Account)/$container/nightly/backup_${Db}_\d{8}_\d{6}\.sql\.gz"
        $r.Output | Should -Match 'retention ok: kept 3, removed 2'
        $r.Output | Should -Match 'runbook ok'
        $blobs = @(Get-TestBlobName -Server $Azure -Container $container -Prefix 'nightly/')
        $blobs.Count | Should -Be 4 -Because 'two old backups, and the new one with its manifest'
        $blobs | Should -Not -Contain $old[1]
        $blobs | Where-Object { $_ -like '*.partial' } | Should -BeNullOrEmpty
        $signature = [uri]::UnescapeDataString(($sas -split '&' | Where-Object { $_ -like 'sig=*' }).Substring(4))
        $r.Output | Should -Not -Match ([regex]::Escape($signature))
        $r.Output | Should -Not -Match ([regex]::Escape([uri]::EscapeDataString($signature)))
        $r.Output | Should -Not -Match ([regex]::Escape($Main.Password))
    }

    It 'backs up to the bucket and drills with no PostgreSQL client tools reachable, as in Azure''s cloud sandbox' -Skip:(-not $env:PGBACKUP_TEST_S3 -or -not $CanHideTools) {
        $assets = New-Assets 'sandbox'
        $assets.Parameters.Drill = $true
        $r = Invoke-Runbook $assets -HideTools
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $r.Output | Should -Match "backup ok: s3://$Bucket/sandbox/backup_${Db}_\d{8}_\d{6}\.sql\.gz"
        $r.Output | Should -Match 'drill ok: '
        $r.Output | Should -Match 'runbook ok'
        $b = @(Get-PgBackup -Path "s3://$Bucket/sandbox" -Database $Db @S3Params)
        $b.Count | Should -Be 1
        $b[0].Engine | Should -Be 'Native'
        $r.Output | Should -Not -Match ([regex]::Escape($Main.Password))
    }

    It 'fails the job at the backup step with the error id when the S3 secret is wrong, and writes no secret' -Skip:(-not $env:PGBACKUP_TEST_S3) {
        $assets = New-Assets 'wrongkey'
        $assets.Credentials['PgBackup-S3'].Password = 'wrong-secret-8f3a1c'
        $r = Invoke-Runbook $assets
        $r.ExitCode | Should -Be 1 -Because $r.Output
        $r.Output | Should -Match "FAILED at step 'backup': S3AccessDenied"
        $r.Output | Should -Not -Match 'wrong-secret-8f3a1c'
        $r.Output | Should -Not -Match ([regex]::Escape($Main.Password))
        Get-TestS3Key -Server $S3 -Bucket $Bucket -Prefix 'wrongkey/' | Should -BeNullOrEmpty
    }

    It 'uses the database credential over the connection string''s password, and fails on a wrong one without showing either' -Skip:(-not $env:PGBACKUP_TEST_S3) {
        $assets = New-Assets 'wrongpw'
        $assets.Variables['PgBackup-ConnectionString'] = Get-TestPostgresUri -Server $Main -Database $Db
        $assets.Credentials['PgBackup-Database'].Password = 'wrong-pw-5d2e7b'
        $r = Invoke-Runbook $assets
        $r.ExitCode | Should -Be 1 -Because $r.Output
        $r.Output | Should -Match "FAILED at step 'backup': AuthenticationFailed"
        $r.Output | Should -Not -Match 'wrong-pw-5d2e7b'
        $r.Output | Should -Not -Match ([regex]::Escape($Main.Password))
        Get-TestS3Key -Server $S3 -Bucket $Bucket -Prefix 'wrongpw/' | Should -BeNullOrEmpty
    }

    It 'fails at the settings step when a required variable is missing' -Skip:(-not $env:PGBACKUP_TEST_S3) {
        $assets = New-Assets 'missing'
        $assets.Variables.Remove('PgBackup-S3Uri')
        $r = Invoke-Runbook $assets
        $r.ExitCode | Should -Be 1 -Because $r.Output
        $r.Output | Should -Match "FAILED at step 'settings': AutomationVariableMissing"
        $r.Output | Should -Match "'PgBackup-S3Uri'"
    }

    It 'run with plain pwsh -File outside Azure Automation, it fails at the settings step and exits 1' {
        $r = Invoke-Example $Runbook @('-ModulePath', $env:PGBACKUP_TEST_MODULE)
        $r.ExitCode | Should -Be 1 -Because $r.Output
        $r.Output | Should -Match "FAILED at step 'settings': CommandNotFoundException"
    }
}
