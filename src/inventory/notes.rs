//! What reading an input noticed besides the objects (layout, skipped files and objects,
//! copies of one object), and the timestamps that stand for the capture time.
//!
//! Layer: inventory. Imports the ground layer and the inventory's objects.

use serde_json::Value;

use super::{Object, UNNAMED};

/// What reading the input noticed besides the objects: its layout, what was skipped, and
/// copies of one object.
#[derive(Debug, Clone, Default)]
pub struct InputNotes {
    /// The recognised capture layout (`troubleshoot support bundle`, …), if any.
    pub layout: Option<&'static str>,
    /// Files, and single objects, that were not read, with why.
    pub skipped: Vec<SkippedInput>,
    /// Objects found more than once (the copy with the highest `resourceVersion` is kept).
    pub duplicates: usize,
    /// Objects whose copies differ: `Pod ns/name: 3 copies, kept resourceVersion 812`.
    pub conflicts: Vec<String>,
    /// `SnapshotInfo` documents read: what the input says was captured besides the objects.
    pub declarations: usize,
    /// Resource states those documents declare (`resources:` — which kinds were listed, which
    /// failed): evidence about the capture even when it holds no object.
    pub declared_resources: usize,
}

/// A file, or an object in one, that was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedInput {
    /// Path inside the snapshot directory or archive (the file itself for a single file).
    pub path: String,
    /// Why.
    pub reason: String,
    /// An object that could not be read (not a whole file): the run is not a clean GO.
    pub object: bool,
}

/// The latest RFC 3339 UTC timestamp (`…Z`) of a Pod, Node or Event: creation, condition
/// transitions and heartbeats, event times.
pub(super) fn latest_timestamp<'a>(v: &'a Value) -> Option<&'a str> {
    let kind = v.get("kind").and_then(Value::as_str)?;
    if !matches!(kind, "Pod" | "Node" | "Event") {
        return None;
    }
    let utc = |s: &&str| s.len() == 20 && s.ends_with('Z');
    let mut best: Option<&str> = None;
    let mut see = |t: Option<&'a Value>| {
        if let Some(t) = t.and_then(Value::as_str).filter(utc)
            && best.is_none_or(|b| t > b)
        {
            best = Some(t);
        }
    };
    see(v.pointer("/metadata/creationTimestamp"));
    see(v.get("lastTimestamp"));
    see(v.get("eventTime"));
    for c in v.pointer("/status/conditions").and_then(Value::as_array).into_iter().flatten() {
        see(c.get("lastTransitionTime"));
        see(c.get("lastHeartbeatTime"));
        see(c.get("lastProbeTime"));
    }
    best
}

/// Now, in RFC 3339 UTC; `None` when the clock is before 1970.
#[must_use]
pub fn now_rfc3339() -> Option<String> {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok().map(|d| rfc3339(d.as_secs()))
}

/// RFC 3339 UTC for seconds since the Unix epoch (`2026-11-30T03:04:05Z`).
#[must_use]
pub fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = crate::civil::from_days(days.cast_signed());
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// RFC 3339 UTC for seconds since the Unix epoch, before 1970 too (a certificate's
/// notBefore may be).
#[must_use]
pub fn rfc3339_signed(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = crate::civil::from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Seconds since the Unix epoch for an RFC 3339 timestamp as the API writes them
/// (`2026-11-30T03:04:05Z`, also with fractional seconds or a `+01:00` offset); `None` for
/// anything else.
#[must_use]
pub fn epoch_seconds(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            let (h, m) = (rest.get(1..3)?.parse::<i64>().ok()?, rest.get(4..6)?.parse::<i64>().ok()?);
            sign * (h * 3600 + m * 60)
        }
    };
    // Howard Hinnant's days_from_civil, the inverse of `civil::from_days`.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Keeps one copy of each object in a list sorted by namespace and name: the one with the
/// highest `resourceVersion` (the latest; sonobuoy writes namespaced objects into every
/// namespace's file, at different moments). Copies that differ are noted.
pub(super) fn dedupe(v: &mut Vec<Object>, notes: &mut InputNotes) {
    // Objects without a name (manifests of review kinds, `generateName`) are never copies.
    let same = |a: &Object, b: &Object| a.name != UNNAMED && (&a.namespace, &a.name) == (&b.namespace, &b.name);
    if v.windows(2).all(|w| !same(&w[0], &w[1])) {
        return;
    }
    let rv_key = |rv: Option<String>| -> (u64, String) {
        let s = rv.unwrap_or_default();
        (s.parse::<u64>().unwrap_or(0), s)
    };
    let mut out: Vec<Object> = Vec::with_capacity(v.len());
    let mut group: Vec<Object> = Vec::new();
    let flush = |group: &mut Vec<Object>, out: &mut Vec<Object>, notes: &mut InputNotes| {
        if group.len() > 1 {
            notes.duplicates += 1;
            let differ = group.windows(2).any(|w| w[0].raw != w[1].raw);
            let mut best = 0;
            let mut best_key = rv_key(group[0].resource_version());
            for (i, o) in group.iter().enumerate().skip(1) {
                let k = rv_key(o.resource_version());
                if k > best_key {
                    best = i;
                    best_key = k;
                }
            }
            if differ && notes.conflicts.len() < 100 {
                let kept = if best_key.1.is_empty() {
                    "the first".to_string()
                } else {
                    format!("resourceVersion {}", best_key.1)
                };
                notes.conflicts.push(format!(
                    "{}: {} differing copies, kept {kept}",
                    group[best].obj_ref(),
                    group.len()
                ));
            }
            out.push(group.swap_remove(best));
            group.clear();
        } else {
            out.append(group);
        }
    };
    for o in v.drain(..) {
        if group.last().is_some_and(|g: &Object| !same(g, &o)) {
            flush(&mut group, &mut out, notes);
        }
        group.push(o);
    }
    flush(&mut group, &mut out, notes);
    *v = out;
}

#[cfg(test)]
mod tests {
    use super::{epoch_seconds, rfc3339, rfc3339_signed};

    #[test]
    fn timestamps_round_trip() {
        for secs in [0_i64, 951_782_400, 1_700_000_000, 1_805_241_599, 4_102_444_800] {
            assert_eq!(epoch_seconds(&rfc3339_signed(secs)), Some(secs), "{secs}");
            assert_eq!(rfc3339_signed(secs), rfc3339(secs.cast_unsigned()));
        }
        assert_eq!(rfc3339_signed(-1), "1969-12-31T23:59:59Z");
        assert_eq!(epoch_seconds("1969-12-31T23:59:59Z"), Some(-1));
        assert_eq!(epoch_seconds("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(epoch_seconds("2000-02-29T01:00:00.123456+01:00"), Some(951_782_400));
        assert_eq!(epoch_seconds("2000-02-28T23:00:00-01:00"), Some(951_782_400));
        for bad in [
            "",
            "2000-02-29",
            "2000-02-29T00:00:00",
            "2000-13-01T00:00:00Z",
            "2000-02-29T00:00:00.Z",
            "x000-02-29T00:00:00Z",
            "2000-02-29T00:00:00+0100",
        ] {
            assert_eq!(epoch_seconds(bad), None, "{bad}");
        }
    }
}
