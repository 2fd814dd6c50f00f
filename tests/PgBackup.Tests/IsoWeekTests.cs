using System;
using System.Globalization;
using PgBackup;
using Xunit;

namespace PgBackup.Tests
{
    public sealed class IsoWeekTests
    {
        [Theory]
        [InlineData("2020-12-31", 2020, 53)]
        [InlineData("2021-01-01", 2020, 53)]
        [InlineData("2021-01-03", 2020, 53)]
        [InlineData("2021-01-04", 2021, 1)]
        [InlineData("2024-12-29", 2024, 52)]
        [InlineData("2024-12-30", 2025, 1)]
        [InlineData("2026-03-09", 2026, 11)]
        [InlineData("2026-03-15", 2026, 11)]
        [InlineData("2026-12-28", 2026, 53)]
        [InlineData("2026-12-31", 2026, 53)]
        [InlineData("2027-01-03", 2026, 53)]
        [InlineData("2027-01-04", 2027, 1)]
        [InlineData("2008-12-29", 2009, 1)]
        [InlineData("2010-01-03", 2009, 53)]
        [InlineData("2015-12-31", 2015, 53)]
        [InlineData("2016-01-03", 2015, 53)]
        public void KnownWeekDates(string date, int year, int week)
        {
            var d = DateTime.ParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture);
            Assert.Equal((year, week), IsoWeek.Of(d));
            Assert.Equal($"{year:0000}-W{week:00}", IsoWeek.Format(d));
        }

        [Fact]
        public void AgreesWithTheFrameworkOnEveryDayFrom1990To2060()
        {
            for (var d = new DateTime(1990, 1, 1); d < new DateTime(2061, 1, 1); d = d.AddDays(1))
            {
                var (year, week) = IsoWeek.Of(d.AddHours(23.99));
                Assert.True(ISOWeek.GetYear(d) == year && ISOWeek.GetWeekOfYear(d) == week, $"{d:yyyy-MM-dd}: {year}-W{week}");
            }
        }
    }
}
