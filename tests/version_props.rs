//! Property tests for `src/version.rs`: lenient parsing, semver precedence and ranges.
//!
//! Versions are generated as a model (numbers plus pre-release identifiers), rendered the
//! ways clusters spell them (`v` prefix, `+build` metadata, `rc1`/`rc.1`/`rc-1`, vendor
//! suffixes), parsed, and compared with a reference implementation of semver precedence
//! written here from the spec (semver.org §11), independent of the code under test. Ranges
//! are generated as alternatives of comparators, rendered with every separator the grammar
//! allows, and matched against the same reference. Case counts are kept modest: the whole
//! file runs in a few seconds.

use std::cmp::Ordering;

use proptest::prelude::*;
use semver::Version;
use upgrade_preflight::version::{Parsed, Range, cmp_precedence, display, parse, parse_version};

const CASES: u32 = 256;

/// One pre-release identifier of the model.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ident {
    Num(u64),
    Alpha(String),
}

/// A version as the reference sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Model {
    core: (u64, u64, u64),
    /// Empty: a release.
    pre: Vec<Ident>,
}

/// semver.org §11 precedence, from the spec's text.
fn reference_cmp(a: &Model, b: &Model) -> Ordering {
    a.core.cmp(&b.core).then_with(|| match (a.pre.is_empty(), b.pre.is_empty()) {
        (true, true) => Ordering::Equal,
        // A pre-release has lower precedence than its release.
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            for (x, y) in a.pre.iter().zip(&b.pre) {
                let o = match (x, y) {
                    (Ident::Num(x), Ident::Num(y)) => x.cmp(y),
                    // Numeric identifiers have lower precedence than alphanumeric ones.
                    (Ident::Num(_), Ident::Alpha(_)) => Ordering::Less,
                    (Ident::Alpha(_), Ident::Num(_)) => Ordering::Greater,
                    (Ident::Alpha(x), Ident::Alpha(y)) => x.as_bytes().cmp(y.as_bytes()),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
            // A larger set of identifiers wins when all preceding ones are equal.
            a.pre.len().cmp(&b.pre.len())
        }
    })
}

/// Pre-release keywords the parser treats as pre-releases (anything else is a variant).
const PRE_WORDS: &[&str] = &["rc", "alpha", "beta", "pre", "preview"];

fn small() -> impl Strategy<Value = u64> {
    // Small numbers collide often, which is where ordering bugs live; some large ones too.
    prop_oneof![4 => 0u64..4, 1 => 0u64..1_000_000]
}

fn core() -> impl Strategy<Value = (u64, u64, u64)> {
    (small(), small(), small())
}

/// A pre-release as clusters write it, with the identifiers it must normalise to.
/// `rc1` → `rc.1`, `rc.1`, `rc-1`, `rc1.2` → `rc.1.2`, bare `rc`.
fn prerelease() -> impl Strategy<Value = (String, Vec<Ident>)> {
    let word = prop::sample::select(PRE_WORDS);
    let sep = prop::sample::select(&["", ".", "-"][..]);
    (word, prop::collection::vec((sep, 0u64..30), 0..3), any::<bool>()).prop_map(|(word, nums, upper)| {
        let mut text = if upper { word.to_ascii_uppercase() } else { word.to_string() };
        let mut ids = vec![Ident::Alpha(word.to_string())];
        for (i, (sep, n)) in nums.iter().enumerate() {
            // After the first number, a separator is required to split numbers.
            let sep = if i > 0 && sep.is_empty() { "." } else { sep };
            text.push_str(sep);
            text.push_str(&n.to_string());
            ids.push(Ident::Num(*n));
        }
        (text, ids)
    })
}

/// `+build` metadata: dot-separated alphanumerics (and hyphens), never affects precedence.
fn build() -> impl Strategy<Value = String> {
    let ident = prop::collection::vec(prop::sample::select(&['a', 'z', 'r', 'k', '2', '0', '9', '-'][..]), 1..6)
        .prop_map(|cs| cs.into_iter().collect::<String>());
    prop::collection::vec(ident, 1..3).prop_map(|ids| ids.join("."))
}

/// A generated version: its spelling, and the model it must parse to.
#[derive(Debug, Clone)]
struct Spelled {
    text: String,
    model: Model,
    /// The same version without prefix or metadata, `MAJOR.MINOR.PATCH[-pre]`.
    canonical: String,
}

fn spelled() -> impl Strategy<Value = Spelled> {
    (
        core(),
        prop::option::weighted(0.5, prerelease()),
        prop::sample::select(&["", "v", "V"][..]),
        prop::option::of(build()),
        any::<bool>(),
    )
        .prop_map(|(core, pre, prefix, build, two_part)| {
            // `2.7` means 2.7.0; only spell it so when the patch is 0.
            let core_text = if two_part && core.2 == 0 {
                format!("{}.{}", core.0, core.1)
            } else {
                format!("{}.{}.{}", core.0, core.1, core.2)
            };
            let mut text = format!("{prefix}{core_text}");
            let mut canonical = format!("{}.{}.{}", core.0, core.1, core.2);
            let pre_ids = match pre {
                Some((pre_text, ids)) => {
                    text.push('-');
                    text.push_str(&pre_text);
                    let norm: Vec<String> = ids
                        .iter()
                        .map(|i| match i {
                            Ident::Num(n) => n.to_string(),
                            Ident::Alpha(s) => s.clone(),
                        })
                        .collect();
                    canonical.push('-');
                    canonical.push_str(&norm.join("."));
                    ids
                }
                None => Vec::new(),
            };
            if let Some(b) = build {
                text.push('+');
                text.push_str(&b);
            }
            Spelled { text, model: Model { core, pre: pre_ids }, canonical }
        })
}

fn parsed(s: &str) -> Version {
    parse_version(s).unwrap_or_else(|| panic!("'{s}' should parse as a version, got {:?}", parse(s)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Every generated spelling parses to exactly the version its model describes.
    #[test]
    fn spellings_parse_to_their_model(s in spelled()) {
        let v = parsed(&s.text);
        prop_assert_eq!((v.major, v.minor, v.patch), s.model.core);
        prop_assert_eq!(display(&v), s.canonical.clone(), "{}", s.text);
        prop_assert!(v.build.is_empty(), "build metadata is dropped: {}", s.text);
    }

    /// `v`/`V` prefixes and `+build` metadata change nothing.
    #[test]
    fn prefix_and_build_metadata_are_ignored(s in spelled(), b in build()) {
        let v = parsed(&s.text);
        prop_assert_eq!(&parsed(&s.canonical), &v);
        prop_assert_eq!(&parsed(&format!("v{}", s.canonical)), &v);
        prop_assert_eq!(&parsed(&format!("{}+{b}", s.canonical)), &v);
        prop_assert_eq!(cmp_precedence(&parsed(&format!("v{}+{b}", s.canonical)), &v), Ordering::Equal);
    }

    /// Precedence agrees with the reference and with `semver`'s own `cmp_precedence`.
    #[test]
    fn ordering_matches_semver_precedence(a in spelled(), b in spelled()) {
        let (va, vb) = (parsed(&a.text), parsed(&b.text));
        let expected = reference_cmp(&a.model, &b.model);
        prop_assert_eq!(cmp_precedence(&va, &vb), expected, "{} vs {}", a.text, b.text);
        prop_assert_eq!(va.cmp_precedence(&vb), expected, "{} vs {}", a.text, b.text);
        // Parsed versions carry no build metadata, so `Ord` is precedence too.
        prop_assert_eq!(va.cmp(&vb), expected, "{} vs {}", a.text, b.text);
    }

    /// The order is total: reflexive, antisymmetric and transitive.
    #[test]
    fn ordering_is_total(a in spelled(), b in spelled(), c in spelled()) {
        let (va, vb, vc) = (parsed(&a.text), parsed(&b.text), parsed(&c.text));
        prop_assert_eq!(cmp_precedence(&va, &va), Ordering::Equal);
        prop_assert_eq!(cmp_precedence(&va, &vb), cmp_precedence(&vb, &va).reverse());
        let mut sorted = [&va, &vb, &vc];
        sorted.sort_by(|x, y| cmp_precedence(x, y));
        prop_assert_ne!(cmp_precedence(sorted[0], sorted[1]), Ordering::Greater);
        prop_assert_ne!(cmp_precedence(sorted[1], sorted[2]), Ordering::Greater);
        prop_assert_ne!(cmp_precedence(sorted[0], sorted[2]), Ordering::Greater, "transitivity");
        // Equal precedence means equal versions (nothing else survives parsing).
        prop_assert_eq!(cmp_precedence(&va, &vb) == Ordering::Equal, va == vb);
    }

    /// A pre-release sorts before its release, and after every earlier release.
    #[test]
    fn prereleases_sort_before_their_release(c in core(), pre in prerelease(), lower in core()) {
        let release = parsed(&format!("{}.{}.{}", c.0, c.1, c.2));
        let pre_v = parsed(&format!("{}.{}.{}-{}", c.0, c.1, c.2, pre.0));
        prop_assert_eq!(cmp_precedence(&pre_v, &release), Ordering::Less);
        if lower < c {
            let earlier = parsed(&format!("{}.{}.{}", lower.0, lower.1, lower.2));
            prop_assert_eq!(cmp_precedence(&earlier, &pre_v), Ordering::Less);
        }
    }

    /// Numbered pre-releases compare numerically however they are spelled: rc9 < rc10.
    #[test]
    fn numbered_prereleases_compare_numerically(
        c in core(), word in prop::sample::select(PRE_WORDS), n in 0u64..1000, m in 0u64..1000,
        sa in prop::sample::select(&["", ".", "-"][..]), sb in prop::sample::select(&["", ".", "-"][..]),
    ) {
        let a = parsed(&format!("{}.{}.{}-{word}{sa}{n}", c.0, c.1, c.2));
        let b = parsed(&format!("{}.{}.{}-{word}{sb}{m}", c.0, c.1, c.2));
        prop_assert_eq!(cmp_precedence(&a, &b), n.cmp(&m));
    }

    /// Variant and vendor suffixes are not pre-releases: `3.0.3-alpine` is 3.0.3.
    #[test]
    fn variant_suffixes_are_ignored(
        c in core(),
        suffix in prop::sample::select(&["alpine", "eks-4f5b1c2", "debian-12", "gke.1200", "k3s1", "rke2r1", "slim"][..]),
    ) {
        let plain = parsed(&format!("{}.{}.{}", c.0, c.1, c.2));
        prop_assert_eq!(parsed(&format!("v{}.{}.{}-{suffix}", c.0, c.1, c.2)), plain);
    }

    /// Rendering and re-parsing is the identity.
    #[test]
    fn display_round_trips(s in spelled()) {
        let v = parsed(&s.text);
        prop_assert_eq!(parsed(&display(&v)), v);
    }

    /// Any input at all gives an answer, never a panic; versions only for digit-led cores.
    #[test]
    fn parse_is_total(s in any::<String>()) {
        match parse(&s) {
            Parsed::Version(v) => prop_assert_eq!(parse_version(&display(&v)), Some(v)),
            Parsed::Floating(why) | Parsed::Unknown(why) => prop_assert!(!why.is_empty()),
        }
        let _ = Range::parse(&s);
    }
}

// ---------------------------------------------------------------------------
// Ranges
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            Op::Eq => ord == Ordering::Equal,
            Op::Lt => ord == Ordering::Less,
            Op::Le => ord != Ordering::Greater,
            Op::Gt => ord == Ordering::Greater,
            Op::Ge => ord != Ordering::Less,
        }
    }
}

/// One comparator and how it is written.
#[derive(Debug, Clone)]
struct Comp {
    op: Op,
    spelling: &'static str,
    version: Spelled,
    space_after_op: bool,
}

type Alternatives = Vec<Vec<Comp>>;

fn comparator() -> impl Strategy<Value = Comp> {
    let ops = prop::sample::select(
        &[(Op::Eq, "="), (Op::Eq, "=="), (Op::Eq, ""), (Op::Lt, "<"), (Op::Le, "<="), (Op::Gt, ">"), (Op::Ge, ">=")][..],
    );
    (ops, spelled(), any::<bool>()).prop_map(|((op, spelling), version, space)| Comp {
        op,
        spelling,
        version,
        space_after_op: space && !spelling.is_empty(),
    })
}

fn range() -> impl Strategy<Value = (Alternatives, String)> {
    let alts = prop::collection::vec(prop::collection::vec(comparator(), 1..4), 1..4);
    let seps = prop::collection::vec(prop::sample::select(&[", ", ",", " ", " , ", "  "][..]), 12);
    let or_seps = prop::collection::vec(prop::sample::select(&["||", " || ", "|| ", " ||"][..]), 4);
    (alts, seps, or_seps).prop_map(|(alts, seps, or_seps)| {
        let mut text = String::new();
        let mut k = 0;
        for (i, alt) in alts.iter().enumerate() {
            if i > 0 {
                text.push_str(or_seps[i % or_seps.len()]);
            }
            for (j, c) in alt.iter().enumerate() {
                if j > 0 {
                    text.push_str(seps[k % seps.len()]);
                    k += 1;
                }
                text.push_str(c.spelling);
                if c.space_after_op {
                    text.push(' ');
                }
                text.push_str(&c.version.text);
            }
        }
        (alts, text)
    })
}

/// The reference: OR of ANDs of comparisons under [`reference_cmp`].
fn reference_matches(alts: &Alternatives, v: &Model) -> bool {
    alts.iter().any(|alt| alt.iter().all(|c| c.op.holds(reference_cmp(v, &c.version.model))))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// `Range::matches` agrees with the reference for generated ranges and versions,
    /// including versions equal to a bound (where off-by-one bugs live).
    #[test]
    fn range_matches_agrees_with_the_reference((alts, text) in range(), probe in spelled(), pick in any::<prop::sample::Index>()) {
        let r = Range::parse(&text).unwrap_or_else(|e| panic!("'{text}' should parse: {e}"));
        prop_assert_eq!(r.as_str(), text.trim());
        let bounds: Vec<&Spelled> = alts.iter().flatten().map(|c| &c.version).collect();
        let on_bound = bounds[pick.index(bounds.len())];
        for v in [&probe, on_bound] {
            let expected = reference_matches(&alts, &v.model);
            prop_assert_eq!(r.matches(&parsed(&v.text)), expected, "'{}' matches '{}'", text, v.text);
        }
    }

    /// `||` is union and `,` is intersection.
    #[test]
    fn or_is_union_and_comma_is_intersection((_, a) in range(), (_, b) in range(), probe in spelled()) {
        let v = parsed(&probe.text);
        let (ra, rb) = (Range::parse(&a).unwrap(), Range::parse(&b).unwrap());
        let either = Range::parse(&format!("{a} || {b}")).unwrap();
        prop_assert_eq!(either.matches(&v), ra.matches(&v) || rb.matches(&v));
        // An intersection of two single-alternative ranges.
        if !a.contains("||") && !b.contains("||") {
            let both = Range::parse(&format!("{a}, {b}")).unwrap();
            prop_assert_eq!(both.matches(&v), ra.matches(&v) && rb.matches(&v));
        }
    }

    /// Ranges that cannot be read are errors, never a range that matches nothing or everything.
    #[test]
    fn malformed_ranges_are_rejected(
        (_, good) in range(),
        bad in prop::sample::select(&["", "||", ">=", "< ", "latest", "@sha256:00", "1", ">=2.x", "1.2.3.4", "v1.2-head"][..]),
    ) {
        prop_assert!(Range::parse(bad).is_err(), "'{bad}'");
        prop_assert!(Range::parse(&format!("{good} || {bad}")).is_err(), "'{good} || {bad}'");
        prop_assert!(Range::parse(&format!("{bad} || {good}")).is_err(), "'{bad} || {good}'");
    }
}
