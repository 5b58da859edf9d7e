//! Go-style durations for every flag that takes a time (`--timeout 10s`, `--request-timeout=2m`,
//! `1h30m`, `1.5s`, `250ms`), the way kubectl reads them. A bare number is seconds, as before.

use std::time::Duration;

/// Parses a Go duration (`time.ParseDuration`: a sequence of decimal numbers, each with an
/// optional fraction and a unit `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), or a bare number of
/// seconds. Negative durations are refused; so is zero (nothing can be done in no time).
pub fn parse(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration (e.g. 30s, 2m, 1h30m)".to_string());
    }
    if s.starts_with('-') {
        return Err(format!("'{s}' is negative"));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = s.parse().map_err(|_| format!("'{s}' is too large"))?;
        return nonzero(Duration::from_secs(secs), text);
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(format!("'{s}' is not a duration (e.g. 30s, 2m, 1h30m)"));
        }
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let nanos_per: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("'{s}' has a number without a unit (units: ns, us, ms, s, m, h)")),
            other => return Err(format!("unknown unit '{other}' in '{s}' (units: ns, us, ms, s, m, h)")),
        };
        let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
        let whole: u128 =
            if whole.is_empty() { 0 } else { whole.parse().map_err(|_| format!("'{s}' is too large"))? };
        let mut part = whole.checked_mul(nanos_per).ok_or_else(|| format!("'{s}' is too large"))?;
        // The fraction, digit by digit, to the nanosecond (Go does the same).
        let mut scale = nanos_per;
        for d in frac.bytes() {
            scale /= 10;
            part += u128::from(d - b'0') * scale;
        }
        total = total.checked_add(part).ok_or_else(|| format!("'{s}' is too large"))?;
        rest = tail;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| format!("'{s}' is too large"))?;
    // Below 1e9 by construction, so it fits.
    let nanos = u32::try_from(total % 1_000_000_000).unwrap_or(0);
    nonzero(Duration::new(secs, nanos), text)
}

fn nonzero(d: Duration, text: &str) -> Result<Duration, String> {
    if d.is_zero() { Err(format!("'{}' is zero; give a positive duration", text.trim())) } else { Ok(d) }
}

/// `--timeout`: at most a day.
pub fn timeout(text: &str) -> Result<Duration, String> {
    at_most(parse(text)?, Duration::from_secs(86_400), "24h")
}

/// `--request-timeout`: at most an hour.
pub fn request_timeout(text: &str) -> Result<Duration, String> {
    at_most(parse(text)?, Duration::from_secs(3_600), "1h")
}

/// `--cert-days`: a whole number of days, 0 (only expired certificates) to 36,500.
pub fn cert_days(text: &str) -> Result<u32, String> {
    let s = text.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{s}' is not a whole number of days (0 or more, e.g. 30)"));
    }
    match s.parse::<u32>() {
        Ok(n) if n <= 36_500 => Ok(n),
        _ => Err(format!("'{s}' days is more than 36500 (100 years)")),
    }
}

fn at_most(d: Duration, max: Duration, shown: &str) -> Result<Duration, String> {
    if d > max { Err(format!("{d:?} is longer than {shown}")) } else { Ok(d) }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{cert_days, parse, request_timeout, timeout};

    #[test]
    fn certificate_days() {
        assert_eq!(cert_days("30"), Ok(30));
        assert_eq!(cert_days("0"), Ok(0));
        assert_eq!(cert_days("36500"), Ok(36_500));
        assert_eq!(cert_days("-1").unwrap_err(), "'-1' is not a whole number of days (0 or more, e.g. 30)");
        assert_eq!(cert_days("30d").unwrap_err(), "'30d' is not a whole number of days (0 or more, e.g. 30)");
        assert_eq!(cert_days("").unwrap_err(), "'' is not a whole number of days (0 or more, e.g. 30)");
        assert_eq!(cert_days("36501").unwrap_err(), "'36501' days is more than 36500 (100 years)");
        assert_eq!(cert_days("99999999999").unwrap_err(), "'99999999999' days is more than 36500 (100 years)");
    }

    #[test]
    fn go_durations_and_bare_seconds() {
        let ok = |s: &str| parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ok("10"), Duration::from_secs(10));
        assert_eq!(ok("10s"), Duration::from_secs(10));
        assert_eq!(ok("2m"), Duration::from_secs(120));
        assert_eq!(ok("1h30m"), Duration::from_secs(5400));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok(".5s"), Duration::from_millis(500));
        assert_eq!(ok("250ms"), Duration::from_millis(250));
        assert_eq!(ok("1m0.25s"), Duration::from_millis(60_250));
        assert_eq!(ok("100us"), Duration::from_micros(100));
        assert_eq!(ok("3µs"), Duration::from_micros(3));
        assert_eq!(ok("7ns"), Duration::from_nanos(7));
        assert_eq!(ok("+5s"), Duration::from_secs(5));
    }

    #[test]
    fn bad_durations_say_why() {
        for (s, want) in [
            ("", "empty"),
            ("-5s", "negative"),
            ("0", "zero"),
            ("0s", "zero"),
            ("5", ""),
            ("5x", "unknown unit 'x'"),
            ("1h5", "without a unit"),
            ("s", "not a duration"),
            ("1..2s", "not a duration"),
            ("99999999999999999999999h", "too large"),
        ] {
            match parse(s) {
                Ok(d) if want.is_empty() => assert_eq!(d, Duration::from_secs(5)),
                Ok(d) => panic!("{s:?} parsed as {d:?}"),
                Err(e) => assert!(e.contains(want), "{s:?}: {e}"),
            }
        }
        assert!(timeout("25h").unwrap_err().contains("longer than 24h"));
        assert!(request_timeout("61m").unwrap_err().contains("longer than 1h"));
        assert_eq!(timeout("24h").unwrap(), Duration::from_secs(86_400));
    }
}
