//! Kubernetes resource quantities (`500m`, `1.5`, `128Mi`, `1G`, `1e3`, `12E`) parsed exactly,
//! to thousandths of a unit (millicores for CPU, millibytes for memory), rounding up as the API
//! server's `MilliValue` does. Pure; imports nothing of this crate.
//!
//! Grammar (k8s.io/apimachinery `pkg/api/resource/quantity.go`): an optionally signed decimal
//! number, then a suffix: binary SI (`Ki` `Mi` `Gi` `Ti` `Pi` `Ei`), decimal SI (`n` `u` `m`
//! none `k` `M` `G` `T` `P` `E`), or a decimal exponent (`e3`, `E-2`). `E` alone is exa; `E`
//! followed by a signed number is an exponent.

/// A quantity in thousandths of its unit (`1` → 1000, `250m` → 250, `1Ki` → 1,024,000).
pub type Milli = i128;

/// Parses a quantity; `None` when it is not one or overflows.
#[must_use]
pub fn parse(s: &str) -> Option<Milli> {
    let s = s.trim();
    let (neg, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let (num, suffix) = rest.split_at(num_end);
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty() || frac.contains('.') {
        return None;
    }
    let mut mantissa: i128 = 0;
    for d in int.bytes().chain(frac.bytes()) {
        mantissa = mantissa.checked_mul(10)?.checked_add(i128::from(d - b'0'))?;
    }
    let frac_len = i32::try_from(frac.len()).ok()?;
    // value = mantissa × 10^(dec − frac_len) × 2^bin, in milli-units: one more 10^3.
    let (dec, bin): (i32, u32) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        _ => {
            let exp = suffix.strip_prefix(['e', 'E'])?;
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 4 {
                return None;
            }
            (exp.parse::<i32>().ok()?, 0)
        }
    };
    let mut v = mantissa.checked_mul(1i128.checked_shl(bin)?)?;
    let pow = dec - frac_len + 3;
    if pow >= 0 {
        v = v.checked_mul(10i128.checked_pow(u32::try_from(pow).ok()?)?)?;
    } else {
        // Below a thousandth: round up, as `MilliValue` does (`1n` of CPU is 1m).
        let div = 10i128.checked_pow(pow.unsigned_abs()).unwrap_or(i128::MAX);
        v = v / div + i128::from(v % div != 0);
    }
    Some(if neg { -v } else { v })
}

/// A CPU amount for people: `250m`, `2`, `1.5`.
#[must_use]
pub fn cpu(m: Milli) -> String {
    if m % 1000 == 0 {
        format!("{}", m / 1000)
    } else if m.abs() < 1000 {
        format!("{m}m")
    } else {
        format!("{:.2}", m as f64 / 1000.0).trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A memory amount for people, in the largest binary unit that leaves at least 1: `512Mi`,
/// `1.5Gi`.
#[must_use]
pub fn memory(m: Milli) -> String {
    let bytes = m as f64 / 1000.0;
    for (unit, shift) in [("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)] {
        let size = 2f64.powi(shift);
        if bytes.abs() >= size {
            let s = format!("{:.1}", bytes / size);
            return format!("{}{unit}", s.trim_end_matches('0').trim_end_matches('.'));
        }
    }
    format!("{bytes:.0}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_and_forms() {
        assert_eq!(parse("1"), Some(1000));
        assert_eq!(parse("250m"), Some(250));
        assert_eq!(parse("0.5"), Some(500));
        assert_eq!(parse(".5"), Some(500));
        assert_eq!(parse("1.5k"), Some(1_500_000));
        assert_eq!(parse("1Ki"), Some(1_024_000));
        assert_eq!(parse("128Mi"), Some(128 * 1024 * 1024 * 1000));
        assert_eq!(parse("30821896Ki"), Some(30_821_896 * 1024 * 1000));
        assert_eq!(parse("1G"), Some(1_000_000_000_000));
        assert_eq!(parse("1e3"), Some(1_000_000));
        assert_eq!(parse("1E3"), Some(1_000_000));
        assert_eq!(parse("2E"), Some(2 * 10i128.pow(21)));
        assert_eq!(parse("5e-3"), Some(5));
        assert_eq!(parse("+7"), Some(7000));
        assert_eq!(parse("-1"), Some(-1000));
        assert_eq!(parse("1Ei"), Some((1i128 << 60) * 1000));
        // Below a thousandth rounds up, as the API server's MilliValue does.
        assert_eq!(parse("1n"), Some(1));
        assert_eq!(parse("1500u"), Some(2));
        assert_eq!(parse("100000000n"), Some(100));
    }

    #[test]
    fn rejects_what_is_not_a_quantity() {
        for bad in ["", "m", "1.2.3", "1KB", "1mi", "1e", "1e+", "Gi", "1 Gi", "1e99999", "abc", "--1"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(parse("99999999999999999999999999999999999999999"), None);
    }

    #[test]
    fn shown_for_people() {
        assert_eq!(cpu(250), "250m");
        assert_eq!(cpu(2000), "2");
        assert_eq!(cpu(1500), "1.5");
        assert_eq!(memory(parse("512Mi").unwrap()), "512Mi");
        assert_eq!(memory(parse("1536Mi").unwrap()), "1.5Gi");
        assert_eq!(memory(parse("30821896Ki").unwrap()), "29.4Gi");
        assert_eq!(memory(parse("100").unwrap()), "100");
    }
}
