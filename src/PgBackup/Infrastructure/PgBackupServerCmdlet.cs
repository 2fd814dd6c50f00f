using System;
using System.Management.Automation;
using System.Threading;

namespace PgBackup.Commands
{
    /// <summary>
    /// The base of cmdlets that work on a server's databases rather than on backups (Get-, Remove-PgBackupScratchDatabase):
    /// the server from -ConnectionString (else DATABASE_URL), reached through its maintenance database.
    /// </summary>
    public abstract class PgBackupServerCmdlet : PgBackupCmdlet
    {
        /// <summary>Any database of the server; the cmdlet connects to its maintenance database (postgres, else template1).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ConnectionString { get; set; }

        [Parameter]
        [Credential]
        public PSCredential? Credential { get; set; }

        /// <summary>Connects to the server's maintenance database on a worker thread (Ctrl+C stops it).</summary>
        protected DatabaseAdmin ConnectAdmin() => Run((log, ct) =>
        {
            var connection = ResolveConnection(ConnectionString, Credential, log).WithoutNeonPooler(out _);
            return DatabaseAdmin.Connect(connection, null, new Redactor(connection.Secrets()), ct);
        });
    }
}
