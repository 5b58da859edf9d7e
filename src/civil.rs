//! Calendar dates for seconds since the Unix epoch, without a date crate. Shared by the
//! build script (the compiled-in matrices' date, which it includes by path) and capture
//! times (`inventory::notes`).
//!
//! Layer: ground. Imports nothing of this crate.

/// `(year, month, day)` in the proleptic Gregorian calendar for a count of days since
/// 1970-01-01 (Howard Hinnant's `civil_from_days`).
#[must_use]
pub fn from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`), the inverse of [`from_days`].
#[must_use]
pub fn to_days(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 of an ISO date `YYYY-MM-DD`; `None` unless it is a real date.
#[must_use]
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) { part.parse().ok() } else { None }
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let days = to_days(y, m, d);
    // Round-trips only for a real date (rejects month 13, 2026-02-30, …).
    (from_days(days) == (y, m, d) && (1..=12).contains(&m) && d >= 1).then_some(days)
}

#[cfg(test)]
mod tests {
    use super::{from_days, parse_date, to_days};

    #[test]
    fn round_trip_and_parse() {
        for d in [-800_000, -1, 0, 1, 11_016, 20_787, 2_000_000] {
            let (y, m, day) = from_days(d);
            assert_eq!(to_days(y, m, day), d);
        }
        assert_eq!(parse_date("2026-11-30"), Some(20_787));
        assert_eq!(parse_date("2000-02-29"), Some(11_016));
        for bad in ["2026-02-30", "2026-13-01", "2026-00-10", "2026-1-01", "26-11-30", "2026-11-3x", ""] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn known_dates() {
        assert_eq!(from_days(0), (1970, 1, 1));
        assert_eq!(from_days(-1), (1969, 12, 31));
        assert_eq!(from_days(11_016), (2000, 2, 29));
        assert_eq!(from_days(20_787), (2026, 11, 30));
        assert_eq!(from_days(13_353), (2006, 7, 24));
    }
}
