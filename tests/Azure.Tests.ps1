# Backups in Azure Blob Storage (Azurite, started by build.ps1): every cmdlet on a container, block streaming, long
# listings, errors that leave nothing, a connection cut mid-upload, encryption, retention, copies between folder, S3
# and Azure, credentials that never show, and the module's own Azure.Core beside another one.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    if (-not $Azure) { throw 'No test Azurite: run the tests with build.ps1 -Task Test (PGBACKUP_TEST_AZURE).' }
    $script:Db = New-TestDatabaseName 'az'
    New-TestDatabase -Server $Main -Name $Db -SqlFile $SampleSql
    $script:Uri = Get-TestPostgresUri -Server $Main -Database $Db
    $script:Fingerprint = Get-DatabaseFingerprint -Server $Main -Database $Db
    $script:Container = New-TestContainer -Server $Azure
    $script:Base = "az://$($Azure.Account)/$Container"
    $script:Out = New-TestFolder
    # What must never show: the account key and a SAS token's signature.
    $script:Sas = New-TestAzureSas -Server $Azure -Container $Container
    $script:SasParams = @{ AzureSasToken = (ConvertTo-SecureString $Sas -AsPlainText -Force); AzureEndpointUrl = $Azure.Endpoint }
    $script:Signature = [uri]::UnescapeDataString(($Sas -split '&' | Where-Object { $_ -like 'sig=*' }).Substring(4))
    foreach ($v in 'AZURE_STORAGE_CONNECTION_STRING', 'AZURE_STORAGE_SAS_TOKEN', 'AZURE_STORAGE_KEY') { Remove-Item "Env:$v" -ErrorAction SilentlyContinue }

    function Get-BackupLikeBlobs([string]$Container, [string]$Prefix = '') {
        @(Get-TestBlobName -Server $Azure -Container $Container -Prefix $Prefix | Where-Object { ($_ -split '/')[-1] -like 'backup_*' -or $_ -like '*backup_*/*' })
    }
    function Get-ErrorOf([scriptblock]$Script) {
        try { & $Script; $null } catch { $_ }
    }
    function Assert-NoSecret([string]$Text, [string]$Because) {
        $Text | Should -Not -Match ([regex]::Escape($Azure.AccountKey)) -Because $Because
        $Text | Should -Not -Match ([regex]::Escape($Signature)) -Because $Because
        $Text | Should -Not -Match ([regex]::Escape([uri]::EscapeDataString($Signature))) -Because $Because
    }

    # About 12 MiB of SQL without compression: three blocks of 5 MiB.
    $script:BigDb = New-TestDatabaseName 'azbig'
    New-TestDatabase -Server $Main -Name $BigDb -Sql "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS t FROM generate_series(1, 170000) g;"
}

AfterAll { Remove-TestFolder $Out }

Describe 'Azure Blob locations' {
    It 'every cmdlet that takes a location has the Azure parameters, and uploaders -AccessTier' {
        foreach ($name in 'New-PgBackup', 'Get-PgBackup', 'Restore-PgBackup', 'Test-PgBackup', 'Copy-PgBackup', 'Remove-PgBackup', 'Invoke-PgBackupRetention',
            'Protect-PgBackup', 'Unprotect-PgBackup', 'Export-PgBackupData') {
            $p = (Get-Command $name).Parameters
            foreach ($s in 'AzureSasToken', 'AzureConnectionString', 'AzureAccountKey') { $p[$s].ParameterType | Should -Be ([securestring]) -Because "$name -$s" }
            $p.Keys | Should -Contain 'AzureEndpointUrl'
        }
        foreach ($name in 'New-PgBackup', 'Copy-PgBackup') { (Get-Command $name).Parameters.Keys | Should -Contain 'AccessTier' }
    }

    It 'refuses invalid addresses with AzureInvalidUri, and an address carrying a SAS token without showing it' {
        { Get-PgBackup -Path 'az://Bad_Account/c/' -ErrorAction Stop } | Should -Throw -ErrorId 'AzureInvalidUri,PgBackup.Commands.GetPgBackupCommand'
        { New-PgBackup -ConnectionString $Uri -Path 'https://example.com/c/' } | Should -Throw -ErrorId 'AzureInvalidUri,PgBackup.Commands.NewPgBackupCommand'
        $err = Get-ErrorOf { Get-PgBackup -Path "https://$($Azure.Account).blob.core.windows.net/$Container/?$Sas" -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -Be 'AzureInvalidUri,PgBackup.Commands.GetPgBackupCommand'
        Assert-NoSecret ($err | Out-String) 'the error must not echo the SAS'
        Assert-NoSecret "$($err.TargetObject)" 'nor name it as its target'
    }

    It 'refuses -AccessTier Archive before anything runs, with a clear message' {
        $err = Get-ErrorOf { New-PgBackup -ConnectionString $Uri -Path "$Base/archive" -AccessTier Archive @AzureParams }
        $err.FullyQualifiedErrorId | Should -Be 'AzureAccessTierRefused,PgBackup.Commands.NewPgBackupCommand'
        $err.Exception.Message | Should -BeLike '*rehydrat*'
        Get-BackupLikeBlobs $Container 'archive/' | Should -BeNullOrEmpty
    }
}

Describe 'New-PgBackup to Azure' {
    It 'streams a backup larger than several blocks, committed at the end, manifest last, in the -AccessTier asked for' {
        $b = New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Main -Database $BigDb) -Path "$Base/big" -Compression None -S3PartSizeMB 5 `
            -S3UploadConcurrency 2 -AccessTier Cool @AzureParams
        $b.Status | Should -Be 'Complete'
        $b.Path | Should -Be "$Base/big/$($b.Name)"
        $b.Location | Should -Be "$Base/big/"
        $b.SizeBytes | Should -BeGreaterThan 11MB
        $c = Get-TestAzureContainer -Server $Azure -Name $Container
        $blocks = [Azure.Storage.Blobs.Specialized.SpecializedBlobExtensions]::GetBlockBlobClient($c, "big/$($b.Name)").GetBlockList([Azure.Storage.Blobs.Models.BlockListTypes]::All).Value
        @($blocks.CommittedBlocks).Count | Should -Be 3 -Because 'blocks of 5 MiB were staged as pg_dump wrote, and committed once'
        @($blocks.UncommittedBlocks).Count | Should -Be 0
        $c.GetBlobClient("big/$($b.Name)").GetProperties().Value.AccessTier | Should -Be 'Cool'
        $c.GetBlobClient("big/$($b.Name).json").GetProperties().Value.AccessTier | Should -Not -Be 'Cool' -Because 'manifests stay in the default tier'
        Get-TestBlobName -Server $Azure -Container $Container -Prefix 'big/' | Sort-Object | Should -Be (@("big/$($b.Name)", "big/$($b.Name).json") | Sort-Object)
        # Read back in ranges: the whole archive, the checksum, the rows.
        (Test-PgBackup -Path $b.Path @AzureParams).Passed | Should -BeTrue
    }

    It 'writes every format with a SAS token; lists, tests, drills and exports through the container; no secret anywhere' {
        $prefix = "$Base/formats"
        $all = @(New-PgBackup -ConnectionString $Uri -Path $prefix @SasParams -Verbose 4>&1)
        $verbose = @($all | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
        $plain = $all | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        $custom = New-PgBackup -ConnectionString $Uri -Path $prefix -Format Custom @SasParams
        $dir = New-PgBackup -ConnectionString $Uri -Path $prefix -Format Directory -Jobs 2 -AccessTier Cold @SasParams
        foreach ($b in $plain, $custom, $dir) { $b.Status | Should -Be 'Complete' }
        ($verbose -join "`n") | Should -Match '-AzureSasToken' -Because 'the verbose line says which credential was used'
        Assert-NoSecret ($verbose -join "`n") 'verbose lines'
        Get-TestBlobName -Server $Azure -Container $Container -Prefix "formats/$($dir.Name)/" | Should -Contain "formats/$($dir.Name)/toc.dat"
        (Get-TestAzureContainer -Server $Azure -Name $Container).GetBlobClient("formats/$($dir.Name)/toc.dat").GetProperties().Value.AccessTier | Should -Be 'Cold'
        (Get-TestAzureContainer -Server $Azure -Name $Container).GetBlobClient("formats/$($plain.Name)").GetProperties().Value.AccessTier | Should -Not -Be 'Cold'

        Get-TestBlobName -Server $Azure -Container $Container -Prefix 'formats/' | Where-Object { $_ -like '*.partial' } | Should -BeNullOrEmpty
        Assert-NoSecret ([System.Text.Encoding]::UTF8.GetString((Read-TestBlob -Server $Azure -Container $Container -Name "formats/$($plain.Name).json"))) 'the manifest'

        $list = @(Get-PgBackup -Path $prefix @SasParams)
        $list.Count | Should -Be 3
        $list | ForEach-Object { $_.Status | Should -Be 'Complete' }
        ($list | Where-Object Name -eq $dir.Name).SizeBytes | Should -Be $dir.SizeBytes
        Assert-NoSecret ($list | Select-Object * | Out-String -Width 500) 'listed objects'
        Assert-NoSecret ($list | ConvertTo-Json -Depth 6) 'listed objects as JSON'
        # Listed objects reach the container again without the SAS being given again.
        $results = $list | Test-PgBackup
        $results | ForEach-Object { $_.Passed | Should -BeTrue -Because ($_.Checks | Out-String) }
        ($list | Where-Object Name -eq $custom.Name | Test-PgBackup -Restore -ConnectionString $Uri).Passed | Should -BeTrue
        $rows = @($list | Where-Object Name -eq $plain.Name | Export-PgBackupData -Table users -ConnectionString $Uri)
        $rows.Count | Should -BeGreaterThan 0
    }

    It 'restores a <Format> backup from Azure, piped from Get-PgBackup' -ForEach @(
        @{ Format = 'Plain' }, @{ Format = 'Directory' }
    ) {
        $b = Get-PgBackup -Path "$Base/formats" @AzureParams | Where-Object Format -eq $Format | Select-Object -First 1
        $target = New-TestDatabaseName 'azrestore'
        $r = $b | Restore-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Main -Database $target) -CreateDatabase -Confirm:$false
        $r.Verified | Should -BeTrue
        Assert-SameDatabase -Expected $Fingerprint -Actual (Get-DatabaseFingerprint -Server $Main -Database $target)
    }

    It 'fails cleanly with a wrong key, a missing container, a read-only SAS and no credential at all, leaving nothing' {
        $wrongKey = [Convert]::ToBase64String([byte[]](1..64))
        $err = Get-ErrorOf { New-PgBackup -ConnectionString $Uri -Path "$Base/errors" -AzureAccountKey (ConvertTo-SecureString $wrongKey -AsPlainText -Force) -AzureEndpointUrl $Azure.Endpoint }
        $err.FullyQualifiedErrorId | Should -Be 'AzureAccessDenied,PgBackup.Commands.NewPgBackupCommand'
        "$err" | Should -Not -Match ([regex]::Escape($wrongKey))
        $err = Get-ErrorOf { Get-PgBackup -Path "$Base/errors" -AzureAccountKey (ConvertTo-SecureString $wrongKey -AsPlainText -Force) -AzureEndpointUrl $Azure.Endpoint -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -Be 'AzureAccessDenied,PgBackup.Commands.GetPgBackupCommand'

        $err = Get-ErrorOf { New-PgBackup -ConnectionString $Uri -Path "az://$($Azure.Account)/no-such-container-$([guid]::NewGuid().ToString('n').Substring(0, 8))/x" @AzureParams }
        $err.FullyQualifiedErrorId | Should -Be 'AzureContainerNotFound,PgBackup.Commands.NewPgBackupCommand'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'

        # A SAS that may list and read, not write.
        $readOnly = @{ AzureSasToken = (ConvertTo-SecureString (New-TestAzureSas -Server $Azure -Container $Container -Permissions 'rl') -AsPlainText -Force); AzureEndpointUrl = $Azure.Endpoint }
        @(Get-PgBackup -Path "$Base/errors" @readOnly).Count | Should -Be 0
        $err = Get-ErrorOf { New-PgBackup -ConnectionString $Uri -Path "$Base/errors" @readOnly }
        $err.FullyQualifiedErrorId | Should -Be 'AzureAccessDenied,PgBackup.Commands.NewPgBackupCommand'
        $err.CategoryInfo.Category | Should -Be 'PermissionDenied'
        Assert-NoSecret ($err | Out-String) 'the error of a denied write'

        # No key, SAS or connection string, in parameters or environment: DefaultAzureCredential, whose tokens go only
        # over https (Azurite here is plain http); the error names it, and nothing was tried.
        $err = Get-ErrorOf { New-PgBackup -ConnectionString $Uri -Path "$Base/errors" -AzureEndpointUrl $Azure.Endpoint }
        $err.FullyQualifiedErrorId | Should -Be 'AzureAccessDenied,PgBackup.Commands.NewPgBackupCommand'
        $err.Exception.Message | Should -BeLike '*DefaultAzureCredential*'
        Get-BackupLikeBlobs $Container 'errors/' | Should -BeNullOrEmpty
        Get-PgDumpProcess $Db | Should -BeNullOrEmpty
    }

    It 'takes the credential from AZURE_STORAGE_CONNECTION_STRING, and refuses one of another account' {
        $env:AZURE_STORAGE_CONNECTION_STRING = $Azure.ConnectionString
        try {
            $all = @(New-PgBackup -ConnectionString $Uri -Path "$Base/fromenv" -SchemaOnly -Verbose 4>&1)
            $b = $all | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
            $b.Status | Should -Be 'Complete'
            ($all | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message | Out-String) | Should -Match 'AZURE_STORAGE_CONNECTION_STRING'
            Assert-NoSecret ($all | Out-String) 'verbose lines'
            $err = Get-ErrorOf { Get-PgBackup -Path "az://otheraccount1/$Container/" -ErrorAction Stop }
            $err.FullyQualifiedErrorId | Should -Be 'InvalidParameter,PgBackup.Commands.GetPgBackupCommand'
            Assert-NoSecret ($err | Out-String) 'the error'
        }
        finally { Remove-Item Env:AZURE_STORAGE_CONNECTION_STRING }
    }

    # On the net8.0 build only: the same engine code on both builds, and most of its 25 s are the SDK's retry back-off
    # (the suite's budget). A cut connection on the netstandard2.0 build's SDK is exercised by the download cut below.
    It 'an upload cut off mid-way fails with AzureUploadFailed and leaves nothing that looks like a backup' -Skip:($env:PGBACKUP_TEST_FRAMEWORK -ne 'net8.0') {
        Add-Type -Path (Join-Path $PSScriptRoot 'harness/CutProxy.cs')
        $proxy = [PgBackup.TestHarness.CutProxy]::new('127.0.0.1', $Azure.Port)
        $proxy.CutUploadAfterBytes = 3MB
        try {
            $err = Get-ErrorOf {
                New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Main -Database $BigDb) -Path "$Base/cut" -Compression None -S3PartSizeMB 5 `
                    -AzureAccountKey $AzureParams.AzureAccountKey -AzureEndpointUrl "$($proxy.Url)/$($Azure.Account)"
            }
            $err.FullyQualifiedErrorId | Should -Be 'AzureUploadFailed,PgBackup.Commands.NewPgBackupCommand'
            $err.CategoryInfo.Category | Should -Be 'ConnectionError'
            $proxy.Cuts | Should -BeGreaterThan 0
            Get-BackupLikeBlobs $Container 'cut/' | Should -BeNullOrEmpty -Because 'staged blocks are never committed, and the marker was removed'
            Get-PgDumpProcess $BigDb | Should -BeNullOrEmpty
        }
        finally { $proxy.Dispose() }
    }

    It 'Ctrl+C stops the upload and leaves nothing' {
        $lock = Start-TableLock -Server $Main -Database $Db -Table 'public.users'
        try {
            $job = Start-AsyncPipeline -Script { param($u, $b, $p) New-PgBackup -ConnectionString $u -Path "$b/stopped" @p } -Arguments $Uri, $Base, $AzureParams
            Wait-PgDumpWaiting -Server $Main -Database $Db
            Get-TestBlobName -Server $Azure -Container $Container -Prefix 'stopped/' | Should -BeLike '*.partial' -Because 'the marker says: being written'
            $job.PowerShell.Stop()
            Get-BackupLikeBlobs $Container 'stopped/' | Should -BeNullOrEmpty
        }
        finally { Stop-TableLock $lock; Stop-AsyncPipeline $job }
    }

    It 'a download cut off mid-way resumes where it stopped (Test-PgBackup of the large backup)' {
        $big = Get-PgBackup -Path "$Base/big" @AzureParams
        Add-Type -Path (Join-Path $PSScriptRoot 'harness/CutProxy.cs')
        $proxy = [PgBackup.TestHarness.CutProxy]::new('127.0.0.1', $Azure.Port)
        $proxy.CutDownloadAfterBytes = 2MB
        $proxy.DownloadCuts = 1
        try {
            $t = Test-PgBackup -Path $big.Path -AzureAccountKey $AzureParams.AzureAccountKey -AzureEndpointUrl "$($proxy.Url)/$($Azure.Account)"
            $t.Passed | Should -BeTrue -Because ($t.Checks | Out-String)
            $proxy.Cuts | Should -Be 1
        }
        finally { $proxy.Dispose() }
    }

    It 'lists past 5,000 blobs (several pages)' {
        $many = New-TestContainer -Server $Azure -Prefix 'many'
        $names = 0..5010 | ForEach-Object { 'p/backup_app_{0:yyyyMMdd_HHmmss}.sql.gz' -f ([datetime]'2025-01-01').AddMinutes($_) }
        # Blobs whose names would leave the store, or that Windows could not hold, are never listed.
        $hostile = 'p/backup_app_20250101_000001.sql.gz\..\..\evil', "p/backup_app_20250101_000002.sql.gz`t"
        Write-TestBlob -Server $Azure -Container $many -Name ($names + $hostile + 'p/notes.txt') -Text ('x' * 30)
        $real = New-PgBackup -ConnectionString $Uri -Path "az://$($Azure.Account)/$many/p" -SchemaOnly @AzureParams
        $list = @(Get-PgBackup -Path "az://$($Azure.Account)/$many/p" @AzureParams)
        $list.Count | Should -Be ($names.Count + 1)
        $list[0].Name | Should -Be $real.Name
    }
}

Describe 'Copies, retention, removal and encryption on a container' {
    It 'copies folder -> Azure -> S3 -> Azure -> folder, SHA-256 checked, manifest last' {
        $local = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'copies') -Format Custom
        $bucket = New-TestBucket -Server $S3 -Prefix 'fromazure'
        $second = New-TestContainer -Server $Azure -Prefix 'second'
        $up = $local | Copy-PgBackup -Destination "$Base/copies" @AzureParams
        $up.Status | Should -Be 'Complete'
        $up.Path | Should -Be "$Base/copies/$($up.Name)"
        # Azure to S3: the piped object keeps its Azure key; the S3 parameters are the destination's.
        $toS3 = $up | Copy-PgBackup -Destination "s3://$bucket/pg" @S3Params
        $toS3.Sha256 | Should -Be $local.Sha256
        # S3 to Azure (another container), by path, with both stores' parameters.
        $back = Copy-PgBackup -Path $toS3.Path -Destination "az://$($Azure.Account)/$second/pg" @S3Params @AzureParams
        $back.Status | Should -Be 'Complete'
        $back.Sha256 | Should -Be $local.Sha256
        # Azure to folder.
        $down = $back | Copy-PgBackup -Destination (Join-Path $Out 'down')
        $down.Path | Should -Be (Join-Path $Out "down/$($local.Name)")
        Test-Path "$($down.Path).json" | Should -BeTrue
        (Test-PgBackup -Path $down.Path).Passed | Should -BeTrue
        # Twice is refused; -Force replaces.
        { $local | Copy-PgBackup -Destination "$Base/copies" @AzureParams -ErrorAction Stop } | Should -Throw -ErrorId 'BackupExists,PgBackup.Commands.CopyPgBackupCommand'
        ($local | Copy-PgBackup -Destination "$Base/copies" -Force @AzureParams).Status | Should -Be 'Complete'
        Get-TestBlobName -Server $Azure -Container $second | Where-Object { $_ -like '*.partial' } | Should -BeNullOrEmpty
    }

    It 'copies container to container with a SAS token for each (-DestinationAzureSasToken); with the source''s alone it writes nothing' {
        $source = New-TestContainer -Server $Azure -Prefix 'sassrc'
        $dest = New-TestContainer -Server $Azure -Prefix 'sasdst'
        $sourceSas = ConvertTo-SecureString (New-TestAzureSas -Server $Azure -Container $source) -AsPlainText -Force
        $destText = New-TestAzureSas -Server $Azure -Container $dest
        $destSas = ConvertTo-SecureString $destText -AsPlainText -Force
        $destSignature = [uri]::UnescapeDataString(($destText -split '&' | Where-Object { $_ -like 'sig=*' }).Substring(4))
        $b = New-PgBackup -ConnectionString $Uri -Path "az://$($Azure.Account)/$source/pg" -AzureSasToken $sourceSas -AzureEndpointUrl $Azure.Endpoint
        # A container SAS reaches its own container only: the source's token cannot write to the destination.
        $err = Get-ErrorOf { Copy-PgBackup -Path $b.Path -Destination "az://$($Azure.Account)/$dest/pg" -AzureSasToken $sourceSas -AzureEndpointUrl $Azure.Endpoint -ErrorAction Stop }
        "$($err.FullyQualifiedErrorId)" | Should -Match '^Azure\w+,PgBackup.Commands.CopyPgBackupCommand$'
        @(Get-TestBlobName -Server $Azure -Container $dest).Count | Should -Be 0
        $all = @(Copy-PgBackup -Path $b.Path -Destination "az://$($Azure.Account)/$dest/pg" -AzureSasToken $sourceSas -AzureEndpointUrl $Azure.Endpoint `
                -DestinationAzureSasToken $destSas -DestinationAzureEndpointUrl $Azure.Endpoint -Verbose 4>&1)
        $copy = $all | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        $copy.Status | Should -Be 'Complete'
        $copy.Sha256 | Should -Be $b.Sha256
        (Get-PgBackup -Path "az://$($Azure.Account)/$dest/pg/" -AzureSasToken $destSas -AzureEndpointUrl $Azure.Endpoint).Name | Should -Be $b.Name
        $text = ($all | ForEach-Object { "$_" }) -join "`n"
        $text + "`n$err" | Should -Not -Match ([regex]::Escape($destSignature))
    }

    It 'Invoke-PgBackupRetention plans over a container and removes through Azure; a blob it cannot remove is an error for that backup only' {
        $prefix = "$Base/retention"
        $guide = Join-Path $Out 'retention-guide.sql.gz'
        & bash -c "PGPASSWORD='$($Main.Password)' pg_dump -h 127.0.0.1 -p $($Main.Port) -U postgres --schema-only $Db | gzip > '$guide'"
        $old = '20240101_030000', '20240102_030000', '20240103_030000' | ForEach-Object { "retention/backup_${Db}_$_.sql.gz" }
        Write-TestBlob -Server $Azure -Container $Container -Name $old -File $guide
        $new = 1..2 | ForEach-Object { New-PgBackup -ConnectionString $Uri -Path $prefix -SchemaOnly @AzureParams }
        # A lease on the oldest stands for a blob that cannot be deleted now (as an immutability policy would).
        $c = Get-TestAzureContainer -Server $Azure -Name $Container
        $lease = [Azure.Storage.Blobs.Specialized.SpecializedBlobExtensions]::GetBlobLeaseClient($c.GetBlobClient($old[0]), $null)
        $null = $lease.Acquire([TimeSpan]::FromSeconds(-1))
        try {
            $plan = Invoke-PgBackupRetention -Path $prefix -KeepLast 3 -Confirm:$false @AzureParams -ErrorAction SilentlyContinue -ErrorVariable failures
        }
        finally { $null = $lease.Release() }
        @($plan | Where-Object Action -eq 'Remove').Count | Should -Be 2
        @($failures).Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'Azure*,PgBackup.Commands.InvokePgBackupRetentionCommand'
        $blobs = @(Get-TestBlobName -Server $Azure -Container $Container -Prefix 'retention/')
        $blobs | Should -Contain $old[0]
        $blobs | Should -Not -Contain $old[1]
        $blobs | Should -Contain $old[2]
        foreach ($b in $new) { $blobs | Should -Contain "retention/$($b.Name)"; $blobs | Should -Contain "retention/$($b.Name).json" }

        $left = @(Get-PgBackup -Path $prefix @AzureParams)
        Remove-PgBackup -Path $left[0].Path -Confirm:$false @AzureParams
        $left | Select-Object -Skip 1 | Remove-PgBackup -Confirm:$false
        Get-TestBlobName -Server $Azure -Container $Container -Prefix 'retention/' | Should -BeNullOrEmpty
        Write-TestBlob -Server $Azure -Container $Container -Name 'retention/notes.txt'
        { Remove-PgBackup -Path "$prefix/notes.txt" -Confirm:$false @AzureParams -ErrorAction Stop } | Should -Throw -ErrorId 'NotABackup,PgBackup.Commands.RemovePgBackupCommand'
    }

    It 'encrypts and signs in the stream to Azure; Protect-/Unprotect-PgBackup work on a container' {
        $secret = ConvertTo-SecureString 'correct horse battery' -AsPlainText -Force
        $savedHome = $env:GNUPGHOME
        Use-TestGpgHome (Join-Path $Out 'gnupg')
        try { New-TestGpgKey -Name signer -Algorithm future-default -Passphrase 'signer pass' -Folder $Out }
        finally { $env:GNUPGHOME = $savedHome }
        $sign = @{ SigningKey = (Join-Path $Out 'signer.sec.asc'); SigningKeyPassphrase = (ConvertTo-SecureString 'signer pass' -AsPlainText -Force) }
        $e = New-PgBackup -ConnectionString $Uri -Path "$Base/crypt" -EncryptPassphrase $secret @sign -SchemaOnly @AzureParams
        $e.Name | Should -BeLike '*.sql.gz.gpg'
        Get-TestBlobName -Server $Azure -Container $Container -Prefix 'crypt/' | Should -Contain "crypt/$($e.Name).json.sig"
        (Test-PgBackup -Path $e.Path -Passphrase $secret -VerifyKey (Join-Path $Out 'signer.pub.asc') @AzureParams).Passed | Should -BeTrue
        $p = New-PgBackup -ConnectionString $Uri -Path "$Base/crypt" -SchemaOnly @AzureParams | Protect-PgBackup -Passphrase $secret -Confirm:$false
        $p.Encrypted | Should -BeTrue
        $p.Path | Should -BeLike "$Base/crypt/*.gpg"
        $u = $p | Unprotect-PgBackup -Passphrase $secret -Confirm:$false
        $u.Encrypted | Should -BeFalse
        (Test-PgBackup -Path $u.Path @AzureParams).Passed | Should -BeTrue
        Get-TestBlobName -Server $Azure -Container $Container -Prefix 'crypt/' | Where-Object { $_ -like '*.partial' } | Should -BeNullOrEmpty
    }
}

Describe 'Isolation from the Az modules' {
    It 'works after another Azure.Core was loaded into the default context' {
        $probe = Join-Path $RepoRoot 'output/test-fixtures/OtherAzureCore/OtherAzureCore.dll'
        Test-Path $probe | Should -BeTrue -Because 'build.ps1 -Task Test builds tests/fixtures/OtherAzureCore'
        $script = @"
`$ErrorActionPreference = 'Stop'
Add-Type -Path '$probe'
`$other = [OtherAzureCore.Probe]::Load()
$(Get-TestModuleImport)
`$key = ConvertTo-SecureString '$($Azure.AccountKey)' -AsPlainText -Force
`$b = New-PgBackup -ConnectionString '$Uri' -Path '$Base/isolation' -SchemaOnly -AzureAccountKey `$key -AzureEndpointUrl '$($Azure.Endpoint)'
`$loaded = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'Azure.Core' } | ForEach-Object {
    [pscustomobject]@{ Version = `$_.GetName().Version.ToString(); Context = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext(`$_).Name }
}
[pscustomobject]@{ Other = `$other; Status = "`$(`$b.Status)"; AzureCore = @(`$loaded) } | ConvertTo-Json -Depth 4 -Compress
"@
        $out = Invoke-ChildPwsh $script
        $json = ($out -split "`n" | Where-Object { $_ -like '{*' } | Select-Object -Last 1)
        $json | Should -Not -BeNullOrEmpty -Because $out
        $r = $json | ConvertFrom-Json
        $r.Other | Should -BeLike '1.53.*'
        $r.Status | Should -Be 'Complete'
        @($r.AzureCore).Count | Should -Be 2
        ($r.AzureCore | Where-Object Context -eq 'PgBackup').Version | Should -Not -BeLike '1.53.*'
        ($r.AzureCore | Where-Object Context -eq 'Default').Version | Should -BeLike '1.53.*'
    }
}
