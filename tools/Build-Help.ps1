<#
.SYNOPSIS
Makes PgBackup.dll-Help.xml (MAML) from the markdown pages in docs/en-US and the cmdlets' own metadata.
.DESCRIPTION
platyPS is not available here, so this is PgBackup's own small generator. Each cmdlet has one page,
docs/en-US/<Cmdlet>.md, with the sections SYNOPSIS, DESCRIPTION, EXAMPLES (### headings, a powershell code block,
then remarks), PARAMETERS (### -Name, then text), INPUTS, OUTPUTS, NOTES and RELATED LINKS. Parameter types,
positions, pipeline input and parameter sets come from Get-Command on the built module. Run it in a process that
may import the built module.
#>
param(
    [Parameter(Mandatory)][string]$ModuleManifest,
    [Parameter(Mandatory)][string]$DocsPath,
    # One or more output files, comma-separated.
    [Parameter(Mandatory)][string]$OutFile
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$module = Import-Module $ModuleManifest -PassThru -Force
$common = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters

function Get-Sections([string]$text, [string]$level) {
    # Splits markdown into an ordered map of heading => body for headings of the given level ('##' or '###').
    $sections = [ordered]@{}
    $current = $null
    $buffer = [System.Text.StringBuilder]::new()
    $inCode = $false
    foreach ($line in ($text -split "`r?`n")) {
        if ($line -match '^```') { $inCode = -not $inCode }
        if (-not $inCode -and $line -match "^$level\s+(.+?)\s*$") {
            if ($null -ne $current) { $sections[$current] = $buffer.ToString().Trim() }
            $current = $Matches[1]
            $buffer.Clear() | Out-Null
            continue
        }
        if ($null -ne $current) { $buffer.AppendLine($line) | Out-Null }
    }
    if ($null -ne $current) { $sections[$current] = $buffer.ToString().Trim() }
    $sections
}

function Get-Paragraphs([string]$text) {
    # Paragraphs of plain markdown text (blank-line separated), each joined into one line; list items kept apart.
    $paras = [System.Collections.Generic.List[string]]::new()
    foreach ($block in ($text.Trim() -split "(`r?`n){2,}")) {
        $block = $block.Trim()
        if (-not $block) { continue }
        if ($block -match '^\s*[-*] ') {
            foreach ($item in ($block -split "`r?`n(?=\s*[-*] )")) { $paras.Add(($item.Trim() -replace "\s*`r?`n\s*", ' ')) }
        }
        else { $paras.Add(($block -replace "\s*`r?`n\s*", ' ')) }
    }
    $paras
}

$settings = [System.Xml.XmlWriterSettings]::new()
$settings.Indent = $true
$settings.Encoding = [System.Text.UTF8Encoding]::new($false)
$ns = @{
    maml    = 'http://schemas.microsoft.com/maml/2004/10'
    command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
    dev     = 'http://schemas.microsoft.com/maml/dev/2004/10'
}
$stream = [System.IO.MemoryStream]::new()
$w = [System.Xml.XmlWriter]::Create($stream, $settings)

function Write-Paras([string]$text) {
    foreach ($p in (Get-Paragraphs $text)) { $w.WriteElementString('maml', 'para', $ns.maml, $p) }
}
function Write-Description([string]$text) {
    $w.WriteStartElement('maml', 'description', $ns.maml); Write-Paras $text; $w.WriteEndElement()
}
function Write-Parameter($param, $setParam, [string]$description) {
    $w.WriteStartElement('command', 'parameter', $ns.command)
    $attr = $param.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] } | Select-Object -First 1
    $required = if ($setParam) { $setParam.IsMandatory } else { [bool]($attr -and $attr.Mandatory) }
    $position = if ($setParam -and $setParam.Position -ge 0) { $setParam.Position } elseif (-not $setParam -and $attr -and $attr.Position -ge 0) { $attr.Position } else { 'named' }
    $pipe = @()
    if ($attr -and $attr.ValueFromPipeline) { $pipe += 'ByValue' }
    if ($attr -and $attr.ValueFromPipelineByPropertyName) { $pipe += 'ByPropertyName' }
    $pipeText = if ($pipe) { "True ($($pipe -join ', '))" } else { 'False' }
    $w.WriteAttributeString('required', "$required".ToLower())
    $w.WriteAttributeString('variableLength', "$($param.ParameterType.IsArray)".ToLower())
    $w.WriteAttributeString('globbing', 'false')
    $w.WriteAttributeString('pipelineInput', $pipeText)
    $w.WriteAttributeString('position', "$position")
    $w.WriteAttributeString('aliases', $(if ($param.Aliases.Count) { $param.Aliases -join ', ' } else { 'none' }))
    $w.WriteElementString('maml', 'name', $ns.maml, $param.Name)
    Write-Description $description
    $typeName = $param.ParameterType.Name
    if ($param.ParameterType.IsEnum) {
        $w.WriteStartElement('command', 'parameterValueGroup', $ns.command)
        foreach ($v in [enum]::GetNames($param.ParameterType)) {
            $w.WriteStartElement('command', 'parameterValue', $ns.command); $w.WriteAttributeString('required', 'false'); $w.WriteAttributeString('variableLength', 'false'); $w.WriteString($v); $w.WriteEndElement()
        }
        $w.WriteEndElement()
    }
    if ($param.ParameterType -ne [System.Management.Automation.SwitchParameter]) {
        $w.WriteStartElement('command', 'parameterValue', $ns.command); $w.WriteAttributeString('required', 'true'); $w.WriteAttributeString('variableLength', 'false'); $w.WriteString($typeName); $w.WriteEndElement()
    }
    $w.WriteStartElement('dev', 'type', $ns.dev); $w.WriteElementString('maml', 'name', $ns.maml, $param.ParameterType.FullName); $w.WriteElementString('maml', 'uri', $ns.maml, ''); $w.WriteEndElement()
    $w.WriteElementString('dev', 'defaultValue', $ns.dev, 'None')
    $w.WriteEndElement()
}

$w.WriteStartDocument()
$w.WriteStartElement('helpItems', 'http://msh')
$w.WriteAttributeString('schema', 'maml')
$missing = [System.Collections.Generic.List[string]]::new()
foreach ($cmd in ($module.ExportedCmdlets.Values | Sort-Object Name)) {
    $page = Join-Path $DocsPath "$($cmd.Name).md"
    if (-not (Test-Path $page)) { $missing.Add("$($cmd.Name): no page $page"); continue }
    $doc = Get-Sections (Get-Content -Raw $page) '##'
    foreach ($s in 'SYNOPSIS', 'DESCRIPTION', 'EXAMPLES', 'PARAMETERS') { if (-not $doc.Contains($s) -or -not $doc[$s]) { $missing.Add("$($cmd.Name): no $s") } }
    $paramDocs = if ($doc.Contains('PARAMETERS')) { Get-Sections $doc['PARAMETERS'] '###' } else { @{} }

    $w.WriteStartElement('command', 'command', $ns.command)
    $w.WriteAttributeString('xmlns', 'maml', $null, $ns.maml)
    $w.WriteAttributeString('xmlns', 'dev', $null, $ns.dev)
    $w.WriteStartElement('command', 'details', $ns.command)
    $w.WriteElementString('command', 'name', $ns.command, $cmd.Name)
    $w.WriteElementString('command', 'verb', $ns.command, $cmd.Verb)
    $w.WriteElementString('command', 'noun', $ns.command, $cmd.Noun)
    Write-Description $(if ($doc.Contains('SYNOPSIS')) { $doc['SYNOPSIS'] } else { '' })
    $w.WriteEndElement()
    Write-Description $(if ($doc.Contains('DESCRIPTION')) { $doc['DESCRIPTION'] } else { '' })

    $w.WriteStartElement('command', 'syntax', $ns.command)
    foreach ($set in $cmd.ParameterSets) {
        $w.WriteStartElement('command', 'syntaxItem', $ns.command)
        $w.WriteElementString('maml', 'name', $ns.maml, $cmd.Name)
        foreach ($sp in $set.Parameters | Where-Object { $_.Name -notin $common }) {
            $text = if ($paramDocs.Contains("-$($sp.Name)")) { $paramDocs["-$($sp.Name)"] } else { '' }
            Write-Parameter $cmd.Parameters[$sp.Name] $sp $text
        }
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'parameters', $ns.command)
    foreach ($p in ($cmd.Parameters.Values | Where-Object { $_.Name -notin $common } | Sort-Object Name)) {
        if (-not $paramDocs.Contains("-$($p.Name)") -or -not $paramDocs["-$($p.Name)"]) { $missing.Add("$($cmd.Name): parameter -$($p.Name) has no description") }
        Write-Parameter $p $null $(if ($paramDocs.Contains("-$($p.Name)")) { $paramDocs["-$($p.Name)"] } else { '' })
    }
    $w.WriteEndElement()

    foreach ($kind in @(@('INPUTS', 'inputTypes', 'inputType'), @('OUTPUTS', 'returnValues', 'returnValue'))) {
        if (-not $doc.Contains($kind[0])) { continue }
        $w.WriteStartElement('command', $kind[1], $ns.command)
        $types = Get-Sections $doc[$kind[0]] '###'
        foreach ($t in $types.Keys) {
            $w.WriteStartElement('command', $kind[2], $ns.command)
            $w.WriteStartElement('dev', 'type', $ns.dev); $w.WriteElementString('maml', 'name', $ns.maml, $t); $w.WriteEndElement()
            Write-Description $types[$t]
            $w.WriteEndElement()
        }
        $w.WriteEndElement()
    }
    if ($doc.Contains('NOTES') -and $doc['NOTES']) {
        $w.WriteStartElement('maml', 'alertSet', $ns.maml); $w.WriteStartElement('maml', 'alert', $ns.maml); Write-Paras $doc['NOTES']; $w.WriteEndElement(); $w.WriteEndElement()
    }

    $w.WriteStartElement('command', 'examples', $ns.command)
    $examples = if ($doc.Contains('EXAMPLES')) { Get-Sections $doc['EXAMPLES'] '###' } else { @{} }
    foreach ($title in $examples.Keys) {
        $body = $examples[$title]
        if ($body -notmatch '(?s)```(?:powershell)?\s*\r?\n(.*?)\r?\n```(.*)$') { $missing.Add("$($cmd.Name): example '$title' has no code block"); continue }
        $w.WriteStartElement('command', 'example', $ns.command)
        $w.WriteElementString('maml', 'title', $ns.maml, "-------------------------- $title --------------------------")
        $w.WriteElementString('dev', 'code', $ns.dev, $Matches[1])
        $w.WriteStartElement('dev', 'remarks', $ns.dev); Write-Paras $Matches[2]; $w.WriteEndElement()
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    if ($doc.Contains('RELATED LINKS')) {
        $w.WriteStartElement('command', 'relatedLinks', $ns.command)
        foreach ($line in ($doc['RELATED LINKS'] -split "`r?`n") | Where-Object { $_ -match '^\s*[-*]\s*(.+)$' }) {
            $link = ($line -replace '^\s*[-*]\s*', '') -replace '^\[(.*?)\]\((.*?)\)$', '$1|$2'
            $parts = $link -split '\|', 2
            $w.WriteStartElement('maml', 'navigationLink', $ns.maml)
            $w.WriteElementString('maml', 'linkText', $ns.maml, $parts[0])
            $w.WriteElementString('maml', 'uri', $ns.maml, $(if ($parts.Count -gt 1) { $parts[1] } else { '' }))
            $w.WriteEndElement()
        }
        $w.WriteEndElement()
    }
    $w.WriteEndElement()
}
$w.WriteEndElement()
$w.WriteEndDocument()
$w.Flush()
$bytes = $stream.ToArray()
foreach ($f in ($OutFile -split ',')) {
    New-Item -ItemType Directory -Force -Path (Split-Path $f) | Out-Null
    [System.IO.File]::WriteAllBytes($f, $bytes)
}
if ($missing.Count) {
    Write-Warning ("Help is incomplete:`n  " + ($missing -join "`n  "))
}
