<#
Runs a script in a fresh `pwsh -NoProfile -NonInteractive` whose user folders are a temporary folder: PSResourceGet's
settings (its registered repositories), the CurrentUser module folder and PowerShell's caches all land there, so the
build and the install tests never change the user's own PSResourceGet repositories or modules.

On Linux and macOS, .NET finds these folders through HOME and the XDG_* variables, which are set for the child only.
The folders are created first: PSResourceGet writes its settings relative to the current folder when the local
application-data folder does not exist. (On Windows these folders do not follow environment variables: there the
build's uniquely named repository, removed in a finally block, is what keeps the user's settings as they were.)
#>

function Get-PwshCommand {
    # A fresh PowerShell of the same version as this one (the dotnet tool runs as 'dotnet pwsh.dll').
    $pwshDll = Join-Path $PSHOME 'pwsh.dll'
    if ((Test-Path $pwshDll) -and [Environment]::ProcessPath -match 'dotnet(\.exe)?$') { @([Environment]::ProcessPath, $pwshDll) }
    else { @([Environment]::ProcessPath) }
}

function Invoke-IsolatedPwsh {
    <#
    Runs -Script (text) with -Arguments in a child pwsh whose HOME and XDG folders are under -UserHome and whose
    PSModulePath is -ModulePath (the child adds its own user folder, under -UserHome, and $PSHOME/Modules).
    -Environment sets more variables for the child only (secrets go here, never on the command line).
    Returns the exit code and the output (stdout and stderr) as one string.
    #>
    param(
        [Parameter(Mandatory)][string]$Script,
        [string[]]$Arguments = @(),
        [Parameter(Mandatory)][string]$UserHome,
        [string]$ModulePath,
        [hashtable]$Environment = @{}
    )
    $folders = [ordered]@{
        HOME            = $UserHome
        XDG_DATA_HOME   = Join-Path $UserHome '.local/share'
        XDG_CONFIG_HOME = Join-Path $UserHome '.config'
        XDG_CACHE_HOME  = Join-Path $UserHome '.cache'
    }
    foreach ($f in $folders.Values) { New-Item -ItemType Directory -Force -Path $f | Out-Null }
    $file = Join-Path $UserHome ('script-' + [guid]::NewGuid().ToString('n') + '.ps1')
    Set-Content -Path $file -Value $Script -Encoding utf8
    $command = @(Get-PwshCommand)
    $psi = [System.Diagnostics.ProcessStartInfo]::new($command[0])
    foreach ($a in @($command | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive', '-File', $file) + $Arguments) { $psi.ArgumentList.Add($a) }
    foreach ($k in $folders.Keys) { $psi.Environment[$k] = $folders[$k] }
    $psi.Environment['PSModulePath'] = if ($ModulePath) { $ModulePath } else { '' }
    foreach ($k in $Environment.Keys) { $psi.Environment[$k] = [string]$Environment[$k] }
    $psi.WorkingDirectory = $UserHome
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $p = [System.Diagnostics.Process]::Start($psi)
    try {
        $stderr = $p.StandardError.ReadToEndAsync()
        $stdout = $p.StandardOutput.ReadToEnd()
        $p.WaitForExit()
        [pscustomobject]@{ ExitCode = $p.ExitCode; Output = $stdout + $stderr.GetAwaiter().GetResult() }
    }
    finally {
        $p.Dispose()
        Remove-Item $file -ErrorAction SilentlyContinue
    }
}

Export-ModuleMember -Function Get-PwshCommand, Invoke-IsolatedPwsh
