# Everything read from storage or a catalog is hostile: names from manifests and listings stay inside their store,
# catalog text reaches SQL only quoted, and signed backups are checked before anything is touched.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    $script:Db = New-TestDatabaseName 'sec'
    New-TestDatabase -Server $Main -Name $Db -SqlFile $SampleSql
    $script:Uri = Get-TestPostgresUri -Server $Main -Database $Db
    $script:Out = New-TestFolder
    $script:Pass = ConvertTo-SecureString 'sec-pass' -AsPlainText -Force

    # Backups the hostile copies are made from: Plain with the roles saved beside it, and Directory.
    $script:Templates = Join-Path $Out 'templates'
    $script:PlainTemplate = New-PgBackup -ConnectionString $Uri -Path $Templates -Globals
    $script:DirTemplate = New-PgBackup -ConnectionString $Uri -Path $Templates -Format Directory

    # Outside every store: a sentinel whose bytes and time must never change, and that nothing may copy.
    $script:Outside = Join-Path $Out 'outside'
    New-Item -ItemType Directory $Outside | Out-Null
    $script:Marker = 'SENTINEL-' + [guid]::NewGuid().ToString('n')
    $script:Sentinel = Join-Path $Outside 'sentinel.txt'
    Set-Content -Path $Sentinel -Value $Marker -NoNewline
    $script:SentinelTime = [datetime]::new(2020, 1, 1, 0, 0, 0, [DateTimeKind]::Utc)
    (Get-Item $Sentinel).LastWriteTimeUtc = $SentinelTime

    function Assert-SentinelUntouched {
        Get-Content -Raw $Sentinel | Should -Be $Marker
        (Get-Item $Sentinel).LastWriteTimeUtc | Should -Be $SentinelTime
        @(Get-ChildItem $Outside -Force).Name | Should -Be @('sentinel.txt')
        $copies = @(Get-ChildItem $Out -Recurse -File -Force | Where-Object { $_.FullName -ne $Sentinel -and $_.Length -lt 1MB } |
                Where-Object { (Get-Content -Raw $_.FullName -ErrorAction SilentlyContinue) -match $Marker })
        @($copies | ForEach-Object FullName) | Should -BeNullOrEmpty -Because 'no file outside the store was read into a store'
    }

    function New-HostileStore([string]$Case, $Template, [scriptblock]$Doctor) {
        # A store holding a copy of the template backup (its files renamed to a time long ago, so that retention may
        # remove it) whose manifest $Doctor changes (it gets the manifest as an object and returns the text to
        # write), and an innocent backup of another database, which nothing may remove.
        $store = Join-Path $Out "store-$Case"
        New-Item -ItemType Directory $store | Out-Null
        $stem = $Template.Name -replace '\.(sql\.gz|dir)$', ''
        $old = "backup_$($Db)_20200101_000000"
        foreach ($f in Get-ChildItem $Templates -Force | Where-Object Name -like "$stem.*") {
            Copy-Item $f.FullName -Destination (Join-Path $store ($f.Name.Replace($stem, $old))) -Recurse
        }
        Copy-Item $PlainTemplate.Path (Join-Path $store 'backup_other_20240101_000000.sql.gz')
        $name = $Template.Name.Replace($stem, $old)
        $manifest = Join-Path $store "$name.json"
        Set-Content -Path $manifest -Value (& $Doctor (Get-Content -Raw $manifest | ConvertFrom-Json)) -NoNewline
        Join-Path $store $name
    }
}

AfterAll {
    Remove-TestFolder $Out
}

Describe 'Hostile storage: names stay inside their store' {
    It 'every cmdlet that reads a backup whose manifest <Case> refuses it (<ErrorId>) and touches nothing outside its store' -ForEach @(
        @{ Case = 'names an absolute roles file'; ErrorId = 'UnsafeName'; Template = 'Plain'; Doctor = { param($m) $m.globals.name = $Sentinel; $m | ConvertTo-Json -Depth 10 } }
        @{ Case = 'names an absolute roles file, with no checksum'; ErrorId = 'ManifestInvalid'; Template = 'Plain'; Doctor = { param($m) $m.globals.name = $Sentinel; $m.globals.sha256 = ''; $m | ConvertTo-Json -Depth 10 } }
        @{ Case = 'names a roles file up the tree'; ErrorId = 'UnsafeName'; Template = 'Plain'; Doctor = { param($m) $m.globals.name = '../../outside/sentinel.txt'; $m | ConvertTo-Json -Depth 10 } }
        @{ Case = 'names a roles file with backslashes'; ErrorId = 'UnsafeName'; Template = 'Plain'; Doctor = { param($m) $m.globals.name = '..\..\outside\sentinel.txt'; $m | ConvertTo-Json -Depth 10 } }
        @{ Case = 'names a drive letter'; ErrorId = 'UnsafeName'; Template = 'Plain'; Doctor = { param($m) $m.globals.name = 'C:\Windows\win.ini'; $m | ConvertTo-Json -Depth 10 } }
        @{ Case = 'names a UNC path'; ErrorId = 'UnsafeName'; Template = 'Plain'; Doctor = { param($m) $m.globals.name = '\\server\share\sentinel.txt'; $m | ConvertTo-Json -Depth 10 } }
        @{ Case = 'names a file with a NUL'; ErrorId = 'UnsafeName'; Template = 'Plain'; Doctor = { param($m) $m.globals.name = "backup_x`0.globals.sql"; $m | ConvertTo-Json -Depth 10 } }
        @{ Case = 'names another backup as its roles file'; ErrorId = 'UnsafeName'; Template = 'Plain'; Doctor = { param($m) $m.globals.name = 'backup_other_20240101_000000.sql.gz'; $m | ConvertTo-Json -Depth 10 } }
        @{ Case = 'names a Directory file up the tree'; ErrorId = 'UnsafeName'; Template = 'Directory'; Doctor = { param($m) $m.files[0].name = '../../../outside/sentinel.txt'; $m | ConvertTo-Json -Depth 10 } }
        @{ Case = 'is truncated'; ErrorId = 'ManifestInvalid'; Template = 'Plain'; Doctor = { param($m) ($m | ConvertTo-Json -Depth 10).Substring(0, 200) } }
        @{ Case = 'has wrongly typed fields'; ErrorId = 'ManifestInvalid'; Template = 'Plain'; Doctor = { param($m) $m.sizeBytes = 'big'; $m | ConvertTo-Json -Depth 10 } }
        @{ Case = 'has null where a list belongs'; ErrorId = 'ManifestInvalid'; Template = 'Plain'; Doctor = { param($m) $m.tables = $null; $m | ConvertTo-Json -Depth 10 } }
    ) {
        $template = if ($Template -eq 'Plain') { $PlainTemplate } else { $DirTemplate }
        $path = New-HostileStore ($Case -replace '\W', '-') $template $Doctor
        $store = Split-Path $path
        $name = Split-Path -Leaf $path
        $cmdlet = 'PgBackup.Commands'

        $errors = @()
        $listed = Get-PgBackup -Path $store -ErrorVariable errors -ErrorAction SilentlyContinue | Where-Object Name -eq $name
        $listed.Status | Should -Be 'Incomplete'
        $listed.StatusDetail | Should -Match 'manifest cannot be read'
        $errors[0].FullyQualifiedErrorId | Should -Be "$ErrorId,$cmdlet.GetPgBackupCommand"

        $errors = @()
        $t = Test-PgBackup -Path $path -ErrorVariable errors -ErrorAction SilentlyContinue
        $t.Passed | Should -BeFalse
        $errors[0].FullyQualifiedErrorId | Should -Be "$ErrorId,$cmdlet.TestPgBackupCommand"
        { Restore-PgBackup -Path $path -ConnectionString $Uri -TargetDatabase (New-TestDatabaseName 'hostile') -CreateDatabase -CreateRoles -Confirm:$false } |
            Should -Throw -ErrorId "$ErrorId,$cmdlet.RestorePgBackupCommand"
        { Export-PgBackupData -Path $path -ConnectionString $Uri -Table t } | Should -Throw -ErrorId "$ErrorId,$cmdlet.ExportPgBackupDataCommand"
        { Copy-PgBackup -Path $path -Destination (Join-Path $Out "copy-$($Case -replace '\W', '-')") -ErrorAction Stop } | Should -Throw -ErrorId "$ErrorId,$cmdlet.CopyPgBackupCommand"
        { Protect-PgBackup -Path $path -Passphrase $Pass -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId "$ErrorId,$cmdlet.ProtectPgBackupCommand"
        { Unprotect-PgBackup -Path $path -Passphrase $Pass -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId "$ErrorId,$cmdlet.UnprotectPgBackupCommand"
        Assert-SentinelUntouched

        # Removing it (by hand, or retention's -RemoveIncomplete) removes its own files, never what its manifest names.
        $before = @(Get-ChildItem $store -Force).Name | Where-Object { $_ -notlike "$name*" } | Sort-Object
        if ($Case -like 'names another*') { Remove-PgBackup -Path $path -Confirm:$false }
        else { Invoke-PgBackupRetention -Path $store -KeepLast 1 -RemoveIncomplete -Confirm:$false -WarningAction SilentlyContinue | Out-Null }
        @(Get-ChildItem $store -Force).Name | Where-Object { $_ -like "$name*" } | Should -BeNullOrEmpty
        @(Get-ChildItem $store -Force).Name | Sort-Object | Should -Be $before
        Assert-SentinelUntouched
    }

    It 'refuses a Directory backup in a bucket whose manifest names a file up the tree; nothing is downloaded' {
        $bucket = New-TestBucket -Server $S3 -Prefix 'hostile'
        $b = New-PgBackup -ConnectionString $Uri -Path "s3://$bucket/pg/" -Format Directory @S3Params
        $manifest = [Text.Encoding]::UTF8.GetString((Get-TestS3Object -Server $S3 -Bucket $bucket -Key "pg/$($b.Name).json").Bytes) | ConvertFrom-Json
        $manifest.files[0].name = '../../../../outside/sentinel.txt'
        Write-TestS3Object -Server $S3 -Bucket $bucket -Key "pg/$($b.Name).json" -Text ($manifest | ConvertTo-Json -Depth 10)
        # A temporary folder of this test's own (other processes on the machine make pgbackup-* folders in /tmp too).
        $temp = New-Item -ItemType Directory (Join-Path $Out 'hostile-tmp')
        $oldTmp = $env:TMPDIR
        $env:TMPDIR = $temp.FullName
        try {
            { Restore-PgBackup -Path $b.Path -ConnectionString $Uri -TargetDatabase (New-TestDatabaseName 'hostile') -CreateDatabase -Confirm:$false @S3Params } |
                Should -Throw -ErrorId 'UnsafeName,PgBackup.Commands.RestorePgBackupCommand'
            { Copy-PgBackup -Path $b.Path -Destination (Join-Path $Out 'from-s3') -ErrorAction Stop @S3Params } |
                Should -Throw -ErrorId 'UnsafeName,PgBackup.Commands.CopyPgBackupCommand'
        }
        finally { $env:TMPDIR = $oldTmp }
        @(Get-ChildItem $temp -Force -Recurse) | Should -BeNullOrEmpty -Because 'nothing was downloaded'
        Assert-SentinelUntouched
    }
}

Describe 'Catalog text reaches SQL only quoted' {
    It 'a role''s own search_path crafted to end the statement does not make it superuser when a superuser restores; the settings arrive intact' {
        $app = New-TestDatabaseName 'inj'
        $me = New-TestDatabaseName 'me'
        New-TestDatabase -Server $Main -Name $app -SqlFile $SampleSql
        $mePass = 'pw-' + [guid]::NewGuid().ToString('n')
        Invoke-TestPsql -Server $Main -Sql "CREATE ROLE $me LOGIN PASSWORD '$mePass'; GRANT CONNECT ON DATABASE $app TO $me;" | Out-Null
        # As the role itself (no superuser, no CREATEROLE): a search_path that ends the ALTER ROLE and adds another.
        $asMe = [pscustomobject]@{ Port = $Main.Port; User = $me; Password = $mePass }
        $planted = "public;ALTER/**/ROLE/**/$me/**/SUPERUSER;--"
        Invoke-TestPsql -Server $asMe -Database $app -Sql "SELECT set_config('search_path', '$planted', false); ALTER ROLE $me IN DATABASE $app SET search_path FROM CURRENT;" | Out-Null
        # And a database setting with braces, quotes, a backslash, a semicolon and letters beyond ASCII.
        Invoke-TestPsql -Server $Main -Sql "ALTER DATABASE $app SET app.note TO E'it''s {0} {\\} `"q`"; DROP ROLE x; ünï';" | Out-Null
        $settingsSql = "SELECT coalesce(s.setrole::regrole::text, '-') || ' ' || s.setconfig::text FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = '$app' ORDER BY 1;"
        $before = Invoke-TestPsql -Server $Main -Sql $settingsSql
        ($before -join "`n") | Should -BeLike "*search_path=$planted*"
        ($before -join "`n") | Should -BeLike '*it''s {0} {\\} \"q\"; DROP ROLE x; ünï*'

        $r = Restore-PgBackup -Path $PlainTemplate.Path -ConnectionString (Get-TestPostgresUri -Server $Main -Database $app) -Force -Confirm:$false -WarningVariable warnings
        $r.Mode | Should -Be 'Replaced'
        Invoke-TestPsql -Server $Main -Sql "SELECT rolsuper FROM pg_roles WHERE rolname = '$me';" | Should -Be 'f'
        Invoke-TestPsql -Server $Main -Sql $settingsSql | Should -Be $before
        @($warnings) | Should -BeNullOrEmpty
        @(Get-DatabaseNames -Server $Main | Where-Object { $_ -like "${app}_pgbackup_*" }) | Should -BeNullOrEmpty
    }

    It 'a role setting whose value holds a line that reads like CREATE ROLE creates no role when roles are restored (-CreateRoles)' {
        $me = New-TestDatabaseName 'me'
        $evil = New-TestDatabaseName 'evil'
        $db = New-TestDatabaseName 'globals'
        New-TestDatabase -Server $Main -Name $db -Sql 'CREATE TABLE t (a int); INSERT INTO t VALUES (1);'
        $mePass = 'pw-' + [guid]::NewGuid().ToString('n')
        Invoke-TestPsql -Server $Main -Sql "CREATE ROLE $me LOGIN PASSWORD '$mePass';" | Out-Null
        # The role's own setting: pg_dumpall writes the value as one literal over three lines, the middle one a statement.
        $asMe = [pscustomobject]@{ Port = $Main.Port; User = $me; Password = $mePass }
        Invoke-TestPsql -Server $asMe -Database $db -Sql "ALTER ROLE $me SET search_path TO 'a', E'\nCREATE ROLE $evil SUPERUSER;\n';" | Out-Null
        $settingSql = "SELECT array_to_string(setconfig, '|') FROM pg_db_role_setting WHERE setrole = (SELECT oid FROM pg_roles WHERE rolname = '$me');"
        $before = (Invoke-TestPsql -Server $Main -Sql $settingSql) -join "`n"
        $b = New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Main -Database $db) -Path (Join-Path $Out 'globals-injection') -Format Custom -Globals
        $new = $Servers.New
        $r = $b | Restore-PgBackup -ConnectionString (Get-TestPostgresUri -Server $new -Database $db) -CreateDatabase -CreateRoles -Confirm:$false
        $r.RolesCreated | Should -Contain $me
        $r.RolesCreated | Should -Not -Contain $evil
        Invoke-TestPsql -Server $new -Sql "SELECT count(*) FROM pg_roles WHERE rolname = '$evil';" | Should -Be '0'
        ((Invoke-TestPsql -Server $new -Sql $settingSql) -join "`n") | Should -Be $before
    }
}

Describe 'Signed backups' {
    BeforeAll {
        # A throw-away gpg home: the signer's ed25519 key and RSA key (both with a passphrase), and another signer.
        $script:KeyPassText = 'sign-pass-7'
        $script:KeyPass = ConvertTo-SecureString $KeyPassText -AsPlainText -Force
        Use-TestGpgHome (Join-Path $Out 'gnupg')
        New-TestGpgKey -Name signer -Algorithm future-default -Passphrase $KeyPassText -Folder $Out
        New-TestGpgKey -Name rsa -Algorithm rsa2048 -Passphrase $KeyPassText -Folder $Out
        New-TestGpgKey -Name other -Algorithm future-default -Passphrase $KeyPassText -Folder $Out
        $script:Pub = Join-Path $Out 'signer.pub.asc'
        $script:Sign = @{ SigningKey = (Join-Path $Out 'signer.sec.asc'); SigningKeyPassphrase = $KeyPass }
        function Test-GpgVerify([string]$Manifest) {
            $out = & gpg --batch --no-tty --verify "$Manifest.sig" $Manifest 2>&1
            [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($out -join "`n") }
        }

        $script:Target = New-TestDatabaseName 'sigtarget'
        New-TestDatabase -Server $Main -Name $Target -Sql 'CREATE TABLE keep_me (x int); INSERT INTO keep_me VALUES (1);'
        $script:TargetUri = Get-TestPostgresUri -Server $Main -Database $Target
        $script:Signed = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'signed-template') -Format Custom @Sign
    }

    AfterAll { Remove-Item Env:GNUPGHOME -ErrorAction SilentlyContinue }

    It 'PgBackup signs with an <Who> key (<Engine> engine); gpg --verify accepts the signature, and so does -VerifyKey' -ForEach @(@{ Who = 'signer'; Engine = 'PgDump' }, @{ Who = 'rsa'; Engine = 'Native' }) {
        $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out "signs-$Who") -Engine $Engine -SchemaOnly -SigningKey (Join-Path $Out "$Who.sec.asc") -SigningKeyPassphrase $KeyPass
        $b.Signed | Should -BeTrue
        $b.Engine | Should -Be $Engine
        $v = Test-GpgVerify "$($b.Path).json"
        $v.ExitCode | Should -Be 0 -Because $v.Output
        $v.Output | Should -Match "Good signature from `"$Who"
        $listed = Get-PgBackup -Path (Split-Path $b.Path) -VerifyKey (Join-Path $Out "$Who.pub.asc")
        $listed.Signed | Should -BeTrue
        $listed.SignatureValid | Should -BeTrue
        (Get-PgBackup -Path (Split-Path $b.Path)).SignatureValid | Should -BeNullOrEmpty -Because 'without -VerifyKey nothing is checked'
        ($b | Test-PgBackup -VerifyKey (Join-Path $Out "$Who.pub.asc")).Passed | Should -BeTrue
    }

    It 'accepts a manifest signed by gpg --detach-sign (binary, then armored) and restores the backup' {
        $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'gpg-signed')
        $b.Signed | Should -BeFalse
        Invoke-Gpg @('--local-user', 'signer@example.com', '--passphrase', $KeyPassText, '--detach-sign', "$($b.Path).json") | Out-Null
        (Get-PgBackup -Path (Split-Path $b.Path) -VerifyKey $Pub).SignatureValid | Should -BeTrue
        $db = New-TestDatabaseName 'gpgsigned'
        $r = $b | Restore-PgBackup -ConnectionString $Uri -TargetDatabase $db -CreateDatabase -VerifyKey $Pub -Confirm:$false
        $r.Verified | Should -BeTrue
        Invoke-Gpg @('--local-user', 'signer@example.com', '--passphrase', $KeyPassText, '--armor', '--output', "$($b.Path).json.sig", '--detach-sign', "$($b.Path).json") | Out-Null
        (Get-Content -Raw "$($b.Path).json.sig") | Should -Match 'BEGIN PGP SIGNATURE'
        ($b | Test-PgBackup -VerifyKey $Pub).Passed | Should -BeTrue
    }

    It 'refuses a backup whose <Case> (<ErrorId>) in every reader under -VerifyKey, and touches nothing' -ForEach @(
        @{ Case = 'manifest was changed'; ErrorId = 'SignatureInvalid'; Doctor = { param($path) $m = Get-Content -Raw "$path.json" | ConvertFrom-Json; $m.tables[0].rows = 99; $m | ConvertTo-Json -Depth 10 | Set-Content "$path.json" } }
        @{ Case = 'data and checksum were changed together'; ErrorId = 'SignatureInvalid'; Doctor = {
                param($path) $bytes = [IO.File]::ReadAllBytes($path); $bytes[200] = $bytes[200] -bxor 1; [IO.File]::WriteAllBytes($path, $bytes)
                $m = Get-Content -Raw "$path.json" | ConvertFrom-Json; $m.sha256 = (Get-FileHash $path).Hash.ToLower(); $m | ConvertTo-Json -Depth 10 | Set-Content "$path.json" } }
        @{ Case = 'data was changed'; ErrorId = 'BackupChecksumMismatch'; Doctor = { param($path) $bytes = [IO.File]::ReadAllBytes($path); $bytes[200] = $bytes[200] -bxor 1; [IO.File]::WriteAllBytes($path, $bytes) } }
        @{ Case = 'signature is missing'; ErrorId = 'SignatureMissing'; Doctor = { param($path) Remove-Item "$path.json.sig" } }
        @{ Case = 'signature is by another key'; ErrorId = 'SignatureKeyMismatch'; Doctor = {
                param($path) Invoke-Gpg @('--local-user', 'other@example.com', '--passphrase', $KeyPassText, '--output', "$path.json.sig", '--detach-sign', "$path.json") | Out-Null } }
        @{ Case = 'manifest is missing (another tool''s)'; ErrorId = 'SignatureMissing'; Doctor = {
                param($path) Remove-Item "$path.json", "$path.json.sig"; Rename-Item $path ((Split-Path -Leaf $path) -replace '\.dump$', '.sql.gz') } }
    ) {
        $store = Join-Path $Out ('refused-' + ($Case -replace '\W', '-'))
        New-Item -ItemType Directory $store | Out-Null
        Copy-Item "$($Signed.Path)*" $store
        $path = Join-Path $store $Signed.Name
        & $Doctor $path
        $path = (Get-ChildItem $store -Exclude '*.json*').FullName
        $files = { Get-ChildItem $store -Recurse -Force | ForEach-Object { "$($_.Name) $($_.Length) $($_.LastWriteTimeUtc.Ticks)" } }
        $before = & $files
        $cmdlet = 'PgBackup.Commands'

        $errors = @()
        $listed = Get-PgBackup -Path $store -VerifyKey $Pub -ErrorVariable errors -ErrorAction SilentlyContinue
        if ($ErrorId -like 'Signature*') {
            $listed.SignatureValid | Should -BeFalse
            $errors[0].FullyQualifiedErrorId | Should -Be "$ErrorId,$cmdlet.GetPgBackupCommand"
            @(Get-PgBackup -Path $store -VerifyKey $Pub -Latest -ErrorAction SilentlyContinue).Count | Should -Be 0
            { Invoke-PgBackupRetention -Path $store -KeepLast 1 -VerifyKey $Pub -Confirm:$false } | Should -Throw -ErrorId "$ErrorId,$cmdlet.InvokePgBackupRetentionCommand"
        }
        $errors = @()
        (Test-PgBackup -Path $path -VerifyKey $Pub -ErrorVariable errors -ErrorAction SilentlyContinue).Passed | Should -BeFalse
        $errors[0].FullyQualifiedErrorId | Should -Be "$ErrorId,$cmdlet.TestPgBackupCommand"
        { Restore-PgBackup -Path $path -ConnectionString $TargetUri -Force -VerifyKey $Pub -Confirm:$false } | Should -Throw -ErrorId "$ErrorId,$cmdlet.RestorePgBackupCommand"
        { Export-PgBackupData -Path $path -ConnectionString $Uri -Table users -VerifyKey $Pub } | Should -Throw -ErrorId "$ErrorId,$cmdlet.ExportPgBackupDataCommand"
        $dest = Join-Path $Out ('refused-copy-' + ($Case -replace '\W', '-'))
        { Copy-PgBackup -Path $path -Destination $dest -VerifyKey $Pub -ErrorAction Stop } | Should -Throw -ErrorId "$ErrorId,$cmdlet.CopyPgBackupCommand"
        @(Get-ChildItem $dest -Force -ErrorAction SilentlyContinue).Count | Should -Be 0
        { Protect-PgBackup -Path $path -Passphrase $Pass -VerifyKey $Pub -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId "$ErrorId,$cmdlet.ProtectPgBackupCommand"
        & $files | Should -Be $before
        Invoke-TestPsql -Server $Main -Database $Target -Sql 'SELECT count(*) FROM keep_me' | Should -Be '1'
        @(Get-DatabaseNames -Server $Main | Where-Object { $_ -like "${Target}_pgbackup_*" -or $_ -like 'pgbackup_export_*' }).Count | Should -Be 0
    }

    It 'signs in a bucket, encrypted and as a Directory backup; the signature travels with a copy' {
        $bucket = New-TestBucket -Server $S3 -Prefix 'signed'
        $enc = New-PgBackup -ConnectionString $Uri -Path "s3://$bucket/pg/" -Format Custom -EncryptPassphrase $Pass @Sign @S3Params
        $dir = New-PgBackup -ConnectionString $Uri -Path "s3://$bucket/pg/" -Format Directory @Sign @S3Params
        Get-TestS3Key -Server $S3 -Bucket $bucket | Should -Contain "pg/$($enc.Name).json.sig"
        $listed = @(Get-PgBackup -Path "s3://$bucket/pg/" -VerifyKey $Pub @S3Params)
        $listed.Count | Should -Be 2
        $listed.SignatureValid | Should -Be @($true, $true)
        ($enc | Test-PgBackup -VerifyKey $Pub -Passphrase $Pass).Passed | Should -BeTrue
        ($dir | Test-PgBackup -VerifyKey $Pub).Passed | Should -BeTrue
        # Copied to a folder: the manifest's bytes and signature as they were, so that gpg still verifies the copy.
        $copy = $enc | Copy-PgBackup -Destination (Join-Path $Out 'from-bucket') -VerifyKey $Pub
        $copy.Signed | Should -BeTrue
        (Test-GpgVerify "$($copy.Path).json").ExitCode | Should -Be 0
        # A changed manifest in the bucket: refused.
        Write-TestS3Object -Server $S3 -Bucket $bucket -Key "pg/$($dir.Name).json" -Text ((Get-TestS3Object -Server $S3 -Bucket $bucket -Key "pg/$($dir.Name).json").Bytes.Length.ToString())
        { $dir | Restore-PgBackup -ConnectionString $TargetUri -Force -VerifyKey $Pub -Confirm:$false } | Should -Throw -ErrorId 'SignatureInvalid,PgBackup.Commands.RestorePgBackupCommand'
    }

    It 'Protect-PgBackup and Copy-PgBackup sign what they write with -SigningKey; without it the new manifest is unsigned, and said so' {
        $folder = Join-Path $Out 'protect-signed'
        $plain = New-PgBackup -ConnectionString $Uri -Path $folder -SchemaOnly
        $p = $plain | Protect-PgBackup -Passphrase $Pass @Sign
        $p.Signed | Should -BeTrue
        (Test-GpgVerify "$($p.Path).json").ExitCode | Should -Be 0
        Test-Path "$($plain.Path).json.sig" | Should -BeFalse
        $u = $p | Unprotect-PgBackup -Passphrase $Pass -WarningVariable warnings -WarningAction SilentlyContinue
        $u.Signed | Should -BeFalse
        ($warnings -join "`n") | Should -Match 'not'
        Test-Path "$($p.Path).json.sig" | Should -BeFalse -Because 'the encrypted original went, signature and all'
        $c = $u | Copy-PgBackup -Destination (Join-Path $Out 'copy-signed') -VerifyKey $Pub -ErrorAction SilentlyContinue
        $c | Should -BeNullOrEmpty -Because 'the unprotected backup is not signed'
        $c = $u | Copy-PgBackup -Destination (Join-Path $Out 'copy-signed') @Sign
        (Test-GpgVerify "$($c.Path).json").ExitCode | Should -Be 0
        # Unprotect-PgBackup -SigningKey signs the manifest it writes.
        $p2 = $c | Protect-PgBackup -Passphrase $Pass @Sign
        $u2 = $p2 | Unprotect-PgBackup -Passphrase $Pass @Sign -WarningVariable warnings2
        $u2.Signed | Should -BeTrue
        $warnings2 | Should -BeNullOrEmpty
        (Test-GpgVerify "$($u2.Path).json").ExitCode | Should -Be 0
        (Test-PgBackup -Path $u2.Path -VerifyKey $Pub).Passed | Should -BeTrue
    }

    It 'stops before anything is written when the signing key or its passphrase is wrong, or -VerifyKey is no public key' {
        $folder = Join-Path $Out 'bad-keys'
        { New-PgBackup -ConnectionString $Uri -Path $folder -SigningKey $Sign.SigningKey -SigningKeyPassphrase (ConvertTo-SecureString 'wrong' -AsPlainText -Force) } |
            Should -Throw -ErrorId 'WrongPassphrase,PgBackup.Commands.NewPgBackupCommand'
        { New-PgBackup -ConnectionString $Uri -Path $folder -SigningKey $Pub } | Should -Throw -ErrorId 'SigningKeyInvalid,PgBackup.Commands.NewPgBackupCommand'
        Test-Path $folder | Should -BeFalse
        { Get-PgBackup -Path (Split-Path $Signed.Path) -VerifyKey $Sign.SigningKey } | Should -Throw -ErrorId 'VerifyKeyInvalid,PgBackup.Commands.GetPgBackupCommand'
    }
}
