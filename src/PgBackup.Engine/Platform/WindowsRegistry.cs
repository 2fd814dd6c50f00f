using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;

namespace PgBackup
{
    /// <summary>Read access to a registry hive, as PgToolLocator needs it (the tests give a fake one).</summary>
    public interface IRegistryReader
    {
        /// <summary>The names of <paramref name="key"/>'s subkeys; empty when it does not exist.</summary>
        IReadOnlyList<string> SubKeyNames(string key);
        /// <summary>A string value of <paramref name="key"/>, or null.</summary>
        string? GetString(string key, string valueName);
    }

    /// <summary>
    /// HKEY_LOCAL_MACHINE through advapi32 (the same code in both builds: netstandard2.0 has no registry API), read
    /// in the 64-bit view; 32-bit installs are under WOW6432Node there. Only ever used on Windows.
    /// </summary>
    public sealed class LocalMachineRegistry : IRegistryReader
    {
        public static readonly LocalMachineRegistry Instance = new LocalMachineRegistry();

        private static readonly UIntPtr HKEY_LOCAL_MACHINE = new UIntPtr(0x80000002u);
        private const int KEY_READ = 0x20019, KEY_WOW64_64KEY = 0x0100, ERROR_SUCCESS = 0, ERROR_NO_MORE_ITEMS = 259, RRF_RT_REG_SZ = 0x2;

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode)]
        private static extern int RegOpenKeyExW(UIntPtr hKey, string subKey, int options, int samDesired, out UIntPtr result);

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode)]
        private static extern int RegEnumKeyExW(UIntPtr hKey, int index, StringBuilder name, ref int nameLength, IntPtr reserved, IntPtr cls, IntPtr clsLength, IntPtr lastWrite);

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode)]
        private static extern int RegGetValueW(UIntPtr hKey, string? subKey, string value, int flags, IntPtr type, StringBuilder? data, ref int dataBytes);

        [DllImport("advapi32.dll")]
        private static extern int RegCloseKey(UIntPtr hKey);

        public IReadOnlyList<string> SubKeyNames(string key)
        {
            var names = new List<string>();
            if (RegOpenKeyExW(HKEY_LOCAL_MACHINE, key, 0, KEY_READ | KEY_WOW64_64KEY, out var h) != ERROR_SUCCESS) return names;
            try
            {
                for (int i = 0; ; i++)
                {
                    var sb = new StringBuilder(256);
                    int len = sb.Capacity;
                    int rc = RegEnumKeyExW(h, i, sb, ref len, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero);
                    if (rc == ERROR_NO_MORE_ITEMS || rc != ERROR_SUCCESS) break;
                    names.Add(sb.ToString(0, len));
                }
            }
            finally { RegCloseKey(h); }
            return names;
        }

        public string? GetString(string key, string valueName)
        {
            if (RegOpenKeyExW(HKEY_LOCAL_MACHINE, key, 0, KEY_READ | KEY_WOW64_64KEY, out var h) != ERROR_SUCCESS) return null;
            try
            {
                int bytes = 0;
                if (RegGetValueW(h, null, valueName, RRF_RT_REG_SZ, IntPtr.Zero, null, ref bytes) != ERROR_SUCCESS || bytes <= 0) return null;
                var sb = new StringBuilder(bytes / 2 + 1);
                bytes = sb.Capacity * 2;
                return RegGetValueW(h, null, valueName, RRF_RT_REG_SZ, IntPtr.Zero, sb, ref bytes) == ERROR_SUCCESS ? sb.ToString() : null;
            }
            finally { RegCloseKey(h); }
        }
    }
}
