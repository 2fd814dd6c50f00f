<#
Runs an Azure Automation runbook outside Azure, for the tests: defines stand-ins for Get-AutomationVariable and
Get-AutomationPSCredential that read the Automation account's assets from a JSON file, then calls the runbook with
the parameters from the same file. Like in Azure, a missing asset is an error, and the runbook's throw fails the job
(here: the process exits with code 1).

The file: { "Variables": { "<name>": "<value>" }, "Credentials": { "<name>": { "UserName": "...", "Password": "..." } },
            "Parameters": { "<parameter>": <value> } }
#>
param(
    [Parameter(Mandatory)][string]$Runbook,
    [Parameter(Mandatory)][string]$AssetFile
)
$ErrorActionPreference = 'Stop'
$assets = Get-Content -Raw $AssetFile | ConvertFrom-Json -AsHashtable
foreach ($key in 'Variables', 'Credentials', 'Parameters') { if (-not $assets[$key]) { $assets[$key] = @{} } }

function Get-AutomationVariable {
    [CmdletBinding()]
    param([Parameter(Mandatory)][string]$Name)
    if (-not $assets.Variables.ContainsKey($Name)) {
        Write-Error -Message "Variable asset '$Name' was not found." -ErrorId 'VariableAssetNotFound' -Category ObjectNotFound -TargetObject $Name
        return
    }
    $assets.Variables[$Name]
}

function Get-AutomationPSCredential {
    [CmdletBinding()]
    [OutputType([pscredential])]
    param([Parameter(Mandatory)][string]$Name)
    if (-not $assets.Credentials.ContainsKey($Name)) {
        Write-Error -Message "Credential asset '$Name' was not found." -ErrorId 'CredentialAssetNotFound' -Category ObjectNotFound -TargetObject $Name
        return
    }
    $c = $assets.Credentials[$Name]
    [pscredential]::new($c.UserName, (ConvertTo-SecureString $c.Password -AsPlainText -Force))
}

$parameters = $assets.Parameters
& $Runbook @parameters
