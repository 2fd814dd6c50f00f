# Backups in S3 (Ceph's RADOS Gateway, started by build.ps1): every cmdlet on a bucket, streaming, copies in every
# direction, integrity, what interrupted and failed uploads leave, errors, long listings.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    if (-not $S3) { throw 'No test S3 server: run the tests with build.ps1 -Task Test (PGBACKUP_TEST_S3).' }
    $script:Db = New-TestDatabaseName 's3'
    New-TestDatabase -Server $Main -Name $Db -SqlFile $SampleSql
    $script:Uri = Get-TestPostgresUri -Server $Main -Database $Db
    $script:Bucket = New-TestBucket -Server $S3
    $script:Out = New-TestFolder

    function Get-BackupLikeKeys([string]$Bucket, [string]$Prefix = '') {
        @(Get-TestS3Key -Server $S3 -Bucket $Bucket -Prefix $Prefix | Where-Object { ($_ -split '/')[-1] -like 'backup_*' -or $_ -like '*backup_*/*' })
    }
    function Get-ErrorOf([scriptblock]$Script) {
        try { & $Script; $null } catch { $_ }
    }
}

AfterAll { Remove-TestFolder $Out }

Describe 'S3 locations' {
    It 'every cmdlet that takes a location has the S3 parameters, and uploaders the upload settings' {
        foreach ($name in 'New-PgBackup', 'Get-PgBackup', 'Restore-PgBackup', 'Test-PgBackup', 'Copy-PgBackup', 'Remove-PgBackup', 'Invoke-PgBackupRetention',
            'Protect-PgBackup', 'Unprotect-PgBackup', 'Export-PgBackupData') {
            $p = (Get-Command $name).Parameters
            foreach ($s in 'S3Credential', 'ProfileName', 'Region', 'EndpointUrl', 'S3AddressingStyle', 'S3ChecksumMode', 'S3TimeoutSeconds', 'S3TimeoutSeconds') { $p.Keys | Should -Contain $s -Because "$name needs -$s" }
            $p['S3Credential'].ParameterType | Should -Be ([pscredential])
        }
        foreach ($name in 'New-PgBackup', 'Copy-PgBackup') {
            foreach ($s in 'ServerSideEncryption', 'KmsKeyId', 'StorageClass', 'S3PartSizeMB', 'S3UploadConcurrency') { (Get-Command $name).Parameters.Keys | Should -Contain $s }
        }
    }

    It 'refuses invalid S3 URIs with S3InvalidUri' {
        { Get-PgBackup -Path 's3://bad_bucket!/x' @S3Params -ErrorAction Stop } | Should -Throw -ErrorId 'S3InvalidUri,PgBackup.Commands.GetPgBackupCommand'
        { New-PgBackup -ConnectionString $Uri -Path 's3://b/a//c' @S3Params } | Should -Throw -ErrorId 'S3InvalidUri,PgBackup.Commands.NewPgBackupCommand'
        { Test-PgBackup -Path 's3://bucket-only' @S3Params -ErrorAction Stop } | Should -Throw -ErrorId 'S3InvalidUri,PgBackup.Commands.TestPgBackupCommand'
    }
}

Describe 'New-PgBackup to S3' {
    BeforeAll {
        # About 12 MiB of SQL without compression: three parts of 5 MiB.
        $script:BigDb = New-TestDatabaseName 'big'
        New-TestDatabase -Server $Main -Name $BigDb -Sql "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS t FROM generate_series(1, 170000) g;"
    }

    It 'streams a backup larger than several parts as a multipart upload, with no local copy, manifest last' {
        # The backup runs in this process with its own empty temporary folder, watched for large files.
        $temp = New-TestFolder
        $savedTemp = $env:TMPDIR
        $env:TMPDIR = $temp
        try {
            [System.IO.Path]::GetTempPath() | Should -BeLike "$temp*"
            $job = Start-AsyncPipeline -Script {
                param($u, $b, $p)
                New-PgBackup -ConnectionString $u -Path "s3://$b/big" -Compression None -S3PartSizeMB 5 -S3UploadConcurrency 2 @p
            } -Arguments (Get-TestPostgresUri -Server $Main -Database $BigDb), $Bucket, $S3Params
            $largeTempFiles = [System.Collections.Generic.HashSet[string]]::new()
            $sawUpload = $false
            while (-not $job.Handle.IsCompleted) {
                Get-ChildItem $temp -Recurse -File -Force -ErrorAction SilentlyContinue | Where-Object Length -gt 1MB | ForEach-Object { $null = $largeTempFiles.Add($_.FullName) }
                if (-not $sawUpload -and @(Get-TestS3Upload -Server $S3 -Bucket $Bucket).Count -gt 0) { $sawUpload = $true }
                Start-Sleep -Milliseconds 50
            }
        }
        finally {
            $env:TMPDIR = $savedTemp
            Remove-TestFolder $temp
        }
        $b = $job.PowerShell.EndInvoke($job.Handle) | Select-Object -Last 1
        Stop-AsyncPipeline $job
        $b.Status | Should -Be 'Complete'
        $b.Path | Should -Be "s3://$Bucket/big/$($b.Name)"
        $b.Location | Should -Be "s3://$Bucket/big/"
        $b.SizeBytes | Should -BeGreaterThan 11MB
        $largeTempFiles | Should -BeNullOrEmpty -Because 'the dump goes straight from pg_dump to S3'
        $sawUpload | Should -BeTrue -Because 'parts are uploaded while pg_dump runs'
        $object = Get-TestS3Object -Server $S3 -Bucket $Bucket -Key "big/$($b.Name)"
        $object.ETag | Should -Match '-[3-9]"$' -Because 'it was uploaded in at least three parts'
        $object.Size | Should -Be $b.SizeBytes
        $object.Sha256 | Should -Be $b.Sha256
        Get-TestS3Key -Server $S3 -Bucket $Bucket -Prefix 'big/' | Sort-Object | Should -Be @("big/$($b.Name)", "big/$($b.Name).json")
        Get-TestS3Upload -Server $S3 -Bucket $Bucket | Should -BeNullOrEmpty
        ($b.Tables | Where-Object Name -eq 'big').Rows | Should -Be 170000
    }

    It 'writes every format; Get-PgBackup lists them with credentials carried along, never shown' {
        $prefix = "s3://$Bucket/formats"
        $plain = New-PgBackup -ConnectionString $Uri -Path $prefix @S3Params
        $custom = New-PgBackup -ConnectionString $Uri -Path $prefix -Format Custom @S3Params
        $dir = New-PgBackup -ConnectionString $Uri -Path $prefix -Format Directory -Jobs 2 @S3Params
        foreach ($b in $plain, $custom, $dir) { $b.Status | Should -Be 'Complete' }
        Get-TestS3Key -Server $S3 -Bucket $Bucket -Prefix "formats/$($dir.Name)/" | Should -Contain "formats/$($dir.Name)/toc.dat"
        Get-TestS3Key -Server $S3 -Bucket $Bucket -Prefix 'formats/' | Where-Object { $_ -like '*.partial' } | Should -BeNullOrEmpty

        $list = @(Get-PgBackup -Path $prefix @S3Params)
        $list.Count | Should -Be 3
        $list | ForEach-Object { $_.Status | Should -Be 'Complete' }
        ($list | Where-Object Name -eq $dir.Name).SizeBytes | Should -Be $dir.SizeBytes
        ($list | Select-Object * | Out-String -Width 500) | Should -Not -Match ([regex]::Escape($S3.SecretKey))
        ($list | ConvertTo-Json -Depth 6) | Should -Not -Match ([regex]::Escape($S3.SecretKey))
        $list[0].PSObject.Properties.Name | Should -Not -Contain 'StoreOptions'
        # Listed objects reach the bucket again without the credentials being given again.
        $results = $list | Test-PgBackup
        $results | ForEach-Object { $_.Passed | Should -BeTrue -Because ($_.Checks | Out-String) }
    }

    It 'fails cleanly with wrong credentials, a missing bucket and a denied write, leaving nothing' {
        $wrong = [pscredential]::new($S3.AccessKey, (ConvertTo-SecureString 'not-the-secret-123' -AsPlainText -Force))
        $err = Get-ErrorOf { New-PgBackup -ConnectionString $Uri -Path "s3://$Bucket/errors" -S3Credential $wrong -EndpointUrl $S3.Endpoint }
        $err.FullyQualifiedErrorId | Should -Be 'S3AccessDenied,PgBackup.Commands.NewPgBackupCommand'
        $err.CategoryInfo.Category | Should -Be 'AuthenticationError'
        "$err" | Should -Not -Match 'not-the-secret-123'
        $err = Get-ErrorOf { Get-PgBackup -Path "s3://$Bucket/errors" -S3Credential $wrong -EndpointUrl $S3.Endpoint -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -Be 'S3AccessDenied,PgBackup.Commands.GetPgBackupCommand'

        $err = Get-ErrorOf { New-PgBackup -ConnectionString $Uri -Path "s3://no-such-bucket-$([guid]::NewGuid().ToString('n').Substring(0, 8))/x" @S3Params }
        $err.FullyQualifiedErrorId | Should -Be 'S3BucketNotFound,PgBackup.Commands.NewPgBackupCommand'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'

        # The stranger may list and read this bucket, not write to it.
        $readOnly = New-TestBucket -Server $S3 -Prefix 'readonly'
        Set-TestS3BucketPolicy -Server $S3 -Bucket $readOnly
        $stranger = [pscredential]::new($S3.OtherAccessKey, (ConvertTo-SecureString $S3.OtherSecretKey -AsPlainText -Force))
        @(Get-PgBackup -Path "s3://$readOnly/" -S3Credential $stranger -EndpointUrl $S3.Endpoint).Count | Should -Be 0
        $err = Get-ErrorOf { New-PgBackup -ConnectionString $Uri -Path "s3://$readOnly/" -S3Credential $stranger -EndpointUrl $S3.Endpoint }
        $err.FullyQualifiedErrorId | Should -Be 'S3AccessDenied,PgBackup.Commands.NewPgBackupCommand'
        $err.CategoryInfo.Category | Should -Be 'PermissionDenied'
        Get-BackupLikeKeys $readOnly | Should -BeNullOrEmpty
        # pg_dump starts while the writer is opened (its marker is the denied write): it was stopped, and its
        # session on the server ended.
        @(Get-Process pg_dump -ErrorAction Ignore | Where-Object { $_.Parent -and $_.Parent.Id -eq $PID }).Count | Should -Be 0
        $sessions = 1
        for ($i = 0; $i -lt 50 -and $sessions -ne 0; $i++) {
            $sessions = [int](Invoke-TestPsql -Server $Main -Sql "SELECT count(*) FROM pg_stat_activity WHERE datname = '$Db' AND application_name = 'pg_dump';" | Select-Object -Last 1)
            if ($sessions) { Start-Sleep -Milliseconds 100 }
        }
        $sessions | Should -Be 0
        Get-BackupLikeKeys $Bucket 'errors/' | Should -BeNullOrEmpty
    }

    It 'an upload <What> fails with S3UploadFailed (<Category>) and leaves no backup and no multipart upload' -ForEach @(
        @{ What = 'cut off mid-way'; Setting = 'CutUploadAfterBytes'; Count = 'Cuts'; Extra = @{}; Category = 'ConnectionError'; Message = '*' }
        # The proxy holds every connection open but forwards nothing more once 3 MB of a part went through: what a full
        # Ceph or MinIO cluster does to writes. Without a limit the AWS SDK would wait about 24 days.
        @{ What = 'to a server that stops answering'; Setting = 'StallUploadAfterBytes'; Count = 'Stalls'; Extra = @{ S3TimeoutSeconds = 2 }
           Category = 'OperationTimeout'; Message = '*did not answer within 2 s*' }
    ) {
        Add-Type -Path (Join-Path $PSScriptRoot 'harness/CutProxy.cs')
        $proxy = [PgBackup.TestHarness.CutProxy]::new('127.0.0.1', $S3.Port)
        $proxy.$Setting = 3MB
        $prefix = ($What -replace '\W', '')
        try {
            $err = Get-ErrorOf {
                New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Main -Database $BigDb) -Path "s3://$Bucket/$prefix" -Compression None -S3PartSizeMB 5 `
                    -S3Credential $S3Params.S3Credential -EndpointUrl $proxy.Url @Extra
            }
            $err.FullyQualifiedErrorId | Should -Be 'S3UploadFailed,PgBackup.Commands.NewPgBackupCommand' -Because $err.Exception.Message
            $err.CategoryInfo.Category | Should -Be $Category
            $err.Exception.Message | Should -BeLike $Message
            $proxy.$Count | Should -BeGreaterThan 0
            Get-BackupLikeKeys $Bucket "$prefix/" | Should -BeNullOrEmpty
            Get-TestS3Upload -Server $S3 -Bucket $Bucket | Should -BeNullOrEmpty -Because 'the multipart upload was aborted'
            Get-PgDumpProcess $BigDb | Should -BeNullOrEmpty
        }
        finally { $proxy.Dispose() }
    }

    It 'a download that stops for -S3TimeoutSeconds resumes where it stopped; one that keeps stopping fails with BackupReadFailed' {
        $b = New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Main -Database $BigDb) -Path "s3://$Bucket/slowread" -Compression None @S3Params
        $b.SizeBytes | Should -BeGreaterThan 2MB
        Add-Type -Path (Join-Path $PSScriptRoot 'harness/CutProxy.cs')
        $proxy = [PgBackup.TestHarness.CutProxy]::new('127.0.0.1', $S3.Port)
        $proxy.StallDownloadAfterBytes = 1MB
        $proxy.DownloadStalls = 1
        $via = @{ S3Credential = $S3Params.S3Credential; EndpointUrl = $proxy.Url; S3TimeoutSeconds = 2 }
        try {
            $copy = Copy-PgBackup -Path $b.Path -Destination (Join-Path $Out 'slowread') @via
            $proxy.Stalls | Should -Be 1
            $copy.Sha256 | Should -Be $b.Sha256
            (Get-FileHash -Algorithm SHA256 $copy.Path).Hash | Should -Be $b.Sha256

            $proxy.DownloadStalls = [long]::MaxValue
            $err = Get-ErrorOf { Copy-PgBackup -Path $b.Path -Destination (Join-Path $Out 'slowread2') @via -ErrorAction Stop }
            $err.FullyQualifiedErrorId | Should -Be 'BackupReadFailed,PgBackup.Commands.CopyPgBackupCommand'
            $err.Exception.Message | Should -BeLike '*sent no data for 2 s*'
            Get-BackupLikeFiles (Join-Path $Out 'slowread2') | Should -BeNullOrEmpty
        }
        finally { $proxy.Dispose() }
    }

    It 'Ctrl+C stops a download that the server stopped sending, without waiting for -S3TimeoutSeconds' {
        $b = New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Main -Database $BigDb) -Path "s3://$Bucket/stopread" -Compression None @S3Params
        Add-Type -Path (Join-Path $PSScriptRoot 'harness/CutProxy.cs')
        $proxy = [PgBackup.TestHarness.CutProxy]::new('127.0.0.1', $S3.Port)
        $proxy.StallDownloadAfterBytes = 1MB
        $destination = Join-Path $Out 'stopread'
        $job = $null
        try {
            $job = Start-AsyncPipeline -Script { param($path, $dest, $cred, $url) Copy-PgBackup -Path $path -Destination $dest -S3Credential $cred -EndpointUrl $url } `
                -Arguments $b.Path, $destination, $S3Params.S3Credential, $proxy.Url
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while ($proxy.Stalls -lt 1 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
            $proxy.Stalls | Should -Be 1
            Start-Sleep -Milliseconds 500
            $job.Handle.IsCompleted | Should -BeFalse -Because 'the copy waits for data (the limit is 600 s)'
            $stop = $job.PowerShell.BeginStop($null, $null)
            $stop.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(30)) | Should -BeTrue -Because 'Ctrl+C ends a blocked read'
            Get-BackupLikeFiles $destination | Should -BeNullOrEmpty
        }
        finally { Stop-AsyncPipeline $job; $proxy.Dispose() }
    }

    It 'Ctrl+C aborts the upload' {
        $lock = Start-TableLock -Server $Main -Database $Db -Table 'public.users'
        try {
            $job = Start-AsyncPipeline -Script { param($u, $b, $p) New-PgBackup -ConnectionString $u -Path "s3://$b/stopped" @p } -Arguments $Uri, $Bucket, $S3Params
            Wait-PgDumpWaiting -Server $Main -Database $Db
            # The marker is written beside pg_dump's start, not before it: wait for it (pg_dump waits for the lock).
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while (-not (Get-TestS3Key -Server $S3 -Bucket $Bucket -Prefix 'stopped/') -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
            Get-TestS3Key -Server $S3 -Bucket $Bucket -Prefix 'stopped/' | Should -BeLike '*.partial' -Because 'the marker says: being written'
            $job.PowerShell.Stop()
            Get-BackupLikeKeys $Bucket 'stopped/' | Should -BeNullOrEmpty
            Get-TestS3Upload -Server $S3 -Bucket $Bucket | Should -BeNullOrEmpty
        }
        finally { Stop-TableLock $lock; Stop-AsyncPipeline $job }
    }
}

Describe 'Restores and drills from S3' {
    BeforeAll {
        $script:Source = Get-DatabaseFingerprint -Server $Main -Database $Db
        $script:Restorable = @{}
        foreach ($f in 'Plain', 'Custom', 'Directory') { $Restorable[$f] = New-PgBackup -ConnectionString $Uri -Path "s3://$Bucket/restore" -Format $f @S3Params }
    }

    It 'restores a <Format> backup from S3 (<How>), piped from Get-PgBackup' -ForEach @(
        @{ Format = 'Plain'; How = 'streamed through psql' }, @{ Format = 'Directory'; How = 'downloaded for pg_restore' }
    ) {
        $target = New-TestDatabaseName 'froms3'
        $b = Get-PgBackup -Path "s3://$Bucket/restore" @S3Params | Where-Object Name -eq $Restorable[$Format].Name
        $r = $b | Restore-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Main -Database $target) -CreateDatabase -Confirm:$false
        $r.Verified | Should -BeTrue
        Assert-SameDatabase -Expected $Source -Actual (Get-DatabaseFingerprint -Server $Main -Database $target)
    }

    It 'runs a drill on a Custom backup streamed from S3 to pg_restore, by path' {
        $t = Test-PgBackup -Path $Restorable['Custom'].Path -Restore -ConnectionString $Uri @S3Params
        $t.Passed | Should -BeTrue -Because ($t.Checks | Out-String)
        $t.Kind | Should -Be 'Drill'
        { Restore-PgBackup -Path $Restorable['Custom'].Path -ConnectionString $Uri -Jobs 2 -Confirm:$false @S3Params } |
            Should -Throw -ErrorId 'InvalidParameter,PgBackup.Commands.RestorePgBackupCommand' -Because 'parallel restores need a local file'
    }

    It 'detects a changed object on download, restore and drill' {
        $b = New-PgBackup -ConnectionString $Uri -Path "s3://$Bucket/tampered" -Format Custom -Compression None @S3Params
        $object = Get-TestS3Object -Server $S3 -Bucket $Bucket -Key "tampered/$($b.Name)"
        $bytes = $object.Bytes
        $i = [int]($bytes.Length * 0.8)
        $bytes[$i] = $bytes[$i] -bxor 0x20
        Write-TestS3Object -Server $S3 -Bucket $Bucket -Key "tampered/$($b.Name)" -Bytes $bytes
        $t = Test-PgBackup -Path $b.Path @S3Params -ErrorAction SilentlyContinue -ErrorVariable e
        $t.Passed | Should -BeFalse
        $e[0].FullyQualifiedErrorId | Should -Be 'BackupChecksumMismatch,PgBackup.Commands.TestPgBackupCommand'
        $target = New-TestDatabaseName 'tampered'
        { Restore-PgBackup -Path $b.Path -ConnectionString (Get-TestPostgresUri -Server $Main -Database $target) -CreateDatabase -Confirm:$false @S3Params } |
            Should -Throw -ErrorId 'BackupChecksumMismatch,PgBackup.Commands.RestorePgBackupCommand'
        Get-DatabaseNames -Server $Main | Should -Not -Contain $target
        $err = Get-ErrorOf { Copy-PgBackup -Path $b.Path -Destination (Join-Path $Out 'tampered') @S3Params -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -Be 'BackupChecksumMismatch,PgBackup.Commands.CopyPgBackupCommand'
        Get-BackupLikeFiles (Join-Path $Out 'tampered') | Should -BeNullOrEmpty
    }

    It 'lists an upload whose manifest never arrived as incomplete, and refuses to restore it' {
        # What a crash between the end of the upload and the manifest leaves: the data and its "being written" marker.
        $name = "backup_${Db}_20250101_030000.sql.gz"
        Write-TestS3Object -Server $S3 -Bucket $Bucket -Key "crashed/$name", "crashed/$name.partial"
        # A file the guide's script uploaded with aws s3 cp (no manifest, no marker) is a backup of another tool.
        $guide = Join-Path $Out 'guide.sql.gz'
        & bash -c "PGPASSWORD='$($Main.Password)' pg_dump -h 127.0.0.1 -p $($Main.Port) -U postgres $Db | gzip > '$guide'"
        Write-TestS3Object -Server $S3 -Bucket $Bucket -Key "crashed/backup_${Db}_20240101_030000.sql.gz" -File $guide
        $list = @(Get-PgBackup -Path "s3://$Bucket/crashed" @S3Params)
        $list.Count | Should -Be 2
        $list[0].Name | Should -Be $name
        $list[0].Status | Should -Be 'Incomplete'
        $list[0].IsGood | Should -BeFalse
        $list[1].Status | Should -Be 'NoManifest'
        $list[1].IsGood | Should -BeTrue
        { Restore-PgBackup -Path "s3://$Bucket/crashed/$name" -ConnectionString $Uri -Confirm:$false @S3Params } | Should -Throw -ErrorId 'BackupIncomplete,PgBackup.Commands.RestorePgBackupCommand'
        $target = New-TestDatabaseName 'guides3'
        ($list[1] | Restore-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Main -Database $target) -CreateDatabase -Confirm:$false).Verified | Should -BeTrue
    }

    It 'lists more than 1,000 objects (several pages)' {
        $many = New-TestBucket -Server $S3 -Prefix 'many'
        $keys = 0..1000 | ForEach-Object { 'p/backup_app_2025{0:00}{1:00}_{2:00}{3:00}00.sql.gz' -f (($_ % 12) + 1), (($_ % 28) + 1), ($_ % 24), [math]::Floor($_ / 24) }
        $keys = @($keys | Select-Object -Unique)
        $keys.Count | Should -BeGreaterThan 1000
        Write-TestS3Object -Server $S3 -Bucket $many -Key ($keys + 'p/notes.txt') -Text ('x' * 30)
        $real = New-PgBackup -ConnectionString $Uri -Path "s3://$many/p" -SchemaOnly @S3Params
        $list = @(Get-PgBackup -Path "s3://$many/p" @S3Params)
        $list.Count | Should -Be ($keys.Count + 1)
        $list[0].Name | Should -Be $real.Name
        @(Get-PgBackup -Path "s3://$many/p" -Database app @S3Params).Count | Should -Be $keys.Count
    }
}

Describe 'Copy-PgBackup' {
    It 'has the expected parameters' {
        $expected = 'Path', 'InputObject', 'Destination', 'DestinationS3Credential', 'DestinationProfileName', 'DestinationRegion', 'DestinationEndpointUrl', 'Force',
            'DestinationAzureSasToken', 'DestinationAzureConnectionString', 'DestinationAzureAccountKey', 'DestinationAzureEndpointUrl',
            'S3Credential', 'ProfileName', 'Region', 'EndpointUrl', 'S3AddressingStyle', 'S3ChecksumMode', 'S3TimeoutSeconds', 'AzureSasToken', 'AzureConnectionString', 'AzureAccountKey', 'AzureEndpointUrl',
            'ServerSideEncryption', 'KmsKeyId', 'StorageClass', 'S3PartSizeMB', 'S3UploadConcurrency', 'AccessTier', 'Passphrase', 'SecretKeyPath', 'SecretKeyPassphrase',
            'VerifyKey', 'SigningKey', 'SigningKeyPassphrase'
        $cmd = Get-Command Copy-PgBackup
        $actual = $cmd.Parameters.Keys | Where-Object { $_ -notin [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters }
        $actual | Sort-Object | Should -Be ($expected | Sort-Object)
        $cmd.Parameters['DestinationS3Credential'].ParameterType | Should -Be ([pscredential])
    }

    It 'copies folder to bucket (piped from New-PgBackup), bucket to bucket and bucket to folder, manifest included' {
        $local = Join-Path $Out 'copies'
        $second = New-TestBucket -Server $S3 -Prefix 'second'
        foreach ($format in 'Plain', 'Directory') {
            $up = New-PgBackup -ConnectionString $Uri -Path $local -Format $format | Copy-PgBackup -Destination "s3://$Bucket/copies" @S3Params
            $up.Status | Should -Be 'Complete'
            $up.Path | Should -Be "s3://$Bucket/copies/$($up.Name)"
            Get-TestS3Key -Server $S3 -Bucket $Bucket -Prefix "copies/$($up.Name).json" | Should -Not -BeNullOrEmpty
            # Bucket to bucket with the credentials the listed object carries.
            $across = Get-PgBackup -Path "s3://$Bucket/copies" @S3Params | Where-Object Name -eq $up.Name | Copy-PgBackup -Destination "s3://$second/"
            $across.Status | Should -Be 'Complete'
            $across.Sha256 | Should -Be $up.Sha256
            # Bucket to folder.
            $down = Copy-PgBackup -Path $across.Path -Destination (Join-Path $Out 'down') @S3Params
            $down.Status | Should -Be 'Complete'
            $down.Path | Should -Be (Join-Path $Out "down/$($up.Name)")
            Test-Path "$($down.Path).json" | Should -BeTrue
            (Test-PgBackup -Path $down.Path).Passed | Should -BeTrue
        }
        @(Get-PgBackup -Path "s3://$second/" @S3Params).Count | Should -Be 2
        Get-TestS3Key -Server $S3 -Bucket $second | Where-Object { $_ -like '*.partial' } | Should -BeNullOrEmpty
    }

    It 'refuses to replace an existing copy without -Force, replaces it with -Force, and -WhatIf copies nothing' {
        $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'force') -SchemaOnly
        $null = Copy-PgBackup -Path $b.Path -Destination "s3://$Bucket/force" @S3Params
        $err = Get-ErrorOf { Copy-PgBackup -Path $b.Path -Destination "s3://$Bucket/force" @S3Params -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -Be 'BackupExists,PgBackup.Commands.CopyPgBackupCommand'
        (Copy-PgBackup -Path $b.Path -Destination "s3://$Bucket/force" -Force @S3Params).Status | Should -Be 'Complete'
        Copy-PgBackup -Path $b.Path -Destination "s3://$Bucket/whatif" -WhatIf @S3Params | Should -BeNullOrEmpty
        Get-TestS3Key -Server $S3 -Bucket $Bucket -Prefix 'whatif/' | Should -BeNullOrEmpty
    }

    It 'uses other credentials for the destination with -DestinationS3Credential' {
        $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'destcred') -SchemaOnly
        $stranger = [pscredential]::new($S3.OtherAccessKey, (ConvertTo-SecureString $S3.OtherSecretKey -AsPlainText -Force))
        $err = Get-ErrorOf { Copy-PgBackup -Path $b.Path -Destination "s3://$Bucket/destcred" -DestinationS3Credential $stranger -DestinationEndpointUrl $S3.Endpoint -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -Be 'S3AccessDenied,PgBackup.Commands.CopyPgBackupCommand'
        Get-BackupLikeKeys $Bucket 'destcred/' | Should -BeNullOrEmpty
        (Copy-PgBackup -Path $b.Path -Destination "s3://$Bucket/destcred" -DestinationS3Credential $S3Params.S3Credential -DestinationEndpointUrl $S3.Endpoint).Status | Should -Be 'Complete'
    }
}

Describe 'Retention, removal and encryption on a bucket' {
    It 'Invoke-PgBackupRetention plans over a bucket by path and removes through S3; Remove-PgBackup removes by path and by pipeline' {
        $prefix = "s3://$Bucket/retention"
        # Three older backups of the guide's kind (aws s3 cp), and two of PgBackup's own.
        $guide = Join-Path $Out 'retention-guide.sql.gz'
        & bash -c "PGPASSWORD='$($Main.Password)' pg_dump -h 127.0.0.1 -p $($Main.Port) -U postgres --schema-only $Db | gzip > '$guide'"
        $old = '20240101_030000', '20240102_030000', '20240103_030000' | ForEach-Object { "retention/backup_${Db}_$_.sql.gz" }
        Write-TestS3Object -Server $S3 -Bucket $Bucket -Key $old -File $guide
        $new = 1..2 | ForEach-Object { New-PgBackup -ConnectionString $Uri -Path $prefix -SchemaOnly @S3Params }
        $plan = Invoke-PgBackupRetention -Path $prefix -KeepLast 3 -Confirm:$false @S3Params
        @($plan | Where-Object Action -eq 'Remove').Count | Should -Be 2
        @($plan | Where-Object { $_.Action -eq 'Remove' -and -not $_.Removed }).Count | Should -Be 0
        $keys = @(Get-TestS3Key -Server $S3 -Bucket $Bucket -Prefix 'retention/')
        $keys | Should -Not -Contain $old[0]
        $keys | Should -Not -Contain $old[1]
        $keys | Should -Contain $old[2]
        foreach ($b in $new) { $keys | Should -Contain "retention/$($b.Name)"; $keys | Should -Contain "retention/$($b.Name).json" }

        # After a new backup: -AllInGroup lists the bucket with the settings the new backup carries.
        $plan = New-PgBackup -ConnectionString $Uri -Path $prefix -SchemaOnly @S3Params | Invoke-PgBackupRetention -AllInGroup -KeepLast 2 -Confirm:$false
        @($plan | Where-Object Action -eq 'Remove').Count | Should -Be 2

        $left = @(Get-PgBackup -Path $prefix @S3Params)
        $left.Count | Should -Be 2
        Remove-PgBackup -Path $left[0].Path -Confirm:$false @S3Params
        $left[1] | Remove-PgBackup -Confirm:$false
        Get-TestS3Key -Server $S3 -Bucket $Bucket -Prefix 'retention/' | Should -BeNullOrEmpty
        Write-TestS3Object -Server $S3 -Bucket $Bucket -Key 'retention/notes.txt'
        { Remove-PgBackup -Path "$prefix/notes.txt" -Confirm:$false @S3Params -ErrorAction Stop } | Should -Throw -ErrorId 'NotABackup,PgBackup.Commands.RemovePgBackupCommand'
        Get-TestS3Key -Server $S3 -Bucket $Bucket -Prefix 'retention/' | Should -Be 'retention/notes.txt'
    }

    It 'encrypts in the stream to S3, and Protect-/Unprotect-PgBackup work on a bucket' {
        $secret = ConvertTo-SecureString 'correct horse battery' -AsPlainText -Force
        $e = New-PgBackup -ConnectionString $Uri -Path "s3://$Bucket/crypt" -EncryptPassphrase $secret -SchemaOnly @S3Params
        $e.Name | Should -BeLike '*.sql.gz.gpg'
        (Test-PgBackup -Path $e.Path -Passphrase $secret @S3Params).Passed | Should -BeTrue
        $local = $e | Copy-PgBackup -Destination (Join-Path $Out 'crypt-copy') -Passphrase $secret
        $local.IsGood | Should -BeTrue
        $local.Encrypted | Should -BeTrue
        $p = New-PgBackup -ConnectionString $Uri -Path "s3://$Bucket/crypt" -SchemaOnly @S3Params | Protect-PgBackup -Passphrase $secret -Confirm:$false
        $p.Encrypted | Should -BeTrue
        $p.Path | Should -BeLike "s3://$Bucket/crypt/*.gpg"
        $u = $p | Unprotect-PgBackup -Passphrase $secret -Confirm:$false
        $u.Encrypted | Should -BeFalse
        (Test-PgBackup -Path $u.Path @S3Params).Passed | Should -BeTrue
        Get-TestS3Key -Server $S3 -Bucket $Bucket -Prefix 'crypt/' | Where-Object { $_ -like '*.partial' } | Should -BeNullOrEmpty
    }
}
