<#
.SYNOPSIS
An Azure Automation runbook (PowerShell 7.4 runtime) that backs up a PostgreSQL database straight to Azure Blob
Storage (with the runbook's managed identity, or a SAS token) or to S3, optionally runs a restore drill, and applies
retention there.
.DESCRIPTION
Every setting comes from the Automation account's shared resources, so that no secret is in the runbook, its
parameters or its job output. Create these assets (the names are the defaults; each is a parameter of the runbook,
so other names work too):

  Variables (Shared Resources > Variables; mark the connection string as encrypted when it holds a password):
    PgBackup-ConnectionString   required  postgresql://user@host:5432/dbname?sslmode=require, or key=value pairs.
                                          It may carry the password; otherwise use the credential below.
    PgBackup-AzureUri           Where backups go in Azure Blob Storage: az://account/container/prefix/ or
                                          https://account.blob.core.windows.net/container/prefix/ (the container must
                                          exist). Give either it or PgBackup-S3Uri.
    PgBackup-AzureSasToken      optional  A SAS token for the container (mark it encrypted). Without it the runbook's
                                          managed identity is used (DefaultAzureCredential): give the identity the role
                                          'Storage Blob Data Contributor' on the container.
    PgBackup-AzureClientId      optional  The client id of a user-assigned managed identity (none: the system-assigned one).
    PgBackup-AzureEndpointUrl   optional  The blob service's address when it is not <account>.blob.core.windows.net.
    PgBackup-S3Uri              Where backups go in S3: s3://bucket/prefix/ (the bucket must exist).
    PgBackup-S3EndpointUrl      optional  An S3-compatible service's endpoint (Backblaze B2, Cloudflare R2, Wasabi,
                                          MinIO, Ceph...); leave it out for AWS S3.
    PgBackup-S3Region           optional  The bucket's region (AWS), or the signing region a service asks for
                                          (R2: auto; B2: the one in its endpoint).
    PgBackup-DrillConnectionString optional  The server for -Drill, when it is not the backed-up one.

  Credentials (Shared Resources > Credentials):
    PgBackup-Database           optional  The database user and password; they override those of the connection
                                          string.
    PgBackup-S3                 optional  The S3 access key id as user name and the secret access key as password.
                                          Without it the AWS default credential chain is used (environment
                                          variables or an instance role, for example on a Hybrid Runbook Worker).
    PgBackup-DrillDatabase      optional  The user and password for the drill's server.

An optional asset that does not exist (or is empty) is simply not used; a required one that is missing fails the job.

The backup is streamed to the container (as blocks committed at the end) or the bucket (as a multipart upload), with no copy on local disk: Azure's cloud sandbox has
about 1 GB of disk and 400 MB of memory, and the upload needs about 15 MiB of part buffers. The sandbox has no
PostgreSQL client tools and runs no programs: there New-PgBackup uses PgBackup's own engine (PostgreSQL 12 to 18, Plain
backups), and the drill of a Plain backup needs no tool either. On a Hybrid Runbook Worker with a pg_dump at least as
new as the server (on PATH, or in the folder -PgBinPath names), pg_dump is used.

Each step (import, settings, backup, drill, retention) writes a line to the job's output, and a summary object is
written at the end. When a step fails, the runbook writes "FAILED at step '<step>': <error id>: <message>" and
throws, so the Automation job ends as Failed (and, run with pwsh -File elsewhere, the process exits with code 1).
Passwords and secret keys are never written: PgBackup keeps them out of its objects, messages and errors, and this
runbook never writes the connection string.
.PARAMETER AllDatabases
Back up every database of the server the connection string names (each its own backup; -IncludeDatabase and
-ExcludeDatabase wildcard patterns, -ThrottleLimit databases at a time, -Globals for the roles). A database that fails
is logged ("backup FAILED: '<database>': <error id>: <message>") and the others are still backed up, drilled and
pruned; then the runbook throws, so the job ends as Failed. The output ends with one summary per database.
.PARAMETER Drill
Restore the new backup into a scratch database and compare it with the manifest (Test-PgBackup -Restore), on the
backed-up server or the one in the drill connection string variable. The user needs the right to create databases.
.PARAMETER KeepDaily
Retention in the bucket: newest backup of each of this many days (restic's rules; see Invoke-PgBackupRetention).
Only backups of the same database under the same prefix are considered; the newest good backup is always kept.
.PARAMETER PgBinPath
A folder with pg_dump, when it is not on PATH (without a fitting one, PgBackup's own engine makes the backup).
.PARAMETER ModulePath
The PgBackup module to import: its name (imported into the Automation account) or a path to PgBackup.psd1.
.EXAMPLE
Start-AzAutomationRunbook -AutomationAccountName ops -ResourceGroupName ops-rg -Name PgBackup-Runbook -Parameters @{ Drill = $true }

Starts the runbook with the default asset names and a restore drill after the backup.
.EXAMPLE
Start-AzAutomationRunbook -AutomationAccountName ops -ResourceGroupName ops-rg -Name PgBackup-Runbook -RunOn pg-workers `
    -Parameters @{ ConnectionStringVariable = 'Billing-DatabaseUrl'; S3UriVariable = 'Billing-BackupUri'; KeepDaily = 14 }

Backs up another database with its own variables, on a Hybrid Runbook Worker group, keeping 14 daily backups.
.EXAMPLE
New-AzRoleAssignment -ObjectId (Get-AzAutomationAccount -ResourceGroupName ops-rg -Name ops).Identity.PrincipalId `
    -RoleDefinitionName 'Storage Blob Data Contributor' `
    -Scope '/subscriptions/<id>/resourceGroups/ops-rg/providers/Microsoft.Storage/storageAccounts/acmebackups/blobServices/default/containers/postgres'
New-AzAutomationVariable -AutomationAccountName ops -ResourceGroupName ops-rg -Name PgBackup-AzureUri -Value 'az://acmebackups/postgres/app/' -Encrypted $false

Lets the Automation account's system-assigned managed identity write to the container, and sends the backups there
(no key or SAS anywhere).
.EXAMPLE
Start-AzAutomationRunbook -AutomationAccountName ops -ResourceGroupName ops-rg -Name PgBackup-Runbook -RunOn pg-workers `
    -Parameters @{ AllDatabases = $true; Globals = $true; ExcludeDatabase = 'scratch_*'; ThrottleLimit = 2; Drill = $true }

Backs up every database of the server (and its roles, with a pg_dumpall on the worker), two at a time, and drills each.
.EXAMPLE
New-AzAutomationSchedule -AutomationAccountName ops -ResourceGroupName ops-rg -Name 'PgBackup nightly' -StartTime (Get-Date '03:00').AddDays(1) -DayInterval 1
Register-AzAutomationScheduledRunbook -AutomationAccountName ops -ResourceGroupName ops-rg -RunbookName PgBackup-Runbook -ScheduleName 'PgBackup nightly'

Runs the runbook every night at 03:00.
#>
[CmdletBinding()]
param(
    # Names of the Automation variables.
    [string]$ConnectionStringVariable = 'PgBackup-ConnectionString',
    [string]$AzureUriVariable = 'PgBackup-AzureUri',
    [string]$AzureSasTokenVariable = 'PgBackup-AzureSasToken',
    [string]$AzureClientIdVariable = 'PgBackup-AzureClientId',
    [string]$AzureEndpointUrlVariable = 'PgBackup-AzureEndpointUrl',
    [string]$S3UriVariable = 'PgBackup-S3Uri',
    [string]$S3EndpointUrlVariable = 'PgBackup-S3EndpointUrl',
    [string]$S3RegionVariable = 'PgBackup-S3Region',
    [string]$DrillConnectionStringVariable = 'PgBackup-DrillConnectionString',
    # Names of the Automation credentials.
    [string]$DatabaseCredentialName = 'PgBackup-Database',
    [string]$S3CredentialName = 'PgBackup-S3',
    [string]$DrillCredentialName = 'PgBackup-DrillDatabase',
    [switch]$Drill,
    # The whole server: every database, each its own backup (see the help).
    [switch]$AllDatabases,
    [string[]]$IncludeDatabase,
    [string[]]$ExcludeDatabase,
    [int]$ThrottleLimit = 1,
    # Save the cluster's roles beside the backups (pg_dumpall --globals-only --no-role-passwords).
    [switch]$Globals,
    # How long pg_dump may wait for a table's lock before the job fails (instead of running until the job's time
    # limit); 0: no limit.
    [int]$LockWaitTimeoutSeconds = 600,
    # The guide's retention: 7 daily, 4 weekly, 12 monthly backups.
    [int]$KeepDaily = 7,
    [int]$KeepWeekly = 4,
    [int]$KeepMonthly = 12,
    [string]$PgBinPath,
    [string]$ModulePath = 'PgBackup'
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$started = Get-Date

function Write-RunbookLog([string]$Message) {
    Write-Output ('{0:u} {1}' -f [DateTime]::UtcNow, $Message)   # UTC, as the 'u' format's Z says
}

function Get-VariableAsset([string]$Name, [switch]$Required) {
    # An Automation variable's value; $null for an optional one that is absent or empty.
    $value = $null
    $reason = 'is empty'
    if ($Name) {
        try { $value = Get-AutomationVariable -Name $Name -ErrorAction Stop }
        catch [System.Management.Automation.CommandNotFoundException] { throw }   # not in Azure Automation
        catch { $reason = "could not be read ($($_.Exception.Message))" }
    }
    if (-not [string]::IsNullOrWhiteSpace([string]$value)) { return [string]$value }
    if ($Required) {
        Write-Error -Message "The Automation variable '$Name' $reason; create it (see this runbook's help)." `
            -ErrorId 'AutomationVariableMissing' -Category ObjectNotFound -TargetObject $Name
    }
    $null
}

function Get-CredentialAsset([string]$Name) {
    # An Automation credential; $null when it is not set up.
    if (-not $Name) { return $null }
    try { Get-AutomationPSCredential -Name $Name -ErrorAction Stop }
    catch [System.Management.Automation.CommandNotFoundException] { throw }
    catch { $null }
}

$step = 'import'
try {
    Import-Module $ModulePath
    $tools = if ($PgBinPath) { @{ PgBinPath = $PgBinPath } } else { @{} }

    $step = 'settings'
    $connection = @{ ConnectionString = Get-VariableAsset $ConnectionStringVariable -Required }
    $databaseCredential = Get-CredentialAsset $DatabaseCredentialName
    if ($databaseCredential) { $connection.Credential = $databaseCredential }
    # The destination and its settings ($s3 holds the storage parameters of either kind).
    $s3 = @{}
    $azureUri = Get-VariableAsset $AzureUriVariable
    if ($azureUri) {
        $s3Uri = $azureUri
        if ($s3Uri -notmatch '^(az|https)://') {
            Write-Error -Message "The Automation variable '$AzureUriVariable' must be an Azure Blob location (az://account/container/prefix/); this runbook keeps nothing on local disk." `
                -ErrorId 'AutomationVariableInvalid' -Category InvalidArgument -TargetObject $AzureUriVariable
        }
        $sas = Get-VariableAsset $AzureSasTokenVariable
        if ($sas) { $s3.AzureSasToken = ConvertTo-SecureString $sas -AsPlainText -Force; $sas = $null }
        # DefaultAzureCredential takes a user-assigned managed identity's client id from AZURE_CLIENT_ID.
        $clientId = Get-VariableAsset $AzureClientIdVariable
        if ($clientId) { $env:AZURE_CLIENT_ID = $clientId }
        $endpoint = Get-VariableAsset $AzureEndpointUrlVariable
        if ($endpoint) { $s3.AzureEndpointUrl = $endpoint }
        $who = if ($s3.AzureSasToken) { ", SAS token '$AzureSasTokenVariable'" } elseif ($clientId) { ', managed identity (user-assigned)' } else { ', managed identity' }
    }
    else {
        $s3Uri = Get-VariableAsset $S3UriVariable -Required
        if ($s3Uri -notmatch '^s3://') {
            Write-Error -Message "The Automation variable '$S3UriVariable' must be an s3:// location (s3://bucket/prefix/); this runbook keeps nothing on local disk." `
                -ErrorId 'AutomationVariableInvalid' -Category InvalidArgument -TargetObject $S3UriVariable
        }
        $s3Credential = Get-CredentialAsset $S3CredentialName
        if ($s3Credential) { $s3.S3Credential = $s3Credential }
        $endpoint = Get-VariableAsset $S3EndpointUrlVariable
        if ($endpoint) { $s3.EndpointUrl = $endpoint }
        $region = Get-VariableAsset $S3RegionVariable
        if ($region) { $s3.Region = $region }
        $who = if ($s3Credential) { ", S3 credential '$S3CredentialName'" } else { ', AWS default credentials' }
    }
    $drillConnection = $connection
    if ($Drill) {
        $drillServer = Get-VariableAsset $DrillConnectionStringVariable
        if ($drillServer) {
            $drillConnection = @{ ConnectionString = $drillServer }
            $drillCredential = Get-CredentialAsset $DrillCredentialName
            if ($drillCredential) { $drillConnection.Credential = $drillCredential }
        }
    }
    Write-RunbookLog ("settings ok: to {0}{1}{2}{3}" -f $s3Uri,
        $(if ($endpoint) { " at $endpoint" } else { '' }),
        $who,
        $(if ($databaseCredential) { ", database credential '$DatabaseCredentialName'" } else { '' }))

    $step = 'backup'
    $dump = @{}
    if ($LockWaitTimeoutSeconds -gt 0) { $dump.LockWaitTimeoutSeconds = $LockWaitTimeoutSeconds }
    if ($Globals) { $dump.Globals = $true; $dump.NoRolePasswords = $true }
    $results = @()
    if ($AllDatabases) {
        # One summary per database; a failed one is logged and the others go on (its error is not terminating).
        if ($IncludeDatabase) { $dump.IncludeDatabase = $IncludeDatabase }
        if ($ExcludeDatabase) { $dump.ExcludeDatabase = $ExcludeDatabase }
        $results = @(New-PgBackup @connection -AllDatabases -ThrottleLimit $ThrottleLimit -Summary -Path $s3Uri @s3 @tools @dump -ErrorAction SilentlyContinue)
        foreach ($r in $results | Where-Object Status -ne 'Complete') {
            Write-RunbookLog ("backup FAILED: '{0}': {1}: {2}" -f ($r.Database -replace '[\x00-\x1f\x7f]', '?'), $r.ErrorId, $r.Message)
        }
        $backups = @($results | Where-Object Status -eq 'Complete' | ForEach-Object Backup)
    }
    else { $backups = @(New-PgBackup @connection -Path $s3Uri @s3 @tools @dump) }
    foreach ($backup in $backups) {
        Write-RunbookLog ("backup ok: {0} ({1:N0} bytes, {2} tables, {3:N0} rows, {4:N1} s)" -f $backup.Path, $backup.SizeBytes, $backup.TableCount, $backup.RowCount, $backup.Duration.TotalSeconds)
    }

    $test = $null
    if ($Drill) {
        $step = 'drill'
        # The backup object carries its storage settings: the drill streams it back from the container or bucket.
        foreach ($backup in $backups) {
            $test = $backup | Test-PgBackup -Restore @drillConnection @tools
            Write-RunbookLog ("drill ok: {0} ({1:N1} s)" -f (($test.Checks | ForEach-Object Name) -join ', '), $test.Duration.TotalSeconds)
        }
    }

    $step = 'retention'
    # By name, not by -Database (a database's name may hold wildcard characters).
    $names = @($backups | ForEach-Object Database)
    $plan = @(if ($names) {
            Get-PgBackup -Path $s3Uri @s3 | Where-Object { $names -ccontains $_.Database } |
                Invoke-PgBackupRetention -KeepDaily $KeepDaily -KeepWeekly $KeepWeekly -KeepMonthly $KeepMonthly -Confirm:$false
        })
    $kept = @($plan | Where-Object Action -eq 'Keep')
    $removed = @($plan | Where-Object Action -eq 'Remove')
    Write-RunbookLog ("retention ok: kept {0}, removed {1}{2}" -f $kept.Count, $removed.Count,
        $(if ($removed) { ' (' + (($removed | ForEach-Object { $_.Backup.Name }) -join ', ') + ')' } else { '' }))

    $elapsed = (Get-Date) - $started
    if ($AllDatabases) {
        $results
        $failed = @($results | Where-Object Status -ne 'Complete')
        if ($failed) {
            $step = 'backup'
            Write-Error -Message ("{0} database(s) not backed up: {1}" -f $failed.Count, (($failed | ForEach-Object { "'$($_.Database -replace '[\x00-\x1f\x7f]', '?')' ($($_.ErrorId))" }) -join ', ')) `
                -ErrorId 'DatabasesFailed' -Category InvalidResult
        }
        Write-RunbookLog ("runbook ok in {0:N1} s: {1} database(s)" -f $elapsed.TotalSeconds, $backups.Count)
        return
    }
    Write-RunbookLog ("runbook ok in {0:N1} s" -f $elapsed.TotalSeconds)
    [pscustomobject]@{
        Backup    = $backup.Name
        Path      = $backup.Path
        Database  = $backup.Database
        SizeBytes = $backup.SizeBytes
        Tables    = $backup.TableCount
        Rows      = $backup.RowCount
        Drill     = if ($test) { if ($test.Passed) { 'Passed' } else { 'Failed' } } else { 'Skipped' }
        Kept      = $kept.Count
        Removed   = $removed.Count
        Duration  = $elapsed
    }
}
catch {
    $id = $_.FullyQualifiedErrorId
    $message = "PgBackup runbook FAILED at step '$step': $id`: $($_.Exception.Message)"
    Write-RunbookLog $message
    # A runbook fails by throwing: the Automation job ends as Failed (pwsh -File exits with 1).
    throw $message
}
