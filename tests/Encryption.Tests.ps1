BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    $script:Db = New-TestDatabaseName 'enc'
    New-TestDatabase -Server $Main -Name $Db -SqlFile $SampleSql
    $script:Uri = Get-TestPostgresUri -Server $Main -Database $Db
    $script:Out = New-TestFolder
    $script:PassText = 'correct horse battery staple ∑'
    $script:Pass = ConvertTo-SecureString $PassText -AsPlainText -Force
    $script:KeyPassText = 'key-pass-42'
    $script:KeyPass = ConvertTo-SecureString $KeyPassText -AsPlainText -Force

    # A throw-away gpg home with two keys made by gpg itself: RSA, and the modern ed25519/cv25519 default.
    Use-TestGpgHome (Join-Path $Out 'gnupg')
    New-TestGpgKey -Name rsa -Algorithm rsa3072 -Usage encrypt -Passphrase $KeyPassText -Folder $Out
    New-TestGpgKey -Name ecc -Algorithm future-default -Passphrase $KeyPassText -Folder $Out
    $script:Fingerprint = Get-DatabaseFingerprint -Server $Main -Database $Db

    function Get-Decrypted([string]$Path, [string]$Passphrase) {
        # What gpg --decrypt makes of a file, as bytes (saved beside it).
        $plain = "$Path.out"
        Invoke-Gpg @('--passphrase', $Passphrase, '--output', $plain, '--decrypt', $Path) | Out-Null
        $plain
    }
}

AfterAll {
    Remove-Item Env:GNUPGHOME -ErrorAction SilentlyContinue
    Remove-TestFolder $Out
}

Describe 'Encryption' {
    It 'Protect-PgBackup and Unprotect-PgBackup have the expected parameters' {
        $common = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters
        ((Get-Command Protect-PgBackup).Parameters.Keys | Where-Object { $_ -notin $common } | Sort-Object) | Should -Be (@('Path', 'InputObject', 'Passphrase', 'Recipient', 'KeepOriginal', 'SigningKey', 'SigningKeyPassphrase', 'VerifyKey', 'S3Credential', 'ProfileName', 'Region', 'EndpointUrl', 'S3AddressingStyle', 'S3ChecksumMode', 'S3TimeoutSeconds', 'AzureSasToken', 'AzureConnectionString', 'AzureAccountKey', 'AzureEndpointUrl') | Sort-Object)
        ((Get-Command Unprotect-PgBackup).Parameters.Keys | Where-Object { $_ -notin $common } | Sort-Object) | Should -Be (@('Path', 'InputObject', 'Passphrase', 'SecretKeyPath', 'SecretKeyPassphrase', 'KeepOriginal', 'SigningKey', 'SigningKeyPassphrase', 'VerifyKey', 'S3Credential', 'ProfileName', 'Region', 'EndpointUrl', 'S3AddressingStyle', 'S3ChecksumMode', 'S3TimeoutSeconds', 'AzureSasToken', 'AzureConnectionString', 'AzureAccountKey', 'AzureEndpointUrl') | Sort-Object)
        foreach ($c in 'Restore-PgBackup', 'Test-PgBackup') {
            (Get-Command $c).Parameters.Keys | Should -Contain 'Passphrase'
            (Get-Command $c).Parameters.Keys | Should -Contain 'SecretKeyPath'
            (Get-Command $c).Parameters.Keys | Should -Contain 'SecretKeyPassphrase'
        }
        (Get-Command New-PgBackup).Parameters['EncryptPassphrase'].ParameterType | Should -Be ([securestring])
        (Get-Command New-PgBackup).Parameters['EncryptRecipient'].ParameterType | Should -Be ([string[]])
    }

    Context 'in the stream (New-PgBackup)' {
        It 'with a passphrase: gpg --decrypt opens it, no plaintext is written, the manifest says how' {
            $folder = Join-Path $Out 'stream-pass'
            $b = New-PgBackup -ConnectionString $Uri -Path $folder -EncryptPassphrase $Pass
            $b.Name | Should -BeLike '*.sql.gz.gpg'
            $b.Encrypted | Should -BeTrue
            $b.Encryption.Mode | Should -Be 'Passphrase'
            $b.Encryption.Algorithm | Should -Be 'AES256'
            (Get-ChildItem $folder).Name | Sort-Object | Should -Be @($b.Name, "$($b.Name).json")
            $bytes = [IO.File]::ReadAllBytes($b.Path)
            ($bytes[0] -eq 0x1f -and $bytes[1] -eq 0x8b) | Should -BeFalse -Because 'the stored file is not gzip but OpenPGP'
            $json = Get-Content -Raw "$($b.Path).json"
            $json | Should -Match '"mode": "Passphrase"'
            $json | Should -Not -Match ([regex]::Escape($PassText))
            $plain = Get-Decrypted $b.Path $PassText
            $text = & bash -c "gzip -dc '$plain'"
            ($text -join "`n") | Should -Match 'PostgreSQL database dump complete'
        }

        It 'to a <Who> public key: gpg --decrypt opens it with the secret key; PgBackup restores it' -ForEach @(@{ Who = 'rsa' }, @{ Who = 'ecc' }) {
            $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out "stream-$Who") -Format Custom -EncryptRecipient (Join-Path $Out "$Who.pub.asc")
            $b.Name | Should -BeLike '*.dump.gpg'
            $b.Encryption.Mode | Should -Be 'PublicKey'
            $b.Encryption.Recipients.Count | Should -Be 1
            $keys = Invoke-Gpg @('--with-colons', '--list-keys', "$Who@example.com")
            ($keys -join "`n") | Should -Match $b.Encryption.Recipients[0]
            $plain = Get-Decrypted $b.Path $KeyPassText
            [IO.File]::ReadAllBytes($plain)[0..4] | Should -Be ([byte[]][char[]]'PGDMP')
            $target = New-TestDatabaseName 'encr'
            $r = $b | Restore-PgBackup -ConnectionString $Uri -TargetDatabase $target -CreateDatabase -SecretKeyPath (Join-Path $Out "$Who.sec.asc") -SecretKeyPassphrase $KeyPass -Confirm:$false
            $r.Verified | Should -BeTrue
            Assert-SameDatabase -Expected $Fingerprint -Actual (Get-DatabaseFingerprint -Server $Main -Database $target)
        }

        It 'refuses Directory-format backups, which pg_dump writes as plain files' {
            { New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'dir') -Format Directory -EncryptPassphrase $Pass } | Should -Throw -ErrorId 'InvalidParameter,PgBackup.Commands.NewPgBackupCommand'
        }

        It 'refuses a file that is not a public key' {
            Set-Content (Join-Path $Out 'not-a-key.asc') 'hello'
            { New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'badkey') -EncryptRecipient (Join-Path $Out 'not-a-key.asc') } | Should -Throw -ErrorId 'EncryptionKeyInvalid,PgBackup.Commands.NewPgBackupCommand'
            Get-BackupLikeFiles (Join-Path $Out 'badkey') | Should -BeNullOrEmpty
        }
    }

    Context 'the guide''s gpg files' {
        BeforeAll {
            $script:GuideFolder = Join-Path $Out 'guide'
            New-Item -ItemType Directory $GuideFolder | Out-Null
            $script:GuideGz = Join-Path $GuideFolder "backup_${Db}_20240315_143022.sql.gz"
            & bash -c "PGPASSWORD='$($Main.Password)' pg_dump -h 127.0.0.1 -p $($Main.Port) -U postgres '$Db' | gzip > '$GuideGz'"
            # The guide's exact command.
            Invoke-Gpg @('--passphrase', $PassText, '--symmetric', '--cipher-algo', 'AES256', $GuideGz) | Out-Null
            Remove-Item $GuideGz
            $script:GuideGpg = "$GuideGz.gpg"
        }

        It 'lists, tests and restores a file made by gpg --symmetric --cipher-algo AES256' {
            $listed = Get-PgBackup -Path $GuideFolder
            $listed.Status | Should -Be 'NoManifest'
            $listed.Encrypted | Should -BeTrue
            ($listed | Test-PgBackup -Passphrase $Pass).Passed | Should -BeTrue
            $target = New-TestDatabaseName 'guidegpg'
            $r = $listed | Restore-PgBackup -ConnectionString $Uri -TargetDatabase $target -CreateDatabase -Passphrase $Pass -Confirm:$false
            $r.Verified | Should -BeTrue
            Assert-SameDatabase -Expected $Fingerprint -Actual (Get-DatabaseFingerprint -Server $Main -Database $target)
        }

        It 'restores a file gpg encrypted to a public key' {
            $folder = Join-Path $Out 'guide-pk'
            New-Item -ItemType Directory $folder | Out-Null
            $gz = Join-Path $folder "backup_${Db}_20240316_030000.sql.gz"
            & bash -c "PGPASSWORD='$($Main.Password)' pg_dump -h 127.0.0.1 -p $($Main.Port) -U postgres '$Db' | gzip > '$gz'"
            Invoke-Gpg @('--trust-model', 'always', '--recipient', 'rsa@example.com', '--encrypt', $gz) | Out-Null
            Remove-Item $gz
            $t = Test-PgBackup "$gz.gpg" -Restore -ConnectionString $Uri -SecretKeyPath (Join-Path $Out 'rsa.sec.asc') -SecretKeyPassphrase $KeyPass
            $t.Passed | Should -BeTrue
        }
    }

    Context 'wrong keys and changed files: clear errors, nothing left behind, the target untouched' {
        BeforeAll {
            $script:Enc = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'faults') -EncryptPassphrase $Pass
            $script:Target = New-TestDatabaseName 'enctarget'
            New-TestDatabase -Server $Main -Name $Target -Sql 'CREATE TABLE keep_me (x int); INSERT INTO keep_me VALUES (1);'
            $script:TargetUri = Get-TestPostgresUri -Server $Main -Database $Target
        }
        AfterEach {
            Invoke-TestPsql -Server $Main -Database $Target -Sql 'SELECT count(*) FROM keep_me' | Should -Be '1'
            @(Get-DatabaseNames -Server $Main | Where-Object { $_ -like '*_pgbackup_*' }).Count | Should -Be 0
        }

        It 'a wrong passphrase' {
            $err = $null
            try { $Enc | Restore-PgBackup -ConnectionString $TargetUri -Force -Passphrase (ConvertTo-SecureString 'wrong' -AsPlainText -Force) } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'WrongPassphrase,PgBackup.Commands.RestorePgBackupCommand'
            { $Enc | Unprotect-PgBackup -Passphrase (ConvertTo-SecureString 'wrong' -AsPlainText -Force) -ErrorAction Stop } | Should -Throw -ErrorId 'WrongPassphrase,PgBackup.Commands.UnprotectPgBackupCommand'
            Test-Path ($Enc.Path -replace '\.gpg$', '') | Should -BeFalse
            @(Get-ChildItem (Split-Path $Enc.Path) -Filter '*.partial').Count | Should -Be 0
        }

        It 'no passphrase or the wrong secret key' {
            { $Enc | Restore-PgBackup -ConnectionString $TargetUri -Force } | Should -Throw -ErrorId 'SecretKeyMissing,PgBackup.Commands.RestorePgBackupCommand'
            $pk = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'faults-pk') -Format Custom -EncryptRecipient (Join-Path $Out 'rsa.pub.asc')
            { $pk | Restore-PgBackup -ConnectionString $TargetUri -Force -SecretKeyPath (Join-Path $Out 'ecc.sec.asc') -SecretKeyPassphrase $KeyPass } |
                Should -Throw -ErrorId 'SecretKeyMissing,PgBackup.Commands.RestorePgBackupCommand'
            { $pk | Restore-PgBackup -ConnectionString $TargetUri -Force -SecretKeyPath (Join-Path $Out 'rsa.sec.asc') -SecretKeyPassphrase (ConvertTo-SecureString 'nope' -AsPlainText -Force) } |
                Should -Throw -ErrorId 'WrongPassphrase,PgBackup.Commands.RestorePgBackupCommand'
        }

        It 'one changed byte in a file without manifest is caught by OpenPGP''s integrity check' {
            $folder = Join-Path $Out 'tamper'
            New-Item -ItemType Directory $folder | Out-Null
            $gpg = Join-Path $folder "backup_${Db}_20240317_030000.sql.gz.gpg"
            Copy-Item $GuideGpg $gpg
            $bytes = [IO.File]::ReadAllBytes($gpg)
            $i = [int]($bytes.Length * 0.6)
            $bytes[$i] = $bytes[$i] -bxor 0x20
            [IO.File]::WriteAllBytes($gpg, $bytes)
            $err = $null
            try { Restore-PgBackup -Path $gpg -ConnectionString $TargetUri -Force -Passphrase $Pass } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeIn @('IntegrityCheckFailed,PgBackup.Commands.RestorePgBackupCommand', 'BackupCorrupt,PgBackup.Commands.RestorePgBackupCommand')
            (Test-PgBackup $gpg -Passphrase $Pass -ErrorAction SilentlyContinue).Passed | Should -BeFalse
            { Unprotect-PgBackup $gpg -Passphrase $Pass -ErrorAction Stop } | Should -Throw
            Test-Path ($gpg -replace '\.gpg$', '') | Should -BeFalse
        }

        It 'one changed byte in a PgBackup file is caught by its checksum' {
            $copy = Join-Path $Out 'tamper2'
            New-Item -ItemType Directory $copy | Out-Null
            Copy-Item $Enc.Path, "$($Enc.Path).json" $copy
            $file = Join-Path $copy $Enc.Name
            $bytes = [IO.File]::ReadAllBytes($file)
            $bytes[100] = $bytes[100] -bxor 0x01
            [IO.File]::WriteAllBytes($file, $bytes)
            { Restore-PgBackup -Path $file -ConnectionString $TargetUri -Force -Passphrase $Pass } | Should -Throw -ErrorId 'BackupChecksumMismatch,PgBackup.Commands.RestorePgBackupCommand'
        }

        It 'a truncated file' {
            $folder = Join-Path $Out 'truncated'
            New-Item -ItemType Directory $folder | Out-Null
            $gpg = Join-Path $folder "backup_${Db}_20240318_030000.sql.gz.gpg"
            $bytes = [IO.File]::ReadAllBytes($GuideGpg)
            [IO.File]::WriteAllBytes($gpg, $bytes[0..($bytes.Length - 200)])
            { Restore-PgBackup -Path $gpg -ConnectionString $TargetUri -Force -Passphrase $Pass } | Should -Throw
            { Unprotect-PgBackup $gpg -Passphrase $Pass -ErrorAction Stop } | Should -Throw
            (Get-ChildItem $folder).Name | Should -Be @("backup_${Db}_20240318_030000.sql.gz.gpg")
        }
    }

    Context 'Protect-PgBackup and Unprotect-PgBackup' {
        It 'encrypt a backup, update its manifest, and decrypt it back to the same bytes' {
            $folder = Join-Path $Out 'protect'
            $b = New-PgBackup -ConnectionString $Uri -Path $folder
            $p = $b | Protect-PgBackup -Passphrase $Pass
            $p.Name | Should -Be "$($b.Name).gpg"
            $p.Encrypted | Should -BeTrue
            $p.Status | Should -Be 'Complete'
            $p.Tables.Count | Should -Be 3
            Test-Path $b.Path | Should -BeFalse -Because 'the unencrypted original is removed'
            Test-Path "$($b.Path).json" | Should -BeFalse
            (Get-FileHash -Algorithm SHA256 (Get-Decrypted $p.Path $PassText)).Hash.ToLower() | Should -Be $b.Sha256
            Remove-Item "$($p.Path).out"
            $u = $p | Unprotect-PgBackup -Passphrase $Pass
            $u.Name | Should -Be $b.Name
            $u.Encrypted | Should -BeFalse
            $u.Sha256 | Should -Be $b.Sha256
            ($u | Test-PgBackup).Passed | Should -BeTrue
            Test-Path $p.Path | Should -BeFalse
        }

        It 'protect a guide backup to a public key, with a manifest made from what it holds' {
            $folder = Join-Path $Out 'protect-guide'
            New-Item -ItemType Directory $folder | Out-Null
            $gz = Join-Path $folder "backup_${Db}_20240320_030000.sql.gz"
            & bash -c "PGPASSWORD='$($Main.Password)' pg_dump -h 127.0.0.1 -p $($Main.Port) -U postgres '$Db' | gzip > '$gz'"
            $p = Protect-PgBackup $gz -Recipient (Join-Path $Out 'ecc.pub.asc') -KeepOriginal
            $p.Status | Should -Be 'Complete'
            $p.Encryption.Mode | Should -Be 'PublicKey'
            ($p.Tables | Where-Object Name -eq 'play_events').Rows | Should -Be 4000
            $p.StartTime | Should -Be ([datetime]::new(2024, 3, 20, 3, 0, 0, [DateTimeKind]::Utc))
            Test-Path $gz | Should -BeTrue
            (Get-FileHash -Algorithm SHA256 (Get-Decrypted $p.Path $KeyPassText)).Hash | Should -Be (Get-FileHash -Algorithm SHA256 $gz).Hash
            { Protect-PgBackup $p.Path -Passphrase $Pass -ErrorAction Stop } | Should -Throw -ErrorId 'AlreadyEncrypted,PgBackup.Commands.ProtectPgBackupCommand'
            { Unprotect-PgBackup $gz -Passphrase $Pass -ErrorAction Stop } | Should -Throw -ErrorId 'NotEncrypted,PgBackup.Commands.UnprotectPgBackupCommand'
        }

        It '-WhatIf encrypts nothing' {
            $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'whatif') -SchemaOnly
            $b | Protect-PgBackup -Passphrase $Pass -WhatIf
            Test-Path "$($b.Path).gpg" | Should -BeFalse
            Test-Path $b.Path | Should -BeTrue
        }
    }

    Context 'Copy-PgBackup' {
        BeforeAll {
            $script:CopySource = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'copy-src') -EncryptPassphrase $Pass
            function Get-ErrorOf([scriptblock]$Script) { try { & $Script; $null } catch { $_ } }
        }

        It 'has the decryption parameters' {
            foreach ($p in 'Passphrase', 'SecretKeyPath', 'SecretKeyPassphrase') { (Get-Command Copy-PgBackup).Parameters.Keys | Should -Contain $p }
        }

        It 'copies an encrypted backup as it is, without secrets, and with the passphrase after decrypting it on the way' {
            $plainCopy = $CopySource | Copy-PgBackup -Destination (Join-Path $Out 'copy-a')
            $checked = $CopySource | Copy-PgBackup -Destination (Join-Path $Out 'copy-b') -Passphrase $Pass -Verbose 4>&1
            $copy = $checked | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
            (($checked | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message -join "`n") | Should -Match 'decrypts and decompresses'
            foreach ($c in $plainCopy, $copy) {
                $c.IsGood | Should -BeTrue
                $c.Encrypted | Should -BeTrue
                (Get-FileHash $c.Path).Hash | Should -Be (Get-FileHash $CopySource.Path).Hash
            }
            ($copy | Test-PgBackup -Passphrase $Pass).Passed | Should -BeTrue
        }

        It 'copies the guide''s gpg file (no manifest) after proving it opens; a wrong passphrase copies nothing' {
            $copy = Copy-PgBackup -Path $GuideGpg -Destination (Join-Path $Out 'copy-guide') -Passphrase $Pass
            $copy.Status | Should -Be 'NoManifest'
            (Get-FileHash $copy.Path).Hash | Should -Be (Get-FileHash $GuideGpg).Hash
            $dest = Join-Path $Out 'copy-wrong'
            $err = Get-ErrorOf { Copy-PgBackup -Path $GuideGpg -Destination $dest -Passphrase (ConvertTo-SecureString 'wrong' -AsPlainText -Force) }
            $err.FullyQualifiedErrorId | Should -Be 'WrongPassphrase,PgBackup.Commands.CopyPgBackupCommand'
            @(Get-ChildItem $dest -Force -ErrorAction SilentlyContinue).Count | Should -Be 0
        }

        It 'refuses to keep a copy of a changed gpg file that fails OpenPGP''s integrity check' {
            $folder = Join-Path $Out 'copy-tamper'
            New-Item -ItemType Directory $folder | Out-Null
            $gpg = Join-Path $folder "backup_${Db}_20240319_030000.sql.gz.gpg"
            $bytes = [IO.File]::ReadAllBytes($GuideGpg)
            $i = [int]($bytes.Length * 0.6)
            $bytes[$i] = $bytes[$i] -bxor 0x20
            [IO.File]::WriteAllBytes($gpg, $bytes)
            # Without secrets there is nothing to check it against: it is copied as it is.
            (Copy-PgBackup -Path $gpg -Destination (Join-Path $Out 'copy-tamper-blind')).Status | Should -Be 'NoManifest'
            $dest = Join-Path $Out 'copy-tamper-checked'
            $err = Get-ErrorOf { Copy-PgBackup -Path $gpg -Destination $dest -Passphrase $Pass }
            $err.FullyQualifiedErrorId | Should -BeIn @('IntegrityCheckFailed,PgBackup.Commands.CopyPgBackupCommand', 'BackupCorrupt,PgBackup.Commands.CopyPgBackupCommand')
            @(Get-ChildItem $dest -Force -ErrorAction SilentlyContinue).Count | Should -Be 0
        }

        It 'checks a backup encrypted to a public key with the secret key' {
            $pk = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'copy-pk') -Format Custom -EncryptRecipient (Join-Path $Out 'ecc.pub.asc')
            $copy = $pk | Copy-PgBackup -Destination (Join-Path $Out 'copy-pk-dest') -SecretKeyPath (Join-Path $Out 'ecc.sec.asc') -SecretKeyPassphrase $KeyPass
            $copy.IsGood | Should -BeTrue
            $err = Get-ErrorOf { $pk | Copy-PgBackup -Destination (Join-Path $Out 'copy-pk-wrong') -SecretKeyPath (Join-Path $Out 'rsa.sec.asc') -SecretKeyPassphrase $KeyPass }
            $err.FullyQualifiedErrorId | Should -Be 'SecretKeyMissing,PgBackup.Commands.CopyPgBackupCommand'
            @(Get-ChildItem (Join-Path $Out 'copy-pk-wrong') -Force -ErrorAction SilentlyContinue).Count | Should -Be 0
        }
    }
}
