<#
.SYNOPSIS
Installs the nightly PgBackup job in Windows Task Scheduler (daily at 03:00).
.DESCRIPTION
Run once, elevated, on the Windows machine that makes the backups. The task runs Invoke-PgBackupJob.ps1 with
PowerShell 7 (pwsh.exe; use powershell.exe for Windows PowerShell 5.1); the task's "Last Run Result" is the job's
exit code: 0 when every step worked, 1 when one failed. The database password is not on the command line: put
DATABASE_URL (with the password, or without it and use a .pgpass file) in the service account's environment or in
a .env file beside the script.
#>
param(
    [string]$JobScript = 'C:\PgBackup\Invoke-PgBackupJob.ps1',
    [string]$BackupPath = 'D:\backups',
    [string]$UploadTo,
    [string]$TaskName = 'PgBackup nightly',
    [string]$User = 'NT AUTHORITY\SYSTEM'
)
$arguments = "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$JobScript`" -BackupPath `"$BackupPath`" -Drill -LogPath `"$BackupPath\pgbackup-job.log`""
if ($UploadTo) { $arguments += " -UploadTo `"$UploadTo`"" }
$action = New-ScheduledTaskAction -Execute 'pwsh.exe' -Argument $arguments -WorkingDirectory (Split-Path $JobScript)
$trigger = New-ScheduledTaskTrigger -Daily -At '03:00'
$settings = New-ScheduledTaskSettingsSet -StartWhenAvailable -ExecutionTimeLimit (New-TimeSpan -Hours 4) -RestartCount 2 -RestartInterval (New-TimeSpan -Minutes 15)
Register-ScheduledTask -TaskName $TaskName -Action $action -Trigger $trigger -Settings $settings -User $User -RunLevel Highest -Force
