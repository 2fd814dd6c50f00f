<#
.SYNOPSIS
Installs the nightly PgBackup job in Windows Task Scheduler (daily at 03:00).
.DESCRIPTION
Run once, elevated, on the Windows machine that makes the backups. The task runs Invoke-PgBackupJob.ps1 with the
PowerShell that runs this script (pwsh.exe or powershell.exe; -PowerShellPath to choose); the task's "Last Run Result"
is the job's exit code: 0 when every step worked, 1 when one failed. The database password is not on the command
line: put DATABASE_URL (with the password, or without it and a password file) in the service account's environment
or in a .env file beside the script. On Windows libpq's password file is %APPDATA%\postgresql\pgpass.conf of the
account the task runs as (for SYSTEM: C:\Windows\System32\config\systemprofile\AppData\Roaming\postgresql\pgpass.conf),
or the file PGPASSFILE names.
.EXAMPLE
.\Register-PgBackupTask.ps1 -BackupPath D:\ -UploadTo s3://acme-backups/pg

Backs up to the root of D:, copies each backup to the bucket, and logs to C:\PgBackup\pgbackup-job.log.
#>
param(
    [string]$JobScript = 'C:\PgBackup\Invoke-PgBackupJob.ps1',
    # A folder or an s3:// location.
    [string]$BackupPath = 'D:\backups',
    [string]$UploadTo,
    # The job's log: a local file (default: beside the job script), also when the backups go to a bucket.
    [string]$LogPath = (($JobScript -replace '\\[^\\]*$', '') + '\pgbackup-job.log'),
    # The PowerShell that runs the job (default: the one running this script).
    [string]$PowerShellPath = (Get-Process -Id $PID).Path,
    [string]$TaskName = 'PgBackup nightly',
    [string]$User = 'NT AUTHORITY\SYSTEM'
)
if ($LogPath -match '^[a-z][a-z0-9+.-]+://') { throw "-LogPath must be a local file, not '$LogPath'." }

function ConvertTo-WindowsArgument([string]$Value) {
    # One argument as the C runtime (and so powershell.exe and pwsh.exe) splits a command line: quoted when it holds a
    # blank or a quote (or is empty), a quote as \", and backslashes doubled before a quote, so that D:\ stays D:\ and
    # does not become D:" with the rest of the line.
    if ($Value.Length -gt 0 -and $Value -notmatch '[\s"]') { return $Value }
    '"' + ($Value -replace '(\\*)"', '$1$1\"' -replace '(\\+)$', '$1$1') + '"'
}

$jobArguments = @('-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', $JobScript, '-BackupPath', $BackupPath, '-Drill', '-LogPath', $LogPath)
if ($UploadTo) { $jobArguments += @('-UploadTo', $UploadTo) }
$arguments = ($jobArguments | ForEach-Object { ConvertTo-WindowsArgument $_ }) -join ' '
$action = New-ScheduledTaskAction -Execute $PowerShellPath -Argument $arguments -WorkingDirectory ($JobScript -replace '\\[^\\]*$', '')
$trigger = New-ScheduledTaskTrigger -Daily -At '03:00'
$settings = New-ScheduledTaskSettingsSet -StartWhenAvailable -ExecutionTimeLimit (New-TimeSpan -Hours 4) -RestartCount 2 -RestartInterval (New-TimeSpan -Minutes 15)
Register-ScheduledTask -TaskName $TaskName -Action $action -Trigger $trigger -Settings $settings -User $User -RunLevel Highest -Force
