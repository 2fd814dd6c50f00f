BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    $script:Db = New-TestDatabaseName 'fid'
    New-TestDatabase -Server $Main -Name $Db -SqlFile (Join-Path $PSScriptRoot 'fixtures/fidelity.sql')
    $script:Uri = Get-TestPostgresUri -Server $Main -Database $Db
    $script:Source = Get-DatabaseFingerprint -Server $Main -Database $Db
    $script:Out = New-TestFolder
}

AfterAll { Remove-TestFolder $Out }

Describe 'Fidelity: the objects that break restores in practice survive New-PgBackup and Restore-PgBackup' {
    It 'the fixture has them all' {
        $Source.Schema | Should -Match 'CREATE TYPE billing.invoice_status AS ENUM'
        $Source.Schema | Should -Match 'CREATE DOMAIN billing.positive_money'
        $Source.Schema | Should -Match 'PARTITION BY RANGE'
        $Source.Schema | Should -Match 'CREATE MATERIALIZED VIEW'
        $Source.Schema | Should -Match 'CREATE TRIGGER invoices_audit'
        $Source.Schema | Should -Match 'CREATE POLICY customers_own'
        $Source.Schema | Should -Match 'INCREMENT BY 7'
        $Source.Schema | Should -Match 'GENERATED ALWAYS AS IDENTITY'
        $Source.Schema | Should -Match 'GENERATED ALWAYS AS \(round'
        $Source.Schema | Should -Match 'CREATE EXTENSION IF NOT EXISTS citext'
        $Source.Schema | Should -Match 'Reporting Ünïcode'
        $Source.LargeObjects | Should -Not -BeNullOrEmpty
    }

    It '<Format> / <Compression> round-trips to identical schema and data' -ForEach @(
        @{ Format = 'Plain'; Compression = 'Gzip' }
        @{ Format = 'Plain'; Compression = 'Zstd' }
        @{ Format = 'Plain'; Compression = 'None' }
        @{ Format = 'Custom'; Compression = 'Gzip' }
        @{ Format = 'Custom'; Compression = 'None' }
        @{ Format = 'Directory'; Compression = 'Gzip' }
    ) {
        $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out "$Format-$Compression") -Format $Format -Compression $Compression -WarningVariable warnings
        # A Plain backup whose script PgBackup's restore would refuse is said at backup time: none of these objects is.
        $warnings | Should -BeNullOrEmpty
        $target = New-TestDatabaseName 'fidr'
        $r = $b | Restore-PgBackup -ConnectionString $Uri -TargetDatabase $target -CreateDatabase -Confirm:$false
        $r.Verified | Should -BeTrue
        Assert-SameDatabase -Expected $Source -Actual (Get-DatabaseFingerprint -Server $Main -Database $target)
        Invoke-TestPsql -Server $Main -Sql "DROP DATABASE `"$target`";" | Out-Null
    }

    It 'replaces the database in place (Custom, 2 jobs) with identical schema and data' {
        $b = New-PgBackup -ConnectionString $Uri -Path (Join-Path $Out 'inplace') -Format Custom
        Invoke-TestPsql -Server $Main -Database $Db -Sql "DELETE FROM billing.audit; DROP MATERIALIZED VIEW ""Reporting Ünïcode"".customer_counts;" | Out-Null
        $b | Restore-PgBackup -ConnectionString $Uri -Jobs 2 -Force | Out-Null
        Assert-SameDatabase -Expected $Source -Actual (Get-DatabaseFingerprint -Server $Main -Database $Db)
    }
}
