# The Neon branch cmdlets against the fake Neon API (tests/FakeNeon), whose branches are real databases on the Main
# test server. The fake answers like Neon (operations that finish over a few polls, 423 while they run, paging with
# a small page size here) and checks every request and answer against Neon's OpenAPI spec.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    Import-Module (Join-Path $PSScriptRoot 'harness/FakeNeon.psm1') -Force
    $script:Key = 'napi_' + [guid]::NewGuid().ToString('n') + [guid]::NewGuid().ToString('n').Substring(0, 8)
    $script:Fake = Start-FakeNeon -RepoRoot $RepoRoot -ApiKey $Key -AdminUri $Main.ConnectionString -BranchPageSize 3 -OperationMs 150 -LockLagMs 60
    $script:SavedEnv = @{}
    foreach ($name in 'NEON_API_KEY', 'NEON_API_URL', 'NEON_PROJECT_ID', 'DATABASE_URL') {
        $SavedEnv[$name] = [Environment]::GetEnvironmentVariable($name)
    }
    $env:NEON_API_URL = $Fake.ApiUrl
    $env:NEON_API_KEY = $Key
    Remove-Item Env:NEON_PROJECT_ID, Env:DATABASE_URL -ErrorAction SilentlyContinue
    # The fake's operations take 150 ms: polls and first retries every 40 ms instead of Neon's second, through the
    # cmdlets' internal test hook (NeonCmdlet.TestWaits; no parameter or environment variable of the product).
    $script:TestWaits = (Get-Command Get-NeonBackupBranch).ImplementingType.BaseType.GetProperty('TestWaits', [System.Reflection.BindingFlags]'NonPublic, Static')
    $TestWaits.SetValue($null, [timespan]::FromMilliseconds(40))
    $script:Folder = New-TestFolder
    Push-Location $Folder

    function New-FakeProject([hashtable]$Spec = @{}) { Invoke-FakeNeon $Fake POST /projects $Spec }
    function Add-Fault([hashtable[]]$Faults) { Invoke-FakeNeon $Fake POST /faults $Faults | Out-Null }
    function Clear-Requests { Invoke-FakeNeon $Fake DELETE /requests | Out-Null }
    function Get-Requests { @(Invoke-FakeNeon $Fake GET /requests | ForEach-Object { $_ }) }
    function Set-Settled { Invoke-FakeNeon $Fake POST /settle | Out-Null }
    function Get-FakeBranch([string]$ProjectId, [string]$Name) {
        ((Invoke-FakeNeon $Fake GET /state).projects | Where-Object id -eq $ProjectId).branches | Where-Object name -eq $Name
    }
    function Invoke-UriSql([string]$Uri, [string]$Sql) {
        # psql with exactly this connection string (the one an application would use).
        $out = & (Get-PsqlPath) -X -q -A -t -v ON_ERROR_STOP=1 -d $Uri -c $Sql 2>&1
        if ($LASTEXITCODE -ne 0) { throw "psql failed: $out" }
        $out
    }
    function Get-ErrorId($ErrorRecord) { ($ErrorRecord.FullyQualifiedErrorId -split ',')[0] }
    function New-RawBranch([string]$ProjectId, [string]$Name, [string]$ParentId) {
        # A branch made straight through the API (test set-up, not what is tested), its operations settled at once;
        # the operations of what the previous test did are settled first (the fake answers 423 while they run).
        Set-Settled
        $branch = @{ name = $Name }
        if ($ParentId) { $branch.parent_id = $ParentId }
        $r = Invoke-RestMethod -Method Post -Uri "$($Fake.ApiUrl)/projects/$ProjectId/branches" -Headers @{ Authorization = "Bearer $Key" } `
            -ContentType 'application/json' -Body (@{ branch = $branch; endpoints = @() } | ConvertTo-Json -Depth 4)
        Set-Settled
        $r.branch
    }
}

AfterAll {
    Pop-Location
    Remove-TestFolder $Folder
    Stop-FakeNeon $Fake
    foreach ($kv in $SavedEnv.GetEnumerator()) { [Environment]::SetEnvironmentVariable($kv.Key, $kv.Value) }
    $TestWaits.SetValue($null, $null)
}

Describe 'The Neon cmdlets' {
    It '<Name> has the expected parameters' -ForEach @(
        @{ Name = 'New-NeonBackupBranch'; Expected = 'ParentBranch', 'Name', 'ExpiresAt', 'Timeout' }
        @{ Name = 'Get-NeonBackupBranch'; Expected = 'Name' }
        @{ Name = 'Remove-NeonBackupBranch'; Expected = 'InputObject', 'Branch', 'Timeout', 'PassThru' }
        @{ Name = 'Restore-NeonBackupBranch'; Expected = 'InputObject', 'Branch', 'TargetBranch', 'PreserveUnderName', 'Timeout' }
    ) {
        $common = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters
        $cmd = Get-Command $Name
        $actual = $cmd.Parameters.Keys | Where-Object { $_ -notin $common }
        $all = @($Expected) + 'ApiKey', 'ProjectId', 'ApiUrl', 'ConnectionString', 'MaxRetries'
        $actual | Sort-Object | Should -Be ($all | Sort-Object)
        $cmd.Parameters['ApiKey'].ParameterType | Should -Be ([securestring])
    }

    It 'changes state only through ShouldProcess, with high impact for restores and deletions' {
        $impact = @{}
        foreach ($n in 'New-NeonBackupBranch', 'Remove-NeonBackupBranch', 'Restore-NeonBackupBranch') {
            $attr = (Get-Command $n).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
            $attr.SupportsShouldProcess | Should -BeTrue
            $impact[$n] = "$($attr.ConfirmImpact)"
        }
        $impact['Remove-NeonBackupBranch'] | Should -Be 'High'
        $impact['Restore-NeonBackupBranch'] | Should -Be 'High'
    }

    It 'shows branches in a table by default' {
        (Get-FormatData -TypeName PgBackup.NeonBackupBranch).FormatViewDefinition[0].Control.GetType().Name | Should -Be 'TableControl'
    }
}

Describe 'New-NeonBackupBranch' {
    BeforeAll {
        $script:P = New-FakeProject @{ name = 'newtest' }
    }

    It 'creates backup_yyyyMMdd_HHmmss (UTC) from the default branch, without an endpoint, and waits until it is ready' {
        Clear-Requests
        $b = New-NeonBackupBranch -ProjectId $P.project_id
        $b.PSObject.TypeNames[0] | Should -Be 'PgBackup.NeonBackupBranch'
        $b.Name | Should -Match '^backup_\d{8}_\d{6}$'
        $stamp = [datetime]::ParseExact(($b.Name -replace '^backup_', ''), 'yyyyMMdd_HHmmss', [cultureinfo]::InvariantCulture)
        ([datetime]::UtcNow - $stamp).TotalMinutes | Should -BeLessThan 2
        $b.ProjectId | Should -Be $P.project_id
        $b.Id | Should -Match '^br-[a-z]+-[a-z]+-[a-z0-9]{8}$'
        $b.ParentId | Should -Be $P.branch_id
        $b.ParentName | Should -Be 'main'
        $b.State | Should -Be 'ready'
        $b.IsGood | Should -BeTrue
        $b.CreatedAt.Kind | Should -Be 'Utc'
        $b.LogicalSizeBytes | Should -BeGreaterThan 0
        $b.Group | Should -Be "neon:$($P.project_id)"
        $requests = Get-Requests
        @($requests | Where-Object { $_.method -eq 'POST' -and $_.path -like '*/branches' -and $_.status -eq 201 }).Count | Should -Be 1
        # It polled the operation until it finished, over a few polls.
        @($requests | Where-Object { $_.method -eq 'GET' -and $_.path -like '*/operations/*' }).Count | Should -BeGreaterThan 1
        $state = (Invoke-FakeNeon $Fake GET /state).projects | Where-Object id -eq $P.project_id
        @($state.endpoints | Where-Object branch_id -eq $b.Id).Count | Should -Be 0
    }

    It 'backs up another branch given by name or id' {
        $dev = New-NeonBackupBranch -ProjectId $P.project_id -Name 'dev'
        $byName = New-NeonBackupBranch -ProjectId $P.project_id -ParentBranch dev -Name 'backup_20250101_000001'
        $byName.ParentId | Should -Be $dev.Id
        $byId = New-NeonBackupBranch -ProjectId $P.project_id -ParentBranch $dev.Id -Name 'backup_20250101_000002'
        $byId.ParentName | Should -Be 'dev'
    }

    It 'sets an expiry that Neon accepts: in the future, at most 30 days' {
        $when = [datetime]::UtcNow.AddDays(2)
        $b = New-NeonBackupBranch -ProjectId $P.project_id -Name 'backup_20250101_000003' -ExpiresAt $when
        $b.ExpiresAt | Should -Not -BeNullOrEmpty
        [math]::Abs(($b.ExpiresAt - $when).TotalSeconds) | Should -BeLessThan 2
    }

    It 'refuses an expiry <Case> before calling Neon' -ForEach @(
        @{ Case = 'in the past'; Days = -1 }
        @{ Case = 'more than 30 days ahead'; Days = 31 }
    ) {
        Clear-Requests
        { New-NeonBackupBranch -ProjectId $P.project_id -ExpiresAt ([datetime]::UtcNow.AddDays($Days)) -ErrorAction Stop } |
            Should -Throw -ErrorId 'NeonInvalidExpiry,PgBackup.Commands.NewNeonBackupBranchCommand'
        @(Get-Requests | Where-Object method -eq 'POST').Count | Should -Be 0
    }

    It 'fails with NeonBranchExists when the name is taken (409)' {
        $err = $null
        try { New-NeonBackupBranch -ProjectId $P.project_id -Name 'dev' -ErrorAction Stop } catch { $err = $_ }
        Get-ErrorId $err | Should -Be 'NeonBranchExists'
        $err.CategoryInfo.Category | Should -Be 'ResourceExists'
        $err.Exception.Message | Should -Match "already has a branch named 'dev'"
    }

    It 'fails with NeonLimitExceeded past the branch limit (422)' {
        $small = New-FakeProject @{ name = 'small'; branch_limit = 2 }
        New-NeonBackupBranch -ProjectId $small.project_id -Name 'backup_20250101_000010' | Out-Null
        $err = $null
        try { New-NeonBackupBranch -ProjectId $small.project_id -Name 'backup_20250101_000011' -ErrorAction Stop } catch { $err = $_ }
        Get-ErrorId $err | Should -Be 'NeonLimitExceeded'
        $err.Exception.Message | Should -Match 'BRANCHES_LIMIT_EXCEEDED'
        $err.ErrorDetails.RecommendedAction | Should -Match 'Remove-NeonBackupBranch'
    }

    It 'fails with NeonOperationTimeout when Neon''s operations do not finish in time' {
        Add-Fault @{ operation = 'hang'; count = 1 }
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $err = $null
        try { New-NeonBackupBranch -ProjectId $P.project_id -Name 'backup_20250101_000004' -Timeout 1 -ErrorAction Stop } catch { $err = $_ }
        $watch.Stop()
        Get-ErrorId $err | Should -Be 'NeonOperationTimeout'
        $err.CategoryInfo.Category | Should -Be 'OperationTimeout'
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 10
        # The branch exists but is not ready: not a good backup.
        Set-Settled
    }

    It 'fails with NeonOperationFailed when an operation fails' {
        Add-Fault @{ operation = 'fail'; count = 1 }
        $err = $null
        try { New-NeonBackupBranch -ProjectId $P.project_id -Name 'backup_20250101_000005' -ErrorAction Stop } catch { $err = $_ }
        Get-ErrorId $err | Should -Be 'NeonOperationFailed'
        $err.Exception.Message | Should -Match "create_branch .* ended 'failed'"
        $failed = Get-NeonBackupBranch -ProjectId $P.project_id -Name 'backup_20250101_000005'
        $failed.IsGood | Should -BeFalse
        Set-Settled
    }

    It 'changes nothing with -WhatIf' {
        Clear-Requests
        New-NeonBackupBranch -ProjectId $P.project_id -WhatIf
        @(Get-Requests | Where-Object method -ne 'GET').Count | Should -Be 0
    }

    It 'tolerates newer fields and operation actions outside the spec (Neon in 2026-09)' {
        Invoke-FakeNeon $Fake POST /settings @{ drift = $true } | Out-Null
        try {
            $b = New-NeonBackupBranch -ProjectId $P.project_id -Name 'backup_20250101_000006'
            $b.IsGood | Should -BeTrue
            (Get-NeonBackupBranch -ProjectId $P.project_id -Name 'backup_20250101_000006').Id | Should -Be $b.Id
        }
        finally { Invoke-FakeNeon $Fake POST /settings @{ drift = $false } | Out-Null }
    }
}

Describe 'Get-NeonBackupBranch' {
    BeforeAll {
        $script:G = New-FakeProject @{ name = 'listing'; branch_limit = 20 }
        $names = 1..8 | ForEach-Object { 'backup_2025010{0}_120000' -f $_ }
        foreach ($n in $names + 'feature_x', 'backup_manual') { New-RawBranch $G.project_id $n | Out-Null }
        $script:Names = $names
    }

    It 'lists every backup branch, paging through more branches than one page, newest first' {
        Clear-Requests
        $list = @(Get-NeonBackupBranch -ProjectId $G.project_id)
        $list.Count | Should -Be 8
        ($list.Name | Sort-Object) | Should -Be ($Names | Sort-Object)
        for ($i = 1; $i -lt $list.Count; $i++) { $list[$i - 1].CreatedAt | Should -BeGreaterOrEqual $list[$i].CreatedAt }
        # Page size 3 and 11 branches: at least 4 pages, each after the first with the previous page's cursor.
        $pages = @(Get-Requests | Where-Object { $_.method -eq 'GET' -and $_.path -like "/projects/$($G.project_id)/branches?*" })
        $pages.Count | Should -BeGreaterOrEqual 4
        @($pages | Where-Object path -like '*cursor=*').Count | Should -Be ($pages.Count - 1)
    }

    It 'orders by creation time, not by name' {
        # Names say one order, creation times the other (backdated through the fake's control route).
        $old = Get-NeonBackupBranch -ProjectId $G.project_id -Name 'backup_20250108_120000'
        $new = Get-NeonBackupBranch -ProjectId $G.project_id -Name 'backup_20250101_120000'
        Invoke-FakeNeon $Fake POST "/branches/$($old.Id)/backdate" @{ created_at = '2024-01-01T00:00:00Z' } | Out-Null
        $list = @(Get-NeonBackupBranch -ProjectId $G.project_id)
        $list[-1].Name | Should -Be 'backup_20250108_120000'
        $list[-1].CreatedAt | Should -Be ([datetime]::new(2024, 1, 1, 0, 0, 0, [DateTimeKind]::Utc))
        $list[0].CreatedAt | Should -BeGreaterThan $list[-1].CreatedAt
        $list.Name | Should -Contain $new.Name
    }

    It 'lists other names with -Name wildcards' {
        (Get-NeonBackupBranch -ProjectId $G.project_id -Name 'feature_*').Name | Should -Be 'feature_x'
        @(Get-NeonBackupBranch -ProjectId $G.project_id -Name '*').Count | Should -Be 11
        @(Get-NeonBackupBranch -ProjectId $G.project_id -Name 'backup_*').Count | Should -Be 9
    }

    It 'fails with NeonNotFound for an unknown project (404)' {
        { Get-NeonBackupBranch -ProjectId 'no-such-00000000' -ErrorAction Stop } | Should -Throw -ErrorId 'NeonNotFound,PgBackup.Commands.GetNeonBackupBranchCommand'
    }
}

Describe 'Remove-NeonBackupBranch' {
    BeforeAll {
        $script:R = New-FakeProject @{ name = 'removal' }
    }

    It 'removes branches from the pipeline' {
        New-RawBranch $R.project_id 'backup_20250201_000001' | Out-Null
        New-RawBranch $R.project_id 'backup_20250201_000002' | Out-Null
        $removed = Get-NeonBackupBranch -ProjectId $R.project_id | Remove-NeonBackupBranch -Confirm:$false -PassThru
        @($removed).Count | Should -Be 2
        @(Get-NeonBackupBranch -ProjectId $R.project_id).Count | Should -Be 0
    }

    It 'removes branches by name and by id' {
        New-RawBranch $R.project_id 'backup_20250201_000003' | Out-Null
        $b = New-RawBranch $R.project_id 'backup_20250201_000004'
        Remove-NeonBackupBranch -ProjectId $R.project_id -Branch 'backup_20250201_000003', $b.Id -Confirm:$false
        @(Get-NeonBackupBranch -ProjectId $R.project_id).Count | Should -Be 0
    }

    It 'writes an error for each branch Neon refuses (default, with children, protected) and removes the rest' {
        $parent = New-RawBranch $R.project_id 'backup_20250201_000005'
        New-RawBranch $R.project_id 'child_of_backup' $parent.id | Out-Null
        $protected = New-RawBranch $R.project_id 'backup_20250201_000006'
        Invoke-FakeNeon $Fake POST "/branches/$($protected.id)/protect" | Out-Null
        $free = New-RawBranch $R.project_id 'backup_20250201_000007'
        Remove-NeonBackupBranch -ProjectId $R.project_id -Branch main, $parent.Name, $protected.Name, $free.Name -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        @($errs).Count | Should -Be 3
        @($errs | ForEach-Object { Get-ErrorId $_ } | Select-Object -Unique) | Should -Be 'NeonDeleteRefused'
        ($errs | ForEach-Object { $_.Exception.Message }) -join "`n" | Should -Match 'default branch'
        ($errs | ForEach-Object { $_.Exception.Message }) -join "`n" | Should -Match 'child branches: child_of_backup'
        ($errs | ForEach-Object { $_.Exception.Message }) -join "`n" | Should -Match 'protected'
        $left = @(Get-NeonBackupBranch -ProjectId $R.project_id -Name '*').Name
        $left | Should -Contain $parent.Name
        $left | Should -Not -Contain $free.Name
        Remove-NeonBackupBranch -ProjectId $R.project_id -Branch 'child_of_backup', $parent.Name -Confirm:$false
        @(Get-NeonBackupBranch -ProjectId $R.project_id -Name $parent.Name).Count | Should -Be 0
    }

    It 'writes NeonNotFound for an unknown branch and goes on' {
        $b = New-RawBranch $R.project_id 'backup_20250201_000008'
        Remove-NeonBackupBranch -ProjectId $R.project_id -Branch 'nope', $b.Name -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        Get-ErrorId @($errs)[0] | Should -Be 'NeonNotFound'
        @(Get-NeonBackupBranch -ProjectId $R.project_id -Name $b.Name).Count | Should -Be 0
    }

    It 'changes nothing with -WhatIf' {
        New-RawBranch $R.project_id 'backup_20250201_000009' | Out-Null
        $b = Get-NeonBackupBranch -ProjectId $R.project_id -Name 'backup_20250201_000009'
        $b | Remove-NeonBackupBranch -WhatIf
        @(Get-NeonBackupBranch -ProjectId $R.project_id -Name $b.Name).Count | Should -Be 1
    }

    It 'is a retention candidate: Remove() deletes the branch with the API it was listed with' {
        New-RawBranch $R.project_id 'backup_20250201_000010' | Out-Null
        $b = Get-NeonBackupBranch -ProjectId $R.project_id -Name 'backup_20250201_000010'
        # The module's types live in its own load context: reach the interface through the object's assembly.
        $asm = $b.GetType().Assembly
        $iface = $asm.GetType('PgBackup.IRetentionCandidate')
        $iface.IsAssignableFrom($b.GetType()) | Should -BeTrue
        $iface.GetProperty('Id').GetValue($b) | Should -Be $b.Id
        $iface.GetProperty('Time').GetValue($b) | Should -Be $b.CreatedAt
        $iface.GetProperty('Group').GetValue($b) | Should -Be "neon:$($R.project_id)"
        $iface.GetProperty('IsGood').GetValue($b) | Should -BeTrue
        $log = $asm.GetType('PgBackup.NullLog').GetField('Instance').GetValue($null)
        $saved = $env:NEON_API_KEY, $env:NEON_API_URL
        Remove-Item Env:NEON_API_KEY, Env:NEON_API_URL
        try { $null = $iface.GetMethod('Remove').Invoke($b, @($log, [System.Threading.CancellationToken]::None)) }
        finally { $env:NEON_API_KEY, $env:NEON_API_URL = $saved }
        @(Get-NeonBackupBranch -ProjectId $R.project_id -Name 'backup_20250201_000010').Count | Should -Be 0
    }
}

Describe 'Restore-NeonBackupBranch: the full cycle' {
    BeforeAll {
        $script:C = New-FakeProject @{ name = 'cycle' }
        # The application's connection string: the default branch's database.
        $script:AppUri = $C.connection_uri
        Invoke-UriSql $AppUri "CREATE TABLE plays (id int PRIMARY KEY, track text); INSERT INTO plays SELECT g, 'track ' || g FROM generate_series(1, 500) g;" | Out-Null
    }

    It 'writes data, backs up, changes data, restores, and the same connection string sees the original data' {
        $before = (Invoke-UriSql $AppUri "SELECT count(*) || ':' || md5(string_agg(track, ',' ORDER BY id)) FROM plays;") -join ''
        $backup = New-NeonBackupBranch -ProjectId $C.project_id
        $backup.IsGood | Should -BeTrue
        # The backup branch is a real copy.
        $copy = Get-FakeBranch $C.project_id $backup.Name
        (Invoke-UriSql $copy.connection_uri 'SELECT count(*) FROM plays;') | Should -Be 500

        Invoke-UriSql $AppUri "DELETE FROM plays WHERE id > 100; UPDATE plays SET track = 'oops';" | Out-Null
        $changed = (Invoke-UriSql $AppUri "SELECT count(*) || ':' || md5(string_agg(track, ',' ORDER BY id)) FROM plays;") -join ''
        $changed | Should -Not -Be $before

        $result = Get-NeonBackupBranch -ProjectId $C.project_id -Name $backup.Name | Restore-NeonBackupBranch -Confirm:$false
        $result.PSObject.TypeNames[0] | Should -Be 'PgBackup.NeonRestoreResult'
        $result.TargetBranchName | Should -Be 'main'
        $result.TargetBranchId | Should -Be $C.branch_id
        $result.SourceBranchName | Should -Be $backup.Name
        $result.PreservedBranchName | Should -Match '^main_old_\d{8}_\d{6}$'
        $result.PreservedBranchId | Should -Match '^br-'

        $after = (Invoke-UriSql $AppUri "SELECT count(*) || ':' || md5(string_agg(track, ',' ORDER BY id)) FROM plays;") -join ''
        $after | Should -Be $before
        # The state before the restore is kept, and the backup branch moved to it (found by name, not by parent).
        $old = Get-FakeBranch $C.project_id $result.PreservedBranchName
        (Invoke-UriSql $old.connection_uri "SELECT count(*) || ':' || md5(string_agg(track, ',' ORDER BY id)) FROM plays;") -join '' | Should -Be $changed
        $moved = Get-NeonBackupBranch -ProjectId $C.project_id
        $moved.Name | Should -Be $backup.Name
        $moved.ParentName | Should -Be $result.PreservedBranchName
        # The default branch keeps its id, name and endpoint.
        $state = (Invoke-FakeNeon $Fake GET /state).projects | Where-Object id -eq $C.project_id
        ($state.endpoints | Where-Object id -eq $C.endpoint_id).branch_id | Should -Be $C.branch_id
    }

    It 'restores another branch with -TargetBranch and -PreserveUnderName, by backup name' {
        $dev = New-NeonBackupBranch -ProjectId $C.project_id -Name 'dev'
        $devDb = (Get-FakeBranch $C.project_id 'dev').connection_uri
        $backup = New-NeonBackupBranch -ProjectId $C.project_id -ParentBranch dev -Name 'backup_20250301_000000'
        Invoke-UriSql $devDb 'TRUNCATE plays;' | Out-Null
        $r = Restore-NeonBackupBranch -ProjectId $C.project_id -Branch $backup.Name -TargetBranch dev -PreserveUnderName 'dev_before' -Confirm:$false
        $r.TargetBranchId | Should -Be $dev.Id
        $r.PreservedBranchName | Should -Be 'dev_before'
        Invoke-UriSql $devDb 'SELECT count(*) FROM plays;' | Should -Be 500
        Invoke-UriSql (Get-FakeBranch $C.project_id 'dev_before').connection_uri 'SELECT count(*) FROM plays;' | Should -Be 0
    }

    It 'changes nothing with -WhatIf' {
        Clear-Requests
        Restore-NeonBackupBranch -ProjectId $C.project_id -Branch 'backup_20250301_000000' -WhatIf
        @(Get-Requests | Where-Object method -ne 'GET').Count | Should -Be 0
    }

    It 'prunes old backup branches; what retention keeps stays' {
        New-NeonBackupBranch -ProjectId $C.project_id -Name 'backup_20250302_000000' | Out-Null
        $all = @(Get-NeonBackupBranch -ProjectId $C.project_id)
        $all.Count | Should -Be 3
        # Keep the newest; remove the rest (what Invoke-PgBackupRetention -KeepLast 1 does through IRetentionCandidate.Remove).
        $all | Select-Object -Skip 1 | Remove-NeonBackupBranch -Confirm:$false
        @(Get-NeonBackupBranch -ProjectId $C.project_id).Name | Should -Be $all[0].Name
    }
}

Describe 'Robustness against Neon''s faults' {
    BeforeAll {
        $script:F = New-FakeProject @{ name = 'faults' }
    }
    AfterEach { Invoke-FakeNeon $Fake DELETE /faults | Out-Null }

    It 'retries 423 (conflicting operations) on a mutation' {
        Clear-Requests
        Add-Fault @{ status = 423; count = 2; method = 'POST'; path = '/branches' }
        $b = New-NeonBackupBranch -ProjectId $F.project_id -Name 'backup_20250401_000001'
        $b.IsGood | Should -BeTrue
        $posts = @(Get-Requests | Where-Object { $_.method -eq 'POST' })
        ($posts.status -join ',') | Should -Be '423,423,201'
    }

    It 'retries a 423 that Neon gives because earlier operations still run' {
        # The previous test's operations lock the project for a moment after they finish (as Neon's do): let them end,
        # so that the other client's mutation below is accepted.
        Invoke-FakeNeon $Fake POST /settle | Out-Null
        # Another client's mutation, not waited for, whose operations run until a 423 has been answered.
        Add-Fault @{ operation = 'hang'; count = 1 }
        Invoke-RestMethod -Method Post -Uri "$($Fake.ApiUrl)/projects/$($F.project_id)/branches" -Headers @{ Authorization = "Bearer $Key" } `
            -ContentType 'application/json' -Body '{"branch":{"name":"other_client"}}' | Out-Null
        Clear-Requests
        $helper = [powershell]::Create().AddScript({
                param($Url)
                for ($i = 0; $i -lt 600; $i++) {
                    $seen = Invoke-RestMethod "$Url/_fake/requests" | ForEach-Object { $_ } | Where-Object { $_.method -eq 'POST' -and $_.status -eq 423 }
                    if ($seen) { Invoke-RestMethod -Method Post "$Url/_fake/settle" | Out-Null; return 'settled' }
                    Start-Sleep -Milliseconds 20
                }
            }).AddArgument($Fake.Url)
        $handle = $helper.BeginInvoke()
        try {
            $b = New-NeonBackupBranch -ProjectId $F.project_id -Name 'backup_20250401_000002'
            $b.IsGood | Should -BeTrue
            $helper.EndInvoke($handle) | Should -Be 'settled'
        }
        finally { $helper.Dispose() }
        $posts = @(Get-Requests | Where-Object { $_.method -eq 'POST' })
        $posts[0].status | Should -Be 423
        $posts[0].fault | Should -BeNullOrEmpty
        $posts[-1].status | Should -Be 201
    }

    It 'adopts the branch when a create was done but its answer was lost (503), instead of failing on 409' {
        Clear-Requests
        Add-Fault @{ status = 503; count = 1; method = 'POST'; path = '/branches'; after = $true }
        $b = New-NeonBackupBranch -ProjectId $F.project_id -Name 'backup_20250401_000009'
        $b.IsGood | Should -BeTrue
        (@(Get-Requests | Where-Object { $_.method -eq 'POST' }).status -join ',') | Should -Match '^503,(423,)*409$'
        @(Get-NeonBackupBranch -ProjectId $F.project_id -Name 'backup_20250401_000009').Count | Should -Be 1
    }

    It 'honours Retry-After on 429' {
        Clear-Requests
        Add-Fault @{ status = 429; count = 1; method = 'GET'; path = '/branches'; retry_after = '1' }
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        @(Get-NeonBackupBranch -ProjectId $F.project_id).Count | Should -BeGreaterThan 0
        $watch.Elapsed.TotalSeconds | Should -BeGreaterOrEqual 0.95
        $gets = @(Get-Requests | Where-Object { $_.path -like '*/branches?*' })
        $gets[0].status | Should -Be 429
        $gets[1].status | Should -Be 200
        (([datetime]$gets[1].time) - ([datetime]$gets[0].time)).TotalSeconds | Should -BeGreaterOrEqual 0.95
    }

    It 'retries 503 with backoff' {
        Clear-Requests
        Add-Fault @{ status = 503; count = 3; method = 'GET'; path = '/branches' }
        @(Get-NeonBackupBranch -ProjectId $F.project_id).Count | Should -BeGreaterThan 0
        (@(Get-Requests | Where-Object { $_.path -like '*/branches?*' }).status -join ',') | Should -Match '^503,503,503,200'
    }

    It 'gives up with NeonRetriesExhausted after -MaxRetries retries (8 by default)' {
        Clear-Requests
        Add-Fault @{ status = 503; count = 50; method = 'GET'; path = '/branches' }
        { Get-NeonBackupBranch -ProjectId $F.project_id -MaxRetries 3 -ErrorAction Stop } | Should -Throw -ErrorId 'NeonRetriesExhausted,PgBackup.Commands.GetNeonBackupBranchCommand'
        @(Get-Requests | Where-Object { $_.path -like '*/branches?*' }).Count | Should -Be 4
        (Get-Command Get-NeonBackupBranch).ImplementingType::new().MaxRetries | Should -Be 8
    }

    It 'fails with NeonUnauthorized for a wrong key (401), without showing it' {
        $wrong = ConvertTo-SecureString 'napi_wrong_key_0123456789' -AsPlainText -Force
        $err = $null
        try { Get-NeonBackupBranch -ProjectId $F.project_id -ApiKey $wrong -ErrorAction Stop } catch { $err = $_ }
        Get-ErrorId $err | Should -Be 'NeonUnauthorized'
        $err.CategoryInfo.Category | Should -Be 'AuthenticationError'
        ($err | Out-String) | Should -Not -Match 'napi_wrong_key'
    }

    It 'fails with NeonApiKeyMissing without a key, and reads NEON_API_KEY from .env' {
        $saved = $env:NEON_API_KEY
        Remove-Item Env:NEON_API_KEY
        try {
            { Get-NeonBackupBranch -ProjectId $F.project_id -ErrorAction Stop } | Should -Throw -ErrorId 'NeonApiKeyMissing,PgBackup.Commands.GetNeonBackupBranchCommand'
            Set-Content -Path (Join-Path $Folder '.env') -Value "DATABASE_URL=postgresql://u@localhost/db`nNEON_API_KEY=$Key"
            @(Get-NeonBackupBranch -ProjectId $F.project_id).Count | Should -BeGreaterThan 0
        }
        finally {
            $env:NEON_API_KEY = $saved
            Remove-Item (Join-Path $Folder '.env') -ErrorAction SilentlyContinue
        }
    }

    It 'never shows the API key in output, verbose text, errors or serialized objects' {
        $secure = ConvertTo-SecureString $Key -AsPlainText -Force
        Add-Fault @{ status = 429; count = 1; method = 'GET'; path = '/branches'; retry_after = '0' }
        $text = [System.Text.StringBuilder]::new()
        $b = New-NeonBackupBranch -ProjectId $F.project_id -ApiKey $secure -Name 'backup_20250401_000003' -Verbose 4>&1 2>&1 |
            ForEach-Object { $null = $text.AppendLine(($_ | Out-String)); $_ } | Where-Object { $_.PSObject.TypeNames[0] -eq 'PgBackup.NeonBackupBranch' }
        Get-NeonBackupBranch -ProjectId $F.project_id -ApiKey $secure -Verbose 4>&1 | ForEach-Object { $null = $text.AppendLine(($_ | Out-String)) }
        Remove-NeonBackupBranch -ProjectId $F.project_id -ApiKey $secure -Branch 'main', 'nope' -Confirm:$false -Verbose -ErrorAction SilentlyContinue -ErrorVariable errs 4>&1 |
            ForEach-Object { $null = $text.AppendLine(($_ | Out-String)) }
        foreach ($e in $errs) { $null = $text.AppendLine(($e | Format-List * -Force | Out-String)); $null = $text.AppendLine(($e.Exception | Format-List * -Force | Out-String)) }
        $null = $text.AppendLine(($b | Format-List * -Force | Out-String))
        $null = $text.AppendLine(($b | ConvertTo-Json -Depth 5))
        $xml = Join-Path $Folder 'branch.xml'
        $b | Export-Clixml -Path $xml
        $null = $text.AppendLine((Get-Content -Raw $xml))
        $null = $text.AppendLine("$b")
        $all = $text.ToString()
        $all | Should -Match 'retrying'       # the verbose text is there...
        $all | Should -Match 'NeonDeleteRefused|refused'
        $all.Contains($Key) | Should -BeFalse # ...and the key is not
    }
}

Describe 'The project from DATABASE_URL' {
    BeforeAll {
        # More projects than one page of GET /projects (page size 2), in two regions, one in an organization.
        Invoke-FakeNeon $Fake POST /settings @{ project_page_size = 2 } | Out-Null
        $script:Plain = New-FakeProject @{ name = 'plain-host'; region_id = 'aws-eu-central-1' }
        $script:Cell = New-FakeProject @{ name = 'cell-host'; cell = 'c-2'; region_id = 'aws-us-east-2' }
        Invoke-FakeNeon $Fake POST /organizations @{ id = 'org-quiet-sun-12345678'; name = 'Acme' } | Out-Null
        $script:Org = New-FakeProject @{ name = 'org-project'; org_id = 'org-quiet-sun-12345678' }
        foreach ($p in $Plain, $Cell, $Org) { New-RawBranch $p.project_id 'backup_20250501_000000' | Out-Null }
    }
    AfterAll {
        Invoke-FakeNeon $Fake POST /settings @{ project_page_size = 400 } | Out-Null
        Remove-Item Env:DATABASE_URL, Env:NEON_PROJECT_ID -ErrorAction SilentlyContinue
    }

    It 'finds the project of a <Case> host' -ForEach @(
        @{ Case = 'direct'; Which = 'Plain'; HostProperty = 'host' }
        @{ Case = '-pooler'; Which = 'Plain'; HostProperty = 'pooler_host' }
        @{ Case = 'cell-labelled -pooler'; Which = 'Cell'; HostProperty = 'pooler_host' }
        @{ Case = 'cell-labelled direct'; Which = 'Cell'; HostProperty = 'host' }
        @{ Case = 'organization project''s'; Which = 'Org'; HostProperty = 'pooler_host' }
    ) {
        $p = Get-Variable -Name $Which -ValueOnly
        $p.$HostProperty | Should -Match '^ep-'
        if ($Which -eq 'Cell') { $p.$HostProperty | Should -Match '\.c-2\.us-east-2\.aws\.neon\.tech$' }
        $env:DATABASE_URL = "postgresql://neondb_owner:npg_secret@$($p.$HostProperty)/neondb?sslmode=require"
        $b = Get-NeonBackupBranch
        $b.ProjectId | Should -Be $p.project_id
        $b.Name | Should -Be 'backup_20250501_000000'
    }

    It 'takes -ConnectionString, and an explicit project id always wins' {
        Remove-Item Env:DATABASE_URL -ErrorAction SilentlyContinue
        (Get-NeonBackupBranch -ConnectionString "postgresql://u:p@$($Cell.pooler_host)/neondb").ProjectId | Should -Be $Cell.project_id
        $env:NEON_PROJECT_ID = $Plain.project_id
        try { (Get-NeonBackupBranch -ConnectionString "postgresql://u:p@$($Cell.pooler_host)/neondb").ProjectId | Should -Be $Plain.project_id }
        finally { Remove-Item Env:NEON_PROJECT_ID }
    }

    It 'backs up the default branch and warns when the connection string points at another branch' {
        $r = Invoke-RestMethod -Method Post -Uri "$($Fake.ApiUrl)/projects/$($Plain.project_id)/branches" -Headers @{ Authorization = "Bearer $Key" } `
            -ContentType 'application/json' -Body '{"branch":{"name":"dev"},"endpoints":[{"type":"read_write"}]}'
        Invoke-FakeNeon $Fake POST /settle | Out-Null
        $devHost = $r.endpoints[0].host
        $b = New-NeonBackupBranch -ConnectionString "postgresql://u:p@$devHost/neondb" -Name 'backup_20250501_000001' -WarningVariable warnings -WarningAction SilentlyContinue
        $b.ProjectId | Should -Be $Plain.project_id
        $b.ParentName | Should -Be 'main'
        "$warnings" | Should -Match "points at branch 'dev'"
        (New-NeonBackupBranch -ConnectionString "postgresql://u:p@$devHost/neondb" -ParentBranch dev -Name 'backup_20250501_000002').ParentName | Should -Be 'dev'
    }

    It 'fails with NeonProjectNotFound for <Case>' -ForEach @(
        @{ Case = 'a host that is not Neon''s'; Uri = 'postgresql://u:p@db.example.com/app' }
        @{ Case = 'an endpoint no project has'; Uri = 'postgresql://u:p@ep-missing-endpoint-abcdefgh.c-2.us-east-2.aws.neon.tech/neondb' }
    ) {
        { Get-NeonBackupBranch -ConnectionString $Uri -ErrorAction Stop } | Should -Throw -ErrorId 'NeonProjectNotFound,PgBackup.Commands.GetNeonBackupBranchCommand'
    }
}

Describe 'The fake Neon API' {
    It 'answered every request of this run as Neon''s spec says (strict validation)' {
        $violations = @(Invoke-FakeNeon $Fake GET /violations | ForEach-Object { $_ })
        $violations -join "`n" | Should -BeNullOrEmpty
    }
}

Describe 'Retention of Neon backup branches (Get-NeonBackupBranch | Invoke-PgBackupRetention)' {
    It 'plans and removes branches exactly as it does files, never counting a branch that is not ready' {
        $project = New-FakeProject @{ name = 'retention'; branch_limit = 20 }
        $projectId = $project.project_id
        if (-not $projectId) { $projectId = $project.id }
        $today = [datetime]::UtcNow.Date
        $made = @()
        foreach ($daysAgo in 1..12) {
            $day = $today.AddDays(-$daysAgo).AddHours(3)
            $b = New-RawBranch -ProjectId $projectId -Name ('backup_' + $day.ToString('yyyyMMdd_HHmmss'))
            Invoke-FakeNeon $Fake POST "/branches/$($b.id)/backdate" @{ created_at = $day.ToString('yyyy-MM-ddTHH:mm:ssZ') } | Out-Null
            $made += [pscustomobject]@{ Id = $b.id; Day = $day }
        }
        # The newest backup's operations fail: it never becomes ready, and must not count as a kept backup.
        Add-Fault @(@{ operation = 'fail'; count = 1 })
        $broken = Invoke-RestMethod -Method Post -Uri "$($Fake.ApiUrl)/projects/$projectId/branches" -Headers @{ Authorization = "Bearer $Key" } `
            -ContentType 'application/json' -Body (@{ branch = @{ name = 'backup_' + $today.AddHours(2).ToString('yyyyMMdd_HHmmss') }; endpoints = @() } | ConvertTo-Json -Depth 4)
        Set-Settled

        $branches = @(Get-NeonBackupBranch -ProjectId $projectId)
        $branches.Count | Should -Be 13
        $plan = @($branches | Invoke-PgBackupRetention -KeepDaily 7 -KeepWeekly 4 -WhatIf)
        $plan.Count | Should -Be 13
        ($plan | Where-Object Id -eq $broken.branch.id).Action | Should -Be 'Keep'
        ($plan | Where-Object Id -eq $broken.branch.id).Reasons -join ' ' | Should -Match 'incomplete'
        $kept = @($plan | Where-Object { $_.Action -eq 'Keep' -and $_.Id -ne $broken.branch.id })
        # 7 daily (the 7 newest days) and up to 4 weekly (ISO weeks' newest), never fewer than 7.
        $kept.Count | Should -BeGreaterOrEqual 7
        ($kept | Sort-Object Time -Descending | Select-Object -First 1).Reasons | Should -Contain 'newest'
        @(Get-NeonBackupBranch -ProjectId $projectId).Count | Should -Be 13 -Because '-WhatIf removes nothing'

        $done = @($branches | Invoke-PgBackupRetention -KeepDaily 7 -KeepWeekly 4 -Confirm:$false)
        $removed = @($done | Where-Object Action -eq 'Remove')
        $removed.Count | Should -Be (13 - 1 - $kept.Count)
        $left = @(Get-NeonBackupBranch -ProjectId $projectId).Id | Sort-Object
        $left | Should -Be (@($kept.Id) + $broken.branch.id | Sort-Object)
        $state = (Invoke-FakeNeon $Fake GET /state).projects | Where-Object id -eq $projectId
        foreach ($r in $removed) { $state.branches.id | Should -Not -Contain $r.Id }
    }
}
