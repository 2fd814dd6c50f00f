# Starts and stops the fake Neon API (tests/FakeNeon, built by build.ps1 into output/test-fixtures/FakeNeon) and talks
# to its control routes (/_fake/...). The fake exits by itself when the PowerShell process that started it ends.

Set-StrictMode -Version Latest

function Start-FakeNeon {
    param(
        [Parameter(Mandatory)][string]$RepoRoot,
        [Parameter(Mandatory)][string[]]$ApiKey,
        # postgresql:// URI of an admin connection to the server that holds the branch databases.
        [string]$AdminUri,
        [int]$BranchPageSize = 100,
        [int]$ProjectPageSize = 400,
        [int]$OperationMs = 250,
        [int]$LockLagMs = 100
    )
    $dll = Join-Path $RepoRoot 'output/test-fixtures/FakeNeon/FakeNeon.dll'
    if (-not (Test-Path $dll)) { throw "The fake Neon API is not built ($dll): run the tests with build.ps1 -Task Test." }
    $psi = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
    foreach ($a in @($dll, '--parent-pid', "$PID", '--branch-page-size', "$BranchPageSize", '--project-page-size', "$ProjectPageSize",
            '--operation-ms', "$OperationMs", '--lock-lag-ms', "$LockLagMs")) { $psi.ArgumentList.Add($a) }
    # Keys and the admin URI go through the environment, not the command line.
    $psi.Environment['FAKENEON_API_KEYS'] = $ApiKey -join ','
    if ($AdminUri) { $psi.Environment['FAKENEON_ADMIN_URI'] = $AdminUri }
    $psi.RedirectStandardOutput = $true
    $psi.UseShellExecute = $false
    $process = [System.Diagnostics.Process]::Start($psi)
    $read = $process.StandardOutput.ReadLineAsync()
    if (-not $read.Wait([TimeSpan]::FromSeconds(60)) -or $read.Result -notmatch 'listening on (http://\S+)') {
        if (-not $process.HasExited) { $process.Kill() }
        throw "The fake Neon API did not start: $($read.Result)"
    }
    $url = $Matches[1]
    [pscustomobject]@{ Process = $process; Url = $url; ApiUrl = "$url/api/v2" }
}

function Stop-FakeNeon {
    param($Fake)
    if (-not $Fake -or -not $Fake.Process) { return }
    $p = $Fake.Process
    if (-not $p.HasExited) {
        # SIGTERM lets it drop its branch databases; kill it when it does not stop in time.
        & kill -TERM $p.Id 2>$null
        if (-not $p.WaitForExit(15000)) { $p.Kill(); $p.WaitForExit() }
    }
    $p.Dispose()
}

function Invoke-FakeNeon {
    # Calls a control route: Invoke-FakeNeon $fake POST /projects @{ name = 'x' }
    param([Parameter(Mandatory)]$Fake, [Parameter(Mandatory)][string]$Method, [Parameter(Mandatory)][string]$Path, $Body)
    $params = @{ Method = $Method; Uri = "$($Fake.Url)/_fake$Path" }
    if ($null -ne $Body) { $params.Body = (ConvertTo-Json -InputObject $Body -Depth 5 -Compress); $params.ContentType = 'application/json' }
    Invoke-RestMethod @params
}

Export-ModuleMember -Function Start-FakeNeon, Stop-FakeNeon, Invoke-FakeNeon
