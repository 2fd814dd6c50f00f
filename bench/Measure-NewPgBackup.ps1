<#
.SYNOPSIS
One timed New-PgBackup, run by Invoke-Benchmark.ps1 in a fresh 'pwsh -NoProfile' process of its own, so that the
memory it reports is this PowerShell process's own: pg_dump and the other child processes are not counted.
.OUTPUTS
Writes one JSON object to -ResultFile: the seconds the New-PgBackup call took, the backup's path and size, and the
process's memory in bytes: resident before the call (IdleRssBytes: an idle pwsh with the module imported), the peak
during the call (PeakRssBytes: VmHWM, reset to the resident size just before the call by writing 5 to
/proc/self/clear_refs), and what the call added (AddedPeakBytes = PeakRssBytes - IdleRssBytes).
.NOTES
Secrets never travel on this script's command line: -EncryptPassphrase's text comes from the environment variable
named by -PassphraseVariable (a SecureString cannot pass through the JSON of -Parameters), and S3 credentials from
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, which the AWS SDK's default chain reads.
#>
param(
    [Parameter(Mandatory)][string]$ModuleManifest,
    # Without it, New-PgBackup reads DATABASE_URL, as the guide's scripts do.
    [string]$ConnectionString,
    [Parameter(Mandatory)][string]$Path,
    [Parameter(Mandatory)][string]$ResultFile,
    # New-PgBackup's parameters as JSON (e.g. '{"Compression":"Zstd"}').
    [string]$Parameters = '{}',
    # The name of an environment variable holding a passphrase: New-PgBackup then gets it as -EncryptPassphrase.
    [string]$PassphraseVariable
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function Get-ProcStatus([string]$Field) {
    $line = Select-String -Path /proc/self/status -Pattern "^${Field}:\s+(\d+) kB" | Select-Object -First 1
    if (-not $line) { return $null }
    [long]$line.Matches[0].Groups[1].Value * 1024
}

$import = [Diagnostics.Stopwatch]::StartNew()
Import-Module $ModuleManifest
$import.Stop()
$params = @{}
foreach ($p in (ConvertFrom-Json $Parameters).PSObject.Properties) { $params[$p.Name] = $p.Value }
if ($ConnectionString) { $params.ConnectionString = $ConnectionString }
if ($PassphraseVariable) {
    $text = [Environment]::GetEnvironmentVariable($PassphraseVariable)
    if (-not $text) { throw "The environment variable $PassphraseVariable holds no passphrase." }
    $params.EncryptPassphrase = ConvertTo-SecureString $text -AsPlainText -Force
    Remove-Variable text
}

$clockTicks = [double](& getconf CLK_TCK)
function Get-ChildCpuSeconds {
    # CPU time of this process's finished and reaped children (pg_dump): cutime + cstime of /proc/self/stat.
    $fields = ((Get-Content -Raw /proc/self/stat) -replace '^.*\) ', '') -split ' '
    ([long]$fields[13] + [long]$fields[14]) / $clockTicks
}
$children0 = Get-ChildCpuSeconds
$self = [Diagnostics.Process]::GetCurrentProcess()
$cpu0 = $self.TotalProcessorTime
$sys0 = $self.PrivilegedProcessorTime
$gc0 = 0..2 | ForEach-Object { [GC]::CollectionCount($_) }
$gcPause0 = [GC]::GetTotalPauseDuration()
# The idle process's resident size, and the high-water mark reset to it: the peak below is the call's own.
$idleRss = Get-ProcStatus 'VmRSS'
$peakReset = $true
try { [IO.File]::WriteAllText('/proc/self/clear_refs', '5') } catch { $peakReset = $false }
$sw = [Diagnostics.Stopwatch]::StartNew()
$backup = New-PgBackup -Path $Path @params
$sw.Stop()
$peakRss = Get-ProcStatus 'VmHWM'
$self.Refresh()
$childCpu = (Get-ChildCpuSeconds) - $children0
$gc1 = 0..2 | ForEach-Object { [GC]::CollectionCount($_) }
[ordered]@{
    ImportSeconds = $import.Elapsed.TotalSeconds
    BackupSeconds = $sw.Elapsed.TotalSeconds
    # CPU time of this process (all its threads, not pg_dump's) during the New-PgBackup call.
    CpuSeconds    = ($self.TotalProcessorTime - $cpu0).TotalSeconds
    # Of that, the time in the kernel (system calls: pipe reads, file or socket writes).
    SystemCpuSeconds = ($self.PrivilegedProcessorTime - $sys0).TotalSeconds
    # CPU time of the children that ended during the call (pg_dump).
    ChildCpuSeconds = $childCpu
    Path          = $backup.Path
    SizeBytes     = [long]$backup.SizeBytes
    RowCount      = [long]$backup.RowCount
    IdleRssBytes  = $idleRss
    PeakRssBytes  = $peakRss
    # Null when the kernel could not reset the high-water mark (then PeakRssBytes includes the start and the import).
    AddedPeakBytes = if ($peakReset) { $peakRss - $idleRss } else { $null }
    RssBytes      = Get-ProcStatus 'VmRSS'
    # Where the memory is: the managed heap (committed, and allocated in all), anonymous and file-backed pages.
    GcCommittedBytes = [GC]::GetGCMemoryInfo().TotalCommittedBytes
    GcAllocatedBytes = [GC]::GetTotalAllocatedBytes($false)
    # Garbage collections during the call (generation 0, 1, 2) and the time the runtime was paused for them.
    GcCollections = @(0..2 | ForEach-Object { $gc1[$_] - $gc0[$_] })
    GcPauseSeconds = ([GC]::GetTotalPauseDuration() - $gcPause0).TotalSeconds
    RssAnonBytes  = Get-ProcStatus 'RssAnon'
    RssFileBytes  = Get-ProcStatus 'RssFile'
    Threads       = (Get-Content /proc/self/status | Select-String '^Threads:\s+(\d+)').Matches[0].Groups[1].Value
    Runtime       = [System.Runtime.InteropServices.RuntimeInformation]::FrameworkDescription
} | ConvertTo-Json | Set-Content -Path $ResultFile
