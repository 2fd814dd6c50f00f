BeforeDiscovery {
    Import-Module $env:PGBACKUP_TEST_MODULE -ArgumentList $env:PGBACKUP_TEST_FRAMEWORK -Force
    $script:CmdletNames = @((Get-Module PgBackup).ExportedCmdlets.Keys | Sort-Object)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestCommon.ps1')
    $script:ModuleInfo = Get-Module PgBackup
    $script:Manifest = Import-PowerShellDataFile $env:PGBACKUP_TEST_MODULE
    $script:Cmdlets = @($ModuleInfo.ExportedCmdlets.Values)
    $script:Common = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters

}

Describe 'The PgBackup module' {
    Context 'manifest' {
        It 'lists its cmdlets explicitly, for both editions, with format files' {
            $Manifest.CmdletsToExport | Should -Not -BeNullOrEmpty
            $Manifest.CmdletsToExport | Should -Not -Contain '*'
            $Manifest.CompatiblePSEditions | Should -Be @('Desktop', 'Core')
            $Manifest.FormatsToProcess.Count | Should -BeGreaterThan 0
            foreach ($f in $Manifest.FormatsToProcess) { Test-Path (Join-Path (Split-Path $env:PGBACKUP_TEST_MODULE) $f) | Should -BeTrue }
            $Manifest.FunctionsToExport.Count | Should -Be 0
            $Manifest.ContainsKey('RequiredAssemblies') | Should -BeFalse
            ($Cmdlets.Name | Sort-Object) | Should -Be ($Manifest.CmdletsToExport | Sort-Object)
        }

        It 'has its version in one place: the assemblies carry the manifest''s version' {
            $assembly = (Get-Command New-PgBackup).ImplementingType.Assembly
            $info = $assembly.GetCustomAttributes([System.Reflection.AssemblyInformationalVersionAttribute], $false)[0].InformationalVersion
            ($info -split '\+')[0] | Should -Be $Manifest.ModuleVersion
            $ModuleInfo.Version.ToString() | Should -Be $Manifest.ModuleVersion
        }
    }

    Context 'the build under test' {
        It 'is the build the module was imported with, with its Npgsql' {
            $assembly = (Get-Command New-PgBackup).ImplementingType.Assembly
            $tfm = $assembly.GetCustomAttributes([System.Runtime.Versioning.TargetFrameworkAttribute], $false)[0].FrameworkName
            if ($env:PGBACKUP_TEST_FRAMEWORK -eq 'netstandard2.0') {
                $tfm | Should -Be '.NETStandard,Version=v2.0'
                $assembly.Location | Should -BeLike '*netstandard2.0*'
            }
            else {
                $tfm | Should -Be '.NETCoreApp,Version=v8.0'
                $assembly.Location | Should -BeLike '*net8.0*'
            }
            # Make sure Npgsql is loaded (a backup would do it), then check its version.
            New-TestDatabase -Server $Main -Name modtest -Sql 'CREATE TABLE t (a int);'
            $folder = New-TestFolder
            try { New-PgBackup -ConnectionString (Get-TestPostgresUri -Server $Main -Database modtest) -Path $folder | Out-Null } finally { Remove-TestFolder $folder }
            $npgsql = @([System.AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'Npgsql' -and $_.Location -like "*$($env:PGBACKUP_TEST_FRAMEWORK)*" })
            $npgsql.Count | Should -Be 1
            $expectedMajor = if ($env:PGBACKUP_TEST_FRAMEWORK -eq 'netstandard2.0') { 8 } else { 10 }
            $npgsql[0].GetName().Version.Major | Should -Be $expectedMajor
        }
    }

    Context 'the build for the running PowerShell (Select-PgBackupBuild in PgBackup.psm1)' {
        It 'PowerShell <Edition> <Version>, asked for ''<Requested>'', gets <Expected>' -ForEach @(
            @{ Edition = 'Desktop'; Version = '5.1.22621.4391'; Requested = ''; Expected = 'netstandard2.0, default context' }
            @{ Edition = 'Core'; Version = '7.0.3'; Requested = ''; Expected = 'an error' }
            @{ Edition = 'Core'; Version = '7.1.7'; Requested = ''; Expected = 'an error' }
            @{ Edition = 'Core'; Version = '7.2.24'; Requested = ''; Expected = 'netstandard2.0, own context' }
            @{ Edition = 'Core'; Version = '7.3.12'; Requested = ''; Expected = 'netstandard2.0, own context' }
            @{ Edition = 'Core'; Version = '7.4.0'; Requested = ''; Expected = 'net8.0, own context' }
            @{ Edition = 'Core'; Version = '7.5.4'; Requested = ''; Expected = 'net8.0, own context' }
            @{ Edition = 'Core'; Version = '7.6.9'; Requested = ''; Expected = 'net8.0, own context' }
            @{ Edition = 'Core'; Version = '7.6.9'; Requested = 'netstandard2.0'; Expected = 'netstandard2.0, own context' }
            @{ Edition = 'Core'; Version = '7.3.12'; Requested = 'net8.0'; Expected = 'an error' }
            @{ Edition = 'Desktop'; Version = '5.1.22621.4391'; Requested = 'net8.0'; Expected = 'an error' }
            @{ Edition = 'Core'; Version = '7.6.9'; Requested = 'net9.0'; Expected = 'an error' }
        ) {
            $call = { param($Edition, $Version, $Requested) Select-PgBackupBuild -Edition $Edition -Version $Version -Requested $Requested }
            $arguments = @{ Edition = $Edition; Version = $Version; Requested = $Requested }
            if ($Expected -eq 'an error') {
                $err = { InModuleScope PgBackup $call -Parameters $arguments } | Should -Throw -PassThru
                $err.Exception.Message | Should -Match '5\.1|net8\.0 and netstandard2\.0'
                if ($Edition -eq 'Core' -and [version]$Version -lt [version]'7.2') { $err.Exception.Message | Should -Match "PowerShell 7\.2 or later.*this is PowerShell $([regex]::Escape($Version))" }
            }
            else {
                $build = InModuleScope PgBackup $call -Parameters $arguments
                "$($build.Framework), $(if ($build.LoadContext) { 'own context' } else { 'default context' })" | Should -Be $Expected
            }
        }

        It 'refuses a build that does not exist at import, naming the builds' {
            { Import-Module $env:PGBACKUP_TEST_MODULE -ArgumentList 'net9.0' -Force } | Should -Throw '*net8.0 and netstandard2.0*'
            Import-Module $env:PGBACKUP_TEST_MODULE -ArgumentList $env:PGBACKUP_TEST_FRAMEWORK -Force
            (Get-Command New-PgBackup).ImplementingType.Assembly.Location | Should -BeLike "*$($env:PGBACKUP_TEST_FRAMEWORK)*"
        }
    }

    Context 'dependency isolation on PowerShell 7' {
        It 'works after another module loaded a different Npgsql into the default context' {
            $probe = Join-Path $RepoRoot 'output/test-fixtures/OtherNpgsql/OtherNpgsql.dll'
            Test-Path $probe | Should -BeTrue -Because 'build.ps1 -Task Test builds tests/fixtures/OtherNpgsql'
            New-TestDatabase -Server $Main -Name isolation -Sql 'CREATE TABLE t (a int); INSERT INTO t VALUES (1), (2);'
            $folder = New-TestFolder
            $script = @"
`$ErrorActionPreference = 'Stop'
Add-Type -Path '$probe'
`$other = [OtherNpgsql.Probe]::Load()
$(Get-TestModuleImport)
`$b = New-PgBackup -ConnectionString '$(Get-TestPostgresUri -Server $Main -Database isolation)' -Path '$folder'
`$loaded = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'Npgsql' } | ForEach-Object {
    [pscustomobject]@{ Version = `$_.GetName().Version.ToString(); Context = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext(`$_).Name }
}
[pscustomobject]@{ Other = `$other; Status = "`$(`$b.Status)"; Rows = `$b.RowCount; Npgsql = @(`$loaded) } | ConvertTo-Json -Depth 4 -Compress
"@
            try {
                $out = Invoke-ChildPwsh $script
                $json = ($out -split "`n" | Where-Object { $_ -like '{*' } | Select-Object -Last 1)
                $json | Should -Not -BeNullOrEmpty -Because $out
                $r = $json | ConvertFrom-Json
                $r.Other | Should -BeLike '9.*'
                $r.Status | Should -Be 'Complete'
                $r.Rows | Should -Be 2
                @($r.Npgsql).Count | Should -Be 2
                ($r.Npgsql | Where-Object Context -eq 'PgBackup').Version | Should -Not -BeLike '9.*'
                ($r.Npgsql | Where-Object Context -eq 'Default').Version | Should -BeLike '9.*'
            }
            finally { Remove-TestFolder $folder }
        }

        It 'keeps every cmdlet after Import-Module -Force' {
            $script = @"
`$ErrorActionPreference = 'Stop'
$(Get-TestModuleImport)
`$before = @((Get-Module PgBackup).ExportedCmdlets.Keys | Sort-Object)
$(Get-TestModuleImport) -Force
$(Get-TestModuleImport) -Force
`$after = @((Get-Module PgBackup).ExportedCmdlets.Keys | Sort-Object)
`$callable = @(`$after | Where-Object { Get-Command `$_ -ErrorAction SilentlyContinue })
"`$(`$before -join ',')|`$(`$after -join ',')|`$(`$callable -join ',')"
"@
            $line = ((Invoke-ChildPwsh $script) -split "`n" | Where-Object { $_ -like '*|*|*' } | Select-Object -Last 1).Trim()
            $before, $after, $callable = $line -split '\|'
            $before | Should -Be (($Manifest.CmdletsToExport | Sort-Object) -join ',')
            $after | Should -Be $before
            $callable | Should -Be $before
        }

        It 'shows no dependency type in any cmdlet''s parameters or output' {
            $allowed = 'System.Private.CoreLib', 'mscorlib', 'netstandard', 'System.Runtime', 'System.Management.Automation', 'PgBackup', 'PgBackup.Engine'
            function Test-Type([type]$Type, [string]$Where, [System.Collections.Generic.HashSet[type]]$Seen) {
                if (-not $Seen.Add($Type)) { return }
                if ($Type.IsArray) { Test-Type $Type.GetElementType() $Where $Seen; return }
                if ($Type.IsGenericType) { foreach ($g in $Type.GetGenericArguments()) { Test-Type $g $Where $Seen } }
                $name = $Type.Assembly.GetName().Name
                $isFramework = $name -like 'System.*' -and $Type.Assembly.Location -like "$([System.IO.Path]::GetDirectoryName([object].Assembly.Location))*"
                ($name -in $allowed -or $isFramework) | Should -BeTrue -Because "$Where uses $($Type.FullName) from $name"
                if ($name -like 'PgBackup*') {
                    foreach ($p in $Type.GetProperties()) { Test-Type $p.PropertyType "$Where.$($p.Name)" $Seen }
                }
            }
            $seen = [System.Collections.Generic.HashSet[type]]::new()
            foreach ($c in $Cmdlets) {
                foreach ($p in $c.Parameters.Values) { Test-Type $p.ParameterType "$($c.Name) -$($p.Name)" $seen }
                @($c.OutputType).Count | Should -BeGreaterThan 0 -Because "$($c.Name) declares its output type"
                foreach ($o in $c.OutputType) { if ($o.Type) { Test-Type $o.Type "$($c.Name) output" $seen } }
            }
        }
    }

    Context 'help' {
        It '<Name> has a synopsis, a description, an example and help for every parameter' -ForEach @($CmdletNames | ForEach-Object { @{ Name = $_ } }) {
            $help = Get-Help $Name -Full
            $help.Synopsis | Should -Not -BeNullOrEmpty
            $help.Synopsis | Should -Not -BeLike "$Name *" -Because 'a synopsis made by PowerShell from the syntax means the help file is missing'
            ($help.description.Text -join '') | Should -Not -BeNullOrEmpty
            @($help.examples.example).Count | Should -BeGreaterThan 0
            @($help.examples.example)[0].code | Should -Not -BeNullOrEmpty
            $params = (Get-Command $Name).Parameters.Keys | Where-Object { $_ -notin $Common }
            foreach ($p in $params) {
                $ph = $help.parameters.parameter | Where-Object name -eq $p
                ($ph.description.Text -join '') | Should -Not -BeNullOrEmpty -Because "-$p of $Name needs help"
            }
        }
    }

    Context 'default views' {
        It 'shows a BackupInfo as a short table' {
            $view = Get-FormatData -TypeName PgBackup.BackupInfo
            $view | Should -Not -BeNullOrEmpty
            $view.FormatViewDefinition[0].Control.GetType().Name | Should -Be 'TableControl'
        }

        It 'shows a RetentionDecision as a short table' {
            $view = Get-FormatData -TypeName PgBackup.RetentionDecision
            $view | Should -Not -BeNullOrEmpty
            $view.FormatViewDefinition[0].Control.GetType().Name | Should -Be 'TableControl'
        }
    }
}
