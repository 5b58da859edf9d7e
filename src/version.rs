//! Version strings as they appear in clusters, parsed leniently into [`semver::Version`],
//! and the small range language used by matrices and checks.
//!
//! Real-world strings are messy: `v2.7.5`, `2.7`, `v1.4.1-rc1`, `3.0.3-alpine`,
//! `v1.30.7+rke2r1`, `v1.29.3-eks-4f5b1c2`, `@sha256:…`. This module is the one place
//! that turns them into comparable versions. It never guesses: a string it cannot read
//! with confidence is [`Parsed::Unknown`] (with the reason) or [`Parsed::Floating`]
//! (a tag such as `latest` that names no version at all).
//!
//! Ordering is semver's: pre-releases sort before their release (`1.4.1-rc1 < 1.4.1`).
//! Only suffixes that really are pre-releases (`rc`, `alpha`, `beta`, `pre`, `preview`)
//! are kept as such; vendor and variant suffixes (`-alpine`, `-eks-…`, `+rke2r1`) are
//! dropped, because semver would otherwise sort `1.29.3-eks-x` *below* `1.29.3`.
//!
//! Layer: ground. Imports nothing of this crate.

use std::cmp::Ordering;
use std::fmt;

use semver::{Prerelease, Version};

/// Tags that name no version: whatever the registry points them at today.
pub const FLOATING_TAGS: &[&str] = &["latest", "release", "stable", "main", "master", "edge", "nightly", "head", "dev"];

/// What a version string turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A concrete version.
    Version(Version),
    /// A tag that floats: `latest`, `release`, no tag at all, or a major-only tag such as `3`.
    Floating(String),
    /// Not readable as a version; the reason says why (a digest, a dev build, garbage).
    Unknown(String),
}

/// Parses a version string leniently. See the module docs for what is accepted.
#[must_use]
pub fn parse(raw: &str) -> Parsed {
    let s = raw.trim();
    if s.is_empty() {
        return Parsed::Floating("no tag".to_string());
    }
    if s.starts_with("sha256:") || s.starts_with("@sha256:") {
        return Parsed::Unknown(format!("'{s}' is an image digest, not a version"));
    }
    let lower = s.to_ascii_lowercase();
    if FLOATING_TAGS.contains(&lower.as_str()) {
        return Parsed::Floating(format!("'{s}' is a floating tag"));
    }
    let body = s.strip_prefix('v').or_else(|| s.strip_prefix('V')).unwrap_or(s);
    // Build metadata never affects precedence; drop it.
    let body = body.split('+').next().unwrap_or(body);
    let (core, suffix) = match body.find('-') {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Parsed::Unknown(format!("'{s}' is not a version"));
    }
    let mut nums = [0u64; 3];
    for (i, p) in parts.iter().enumerate() {
        if !p.bytes().all(|b| b.is_ascii_digit()) {
            return Parsed::Unknown(format!("'{s}' is not a version"));
        }
        match p.parse::<u64>() {
            Ok(n) => nums[i] = n,
            Err(_) => return Parsed::Unknown(format!("'{s}' has an out-of-range number")),
        }
    }
    if parts.len() == 1 {
        return Parsed::Floating(format!("'{s}' is a major-only tag"));
    }
    let mut v = Version::new(nums[0], nums[1], nums[2]);
    if let Some(suffix) = suffix {
        let lower = suffix.to_ascii_lowercase();
        if ["head", "dev", "master", "main", "snapshot", "nightly"]
            .iter()
            .any(|d| lower == *d || lower.starts_with(&format!("{d}-")))
        {
            return Parsed::Unknown(format!("'{s}' is a development build"));
        }
        match prerelease_of(suffix) {
            Some(Ok(pre)) => v.pre = pre,
            Some(Err(())) => return Parsed::Unknown(format!("'{s}' has an unreadable pre-release")),
            None => {} // a variant or vendor suffix: ignored
        }
    }
    Parsed::Version(v)
}

/// Parses a version or returns `None`; for callers that only care about concrete versions.
#[must_use]
pub fn parse_version(raw: &str) -> Option<Version> {
    match parse(raw) {
        Parsed::Version(v) => Some(v),
        _ => None,
    }
}

/// `Some(Ok)` when the suffix is a real pre-release (`rc1`, `rc.1`, `beta-2`), `None` when it
/// is a variant (`alpine`, `eks-4f5b1c2`, `debian-12`).
fn prerelease_of(suffix: &str) -> Option<Result<Prerelease, ()>> {
    let lower = suffix.to_ascii_lowercase();
    let is_pre = ["rc", "alpha", "beta", "pre", "preview"].iter().any(|p| {
        lower.strip_prefix(p).is_some_and(|rest| {
            rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '-')
        })
    });
    if !is_pre {
        return None;
    }
    // Normalise `rc1` to `rc.1` so that rc10 sorts after rc9, as semver compares numerically
    // only dot-separated numeric identifiers.
    let mut norm = String::new();
    let mut prev_alpha = false;
    for c in lower.chars() {
        let c = if c == '-' { '.' } else { c };
        if c.is_ascii_digit() && prev_alpha {
            norm.push('.');
        }
        prev_alpha = c.is_ascii_alphabetic();
        norm.push(c);
    }
    Some(Prerelease::new(&norm).map_err(|_| ()))
}

/// One comparison such as `>=2.7.8`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparator {
    op: Op,
    version: Version,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A version range: alternatives separated by `||`, each a conjunction of comparators
/// separated by commas or spaces. Example: `>=1.4.0, <1.4.2 || =1.5.0-rc1`.
///
/// Unlike [`semver::VersionReq`], pre-release versions are compared by plain semver
/// precedence, so `<2.7.8` matches `2.7.5-rc1`, which is what a compatibility matrix means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    source: String,
    alternatives: Vec<Vec<Comparator>>,
}

/// Why a range string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid version range '{range}': {reason}")]
pub struct RangeError {
    /// The range as written.
    pub range: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Range {
    /// Parses a range. Operators: `=`, `<`, `<=`, `>`, `>=`; a bare version means `=`.
    pub fn parse(s: &str) -> Result<Self, RangeError> {
        let err = |reason: String| RangeError { range: s.to_string(), reason };
        let mut alternatives = Vec::new();
        for alt in s.split("||") {
            let mut comps = Vec::new();
            let mut tokens = alt.split([',', ' ']).filter(|t| !t.is_empty()).peekable();
            while let Some(tok) = tokens.next() {
                let (op, rest) = split_op(tok);
                // Allow a space between operator and version: `>= 1.2.3`.
                let rest = if rest.is_empty() {
                    tokens.next().ok_or_else(|| err(format!("operator '{tok}' has no version")))?
                } else {
                    rest
                };
                let version = match parse(rest) {
                    Parsed::Version(v) => v,
                    Parsed::Floating(why) | Parsed::Unknown(why) => return Err(err(why)),
                };
                comps.push(Comparator { op, version });
            }
            if comps.is_empty() {
                return Err(err("empty alternative".to_string()));
            }
            alternatives.push(comps);
        }
        Ok(Self { source: s.trim().to_string(), alternatives })
    }

    /// True when `v` satisfies any alternative.
    #[must_use]
    pub fn matches(&self, v: &Version) -> bool {
        self.alternatives.iter().any(|alt| {
            alt.iter().all(|c| {
                let ord = cmp_precedence(v, &c.version);
                match c.op {
                    Op::Eq => ord == Ordering::Equal,
                    Op::Lt => ord == Ordering::Less,
                    Op::Le => ord != Ordering::Greater,
                    Op::Gt => ord == Ordering::Greater,
                    Op::Ge => ord != Ordering::Less,
                }
            })
        })
    }

    /// Every version the range's comparators name (its bounds).
    #[must_use]
    pub fn bounds(&self) -> Vec<&Version> {
        self.alternatives.iter().flatten().map(|c| &c.version).collect()
    }

    /// The range as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn split_op(tok: &str) -> (Op, &str) {
    for (prefix, op) in [(">=", Op::Ge), ("<=", Op::Le), ("==", Op::Eq), (">", Op::Gt), ("<", Op::Lt), ("=", Op::Eq)] {
        if let Some(rest) = tok.strip_prefix(prefix) {
            return (op, rest);
        }
    }
    (Op::Eq, tok)
}

/// Semver precedence, ignoring build metadata (which [`Version`]'s `Ord` does not ignore).
#[must_use]
pub fn cmp_precedence(a: &Version, b: &Version) -> Ordering {
    (a.major, a.minor, a.patch).cmp(&(b.major, b.minor, b.patch)).then_with(|| a.pre.cmp(&b.pre))
}

/// Renders a version with a `v` prefix stripped and no build metadata, e.g. `2.7.5-rc.1`.
#[must_use]
pub fn display(v: &Version) -> String {
    let mut v = v.clone();
    v.build = semver::BuildMetadata::EMPTY;
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        parse_version(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn real_world_strings() {
        assert_eq!(v("v2.7.5"), Version::new(2, 7, 5));
        assert_eq!(v("2.7"), Version::new(2, 7, 0));
        assert_eq!(v("3.0.3-alpine"), Version::new(3, 0, 3));
        assert_eq!(v("v1.30.7+rke2r1"), Version::new(1, 30, 7));
        assert_eq!(v("v1.29.3-eks-4f5b1c2"), Version::new(1, 29, 3));
        assert_eq!(v("v1.4.1-rc1").pre.as_str(), "rc.1");
        assert!(matches!(parse("latest"), Parsed::Floating(_)));
        assert!(matches!(parse("release"), Parsed::Floating(_)));
        assert!(matches!(parse(""), Parsed::Floating(_)));
        assert!(matches!(parse("3"), Parsed::Floating(_)));
        assert!(matches!(parse("@sha256:abcd"), Parsed::Unknown(_)));
        assert!(matches!(parse("v1.2-head"), Parsed::Unknown(_)));
        assert!(matches!(parse("f024f49a"), Parsed::Unknown(_)));
        assert!(matches!(parse("1.2.3.4"), Parsed::Unknown(_)));
        assert!(matches!(parse("99999999999999999999999.1"), Parsed::Unknown(_)));
    }

    #[test]
    fn prerelease_ordering() {
        assert!(v("1.4.1-rc1") < v("1.4.1"));
        assert!(v("1.4.1-rc9") < v("1.4.1-rc10"));
        assert!(v("1.4.1-alpha") < v("1.4.1-beta"));
        assert!(v("1.4.0") < v("1.4.1-rc1"));
    }

    #[test]
    fn ranges() {
        let r = Range::parse("<2.7.8").unwrap();
        assert!(r.matches(&v("v2.7.5")));
        assert!(r.matches(&v("2.7.8-rc1")));
        assert!(!r.matches(&v("2.7.8")));
        let r = Range::parse(">=1.4.0, <1.4.2 || =1.5.0").unwrap();
        assert!(r.matches(&v("1.4.1")));
        assert!(!r.matches(&v("1.4.2")));
        assert!(r.matches(&v("1.5.0")));
        assert!(Range::parse(">= 3.1.0").unwrap().matches(&v("3.1.0")));
        assert!(Range::parse("=3.0.5").unwrap().matches(&v("3.0.5")));
        assert!(Range::parse("<2.x").is_err());
        assert!(Range::parse("").is_err());
        assert!(Range::parse(">=").is_err());
        assert!(Range::parse("1.0 ||").is_err());
    }
}
