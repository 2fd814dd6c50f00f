<#
.SYNOPSIS
The nightly PgBackup job: back up, run a restore drill, copy off the machine, apply retention.
.DESCRIPTION
Meant for Windows Task Scheduler (see Register-PgBackupTask.ps1), cron, or any scheduler that looks at exit codes.
Every step that fails stops the job, and the process exits with code 1 and the step's error id, so the scheduler
shows the run as failed; a good run exits with 0. Each step's result object is written to the log.

With -AllDatabases the job covers the whole server: every database (also those created since the job was written),
the roles once (-Globals), each database in its own backup. A database that fails is logged (its name and error id)
and the others are still backed up, drilled, copied and pruned; the job then exits with 1.

For s3:// locations (-BackupPath or -UploadTo), the credentials come from -S3ProfileName (a profile in the AWS
shared credentials file of the account the job runs as) or the AWS default chain (AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, the default profile, an instance role); S3-compatible services also need -S3EndpointUrl (or
AWS_ENDPOINT_URL_S3).
.EXAMPLE
pwsh -NoProfile -NonInteractive -File Invoke-PgBackupJob.ps1 -BackupPath D:\backups -Drill -UploadTo s3://acme-backups/pg
.EXAMPLE
pwsh -NoProfile -NonInteractive -File Invoke-PgBackupJob.ps1 -BackupPath /var/backups/pg -UploadTo s3://offsite/pg -S3ProfileName b2 -S3EndpointUrl https://s3.us-west-004.backblazeb2.com -S3Region us-west-004

Copies each backup to Backblaze B2, with the keys of the [b2] profile in ~/.aws/credentials.
.EXAMPLE
pwsh -NoProfile -NonInteractive -File Invoke-PgBackupJob.ps1 -ConnectionString postgresql://backup@db1/postgres -AllDatabases -Globals -ExcludeDatabase 'scratch_*' -ThrottleLimit 2 -BackupPath /var/backups/pg -Drill

The whole server, two databases at a time, with the roles; one failed database makes the exit code 1.
#>
[CmdletBinding()]
param(
    # The database (postgresql:// URI or key=value). Default: $env:DATABASE_URL, then DATABASE_URL in .env.
    # With -AllDatabases: any database of the server.
    [string]$ConnectionString,
    # Back up every database of the server (each its own backup) instead of the one in the connection string.
    [switch]$AllDatabases,
    # With -AllDatabases: only these databases / not these (wildcard patterns).
    [string[]]$IncludeDatabase,
    [string[]]$ExcludeDatabase,
    # With -AllDatabases: how many databases are backed up at a time.
    [int]$ThrottleLimit = 1,
    # Save the cluster's roles beside the backups (pg_dumpall --globals-only), for restores on a new server;
    # -NoRolePasswords leaves their passwords out (needed unless the job runs as a superuser).
    [switch]$Globals,
    [switch]$NoRolePasswords,
    # Where backups are written: a folder or an s3:// location.
    [string]$BackupPath = (Join-Path $PSScriptRoot 'backups'),
    # Restore the new backup into a scratch database and compare (the guide's monthly drill, every night).
    [switch]$Drill,
    # The server for the drill (default: the backed-up server).
    [string]$DrillConnectionString,
    # Copy the new backup here as well (for example s3://bucket/prefix), so that it does not live only on this machine.
    [string]$UploadTo,
    # For s3:// locations: a profile of the AWS shared credentials file (default: the AWS default credential chain).
    [string]$S3ProfileName,
    # For s3:// locations on an S3-compatible service: its endpoint, for example https://s3.us-west-004.backblazeb2.com.
    [string]$S3EndpointUrl,
    # For s3:// locations: the bucket's region (or the signing region an S3-compatible service asks for).
    [string]$S3Region,
    # How long pg_dump may wait for a table's lock (a long migration, a VACUUM FULL) before the job fails instead of
    # hanging until someone notices; 0: no limit.
    [int]$LockWaitTimeoutSeconds = 600,
    # The guide's retention: 7 daily, 4 weekly, 12 monthly backups.
    [int]$KeepDaily = 7,
    [int]$KeepWeekly = 4,
    [int]$KeepMonthly = 12,
    # A log file (a local path); each step's outcome is appended.
    [string]$LogPath,
    # Where PgBackup is, when it is not installed in a module folder.
    [string]$ModulePath = 'PgBackup'
)
$ErrorActionPreference = 'Stop'
$started = Get-Date

function Write-JobLog([string]$Message) {
    # UTC, as the 'Z' of the 'u' format says ('{0:u}' of a local time would print local time with a Z).
    $line = '{0:u} {1}' -f [DateTime]::UtcNow, $Message
    Write-Output $line
    # A log that cannot be written (a full disk, a path that is not a file) never decides the job's outcome.
    if ($LogPath) {
        try { Add-Content -Path $LogPath -Value $line -ErrorAction Stop }
        catch { Write-Warning "Could not write the log '$LogPath': $($_.Exception.Message)" }
    }
}

$step = 'import'
try {
    Import-Module $ModulePath
    $connection = @{}
    if ($ConnectionString) { $connection.ConnectionString = $ConnectionString }
    # S3 settings for every command that may reach a bucket (ignored for folders).
    $s3 = @{}
    if ($S3ProfileName) { $s3.ProfileName = $S3ProfileName }
    if ($S3EndpointUrl) { $s3.EndpointUrl = $S3EndpointUrl }
    if ($S3Region) { $s3.Region = $S3Region }

    $step = 'backup'
    $dump = @{}
    if ($LockWaitTimeoutSeconds -gt 0) { $dump.LockWaitTimeoutSeconds = $LockWaitTimeoutSeconds }
    if ($Globals) { $dump.Globals = $true; if ($NoRolePasswords) { $dump.NoRolePasswords = $true } }
    $failed = 0
    if ($AllDatabases) {
        # One summary per database; a failed one is logged and the others go on (its error is not terminating).
        if ($IncludeDatabase) { $dump.IncludeDatabase = $IncludeDatabase }
        if ($ExcludeDatabase) { $dump.ExcludeDatabase = $ExcludeDatabase }
        $results = @(New-PgBackup @connection -AllDatabases -ThrottleLimit $ThrottleLimit -Summary -Path $BackupPath @s3 @dump -ErrorAction SilentlyContinue)
        foreach ($r in $results | Where-Object Status -ne 'Complete') {
            $failed++
            Write-JobLog ("backup FAILED: '{0}': {1}: {2}" -f ($r.Database -replace '[\x00-\x1f\x7f]', '?'), $r.ErrorId, $r.Message)
        }
        $backups = @($results | Where-Object Status -eq 'Complete' | ForEach-Object Backup)
    }
    else { $backups = @(New-PgBackup @connection -Path $BackupPath @s3 @dump) }
    foreach ($backup in $backups) {
        Write-JobLog ("backup ok: {0} ({1:N0} bytes, {2} tables, {3:N0} rows, {4:N1} s)" -f $backup.Path, $backup.SizeBytes, $backup.TableCount, $backup.RowCount, $backup.Duration.TotalSeconds)
    }

    if ($Drill) {
        $step = 'drill'
        $drillConnection = if ($DrillConnectionString) { @{ ConnectionString = $DrillConnectionString } } else { $connection }
        foreach ($backup in $backups) {
            $test = $backup | Test-PgBackup -Restore @drillConnection
            Write-JobLog ("drill ok: {0} ({1:N1} s)" -f (($test.Checks | ForEach-Object Name) -join ', '), $test.Duration.TotalSeconds)
        }
    }

    if ($UploadTo) {
        $step = 'upload'
        foreach ($backup in $backups) {
            $copy = $backup | Copy-PgBackup -Destination $UploadTo @s3
            Write-JobLog "upload ok: $($copy.Path)"
        }
    }

    $step = 'retention'
    if ($backups.Count -gt 0) {
        # By name, not by -Database (a database's name may hold wildcard characters).
        $names = @($backups | ForEach-Object Database)
        $plan = Get-PgBackup -Path $BackupPath @s3 | Where-Object { $names -ccontains $_.Database } |
            Invoke-PgBackupRetention -KeepDaily $KeepDaily -KeepWeekly $KeepWeekly -KeepMonthly $KeepMonthly -Confirm:$false
        $removed = @($plan | Where-Object Action -eq 'Remove')
        Write-JobLog ("retention ok: kept {0}, removed {1}" -f @($plan | Where-Object Action -eq 'Keep').Count, $removed.Count)
    }

    if ($failed -gt 0) {
        Write-JobLog ("job FAILED: {0} database(s) not backed up; the other {1} were, in {2:N1} s" -f $failed, $backups.Count, ((Get-Date) - $started).TotalSeconds)
        exit 1
    }
    Write-JobLog ("job ok in {0:N1} s" -f ((Get-Date) - $started).TotalSeconds)
    exit 0
}
catch {
    $id = $_.FullyQualifiedErrorId
    Write-JobLog "job FAILED at step '$step': $id`: $($_.Exception.Message)"
    exit 1
}
