using System;

namespace PgBackup
{
    /// <summary>
    /// ISO-8601 week dates: weeks start on Monday, and week 1 of a week-year is the week with the year's first
    /// Thursday, so 31 December can be in week 1 of the next year and 1-3 January in week 52 or 53 of the last one.
    /// (System.Globalization.ISOWeek is not in .NET Standard 2.0.)
    /// </summary>
    public static class IsoWeek
    {
        /// <summary>The ISO week-year and week number (1-53) of a calendar date (its time of day is ignored).</summary>
        public static (int Year, int Week) Of(DateTime date)
        {
            int isoDay = ((int)date.DayOfWeek + 6) % 7 + 1;      // Monday 1 ... Sunday 7
            var thursday = date.Date.AddDays(4 - isoDay);        // the Thursday of the same week decides its year
            return (thursday.Year, (thursday.DayOfYear - 1) / 7 + 1);
        }

        /// <summary><c>2026-W11</c>.</summary>
        public static string Format(DateTime date)
        {
            var (year, week) = Of(date);
            return year.ToString("0000", System.Globalization.CultureInfo.InvariantCulture) + "-W" +
                   week.ToString("00", System.Globalization.CultureInfo.InvariantCulture);
        }
    }
}
