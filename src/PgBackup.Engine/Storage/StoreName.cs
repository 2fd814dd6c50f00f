using System;
using System.IO;
using System.Text;

namespace PgBackup
{
    /// <summary>
    /// The one rule for names in a store. Every name a store is given (from a manifest, a listing, an S3 key, a folder)
    /// is relative to the store and stays inside it, or it is refused (<c>UnsafeName</c>) before anything is read,
    /// written or deleted. The rule is the same on every platform, so that a name accepted on Linux is safe on Windows:
    /// no absolute path, drive letter or UNC prefix, no '.' or '..' segment ('/' and '\' are both separators), no
    /// NUL or control character, none of the characters Windows forbids, no segment ending in a dot or a space
    /// (Windows drops them), no device name, at most 255 bytes a segment and 1,024 in all (S3's limit for a key).
    /// </summary>
    public static class StoreName
    {
        public const int MaxSegmentBytes = 255;
        public const int MaxBytes = 1024;
        private static readonly char[] Separators = { '/', '\\' };
        private static readonly string[] DeviceNames = { "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$" };

        /// <summary>Why <paramref name="name"/> cannot name anything in a store, or null when it can.</summary>
        public static string? Problem(string? name)
        {
            if (string.IsNullOrEmpty(name)) return "it is empty";
            foreach (char c in name!)
                if (c < 32 || c == 127) return c == 0 ? "it contains a NUL character" : "it contains a control character";
            if (name[0] == '/' || name[0] == '\\') return "it is an absolute path";
            if (Encoding.UTF8.GetByteCount(name) > MaxBytes) return $"it is longer than {MaxBytes} bytes";
            foreach (var segment in name.Split(Separators))
            {
                if (segment.Length == 0) return "it has an empty folder name";
                if (segment == "." || segment == "..") return $"it has a '{segment}' segment";
                if (segment.IndexOf(':') >= 0) return "it has a drive letter or a colon";
                if (segment.IndexOfAny(WindowsForbidden) >= 0) return "it contains a character Windows forbids in names (< > \" | ? *)";
                if (segment.EndsWith(".", StringComparison.Ordinal) || segment.EndsWith(" ", StringComparison.Ordinal)) return "a part of it ends with a dot or a space";
                if (IsDeviceName(segment)) return $"'{segment}' is a Windows device name";
                if (Encoding.UTF8.GetByteCount(segment) > MaxSegmentBytes) return $"a part of it is longer than {MaxSegmentBytes} bytes";
            }
            if (name.IndexOf('\\') >= 0) return "it contains a backslash (a folder separator on Windows)";
            return null;
        }

        private static readonly char[] WindowsForbidden = { '<', '>', '"', '|', '?', '*' };

        private static bool IsDeviceName(string segment)
        {
            var stem = segment.Split('.')[0].TrimEnd(' ');
            foreach (var d in DeviceNames)
                if (string.Equals(stem, d, StringComparison.OrdinalIgnoreCase)) return true;
            return stem.Length == 4 && (stem.StartsWith("COM", StringComparison.OrdinalIgnoreCase) || stem.StartsWith("LPT", StringComparison.OrdinalIgnoreCase))
                && (char.IsDigit(stem[3]) || stem[3] == '\u00b9' || stem[3] == '\u00b2' || stem[3] == '\u00b3');
        }

        /// <summary>Returns <paramref name="name"/>, or refuses it (<c>UnsafeName</c>) naming the store it was meant for.</summary>
        public static string Check(string? name, string store)
        {
            var problem = Problem(name);
            if (problem is null) return name!;
            throw Refused(name, store, problem);
        }

        internal static PgBackupException Refused(string? name, string store, string problem) =>
            new PgBackupException(ErrorIds.UnsafeName, ErrorKind.SecurityError,
                $"The name '{Printable(name)}' was refused in {store}: {problem}. Names read from storage must stay inside it; nothing was read, written or deleted under that name.",
                store);

        /// <summary>
        /// The local path of <paramref name="name"/> under <paramref name="folder"/> (a full path): the name passes the
        /// rule, the path is inside the folder, and no part of it below the folder is a symbolic link or junction
        /// (which could lead out of it).
        /// </summary>
        public static string LocalPath(string folder, string name)
        {
            Check(name, folder);
            var root = folder.EndsWith(Path.DirectorySeparatorChar.ToString(), StringComparison.Ordinal) ? folder : folder + Path.DirectorySeparatorChar;
            var path = Path.GetFullPath(root + name.Replace('/', Path.DirectorySeparatorChar));
            if (!path.StartsWith(root, StringComparison.Ordinal))
                throw Refused(name, folder, "it resolves outside the folder");
            var at = root;
            foreach (var segment in name.Split('/'))
            {
                at += segment;
                FileAttributes attributes;
                try { attributes = File.GetAttributes(at); }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { break; } // does not exist (yet)
                if ((attributes & FileAttributes.ReparsePoint) != 0)
                    throw Refused(name, folder, $"{at} is a symbolic link or junction");
                at += Path.DirectorySeparatorChar;
            }
            return path;
        }

        /// <summary>A name as it can be shown in a message: control characters as \uXXXX, at most 200 characters.</summary>
        internal static string Printable(string? name)
        {
            if (name is null) return "";
            var sb = new StringBuilder();
            foreach (char c in name.Length > 200 ? name.Substring(0, 200) + "..." : name)
                if (c < 32 || c == 127) sb.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
                else sb.Append(c);
            return sb.ToString();
        }
    }
}
