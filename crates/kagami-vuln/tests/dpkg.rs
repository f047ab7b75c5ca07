//! Kagami's Debian version ordering against the real `dpkg
//! --compare-versions` on many generated pairs, biased towards the
//! characters where the rules are subtle (`~`, `+`, `.`, letters, leading
//! zeros, epochs, revisions).

use std::cmp::Ordering;
use std::process::Command;

use kagami_vuln::version::DebVersion;
use proptest::prelude::*;

fn dpkg_says(a: &str, relation: &str, b: &str) -> bool {
    let status = Command::new("dpkg")
        .args(["--compare-versions", a, relation, b])
        .status()
        .expect("dpkg is installed (Debian/Ubuntu)");
    match status.code() {
        Some(0) => true,
        Some(1) => false,
        other => panic!("dpkg --compare-versions {a} {relation} {b}: exit {other:?}"),
    }
}

fn dpkg_order(a: &str, b: &str) -> Ordering {
    if dpkg_says(a, "lt", b) {
        Ordering::Less
    } else if dpkg_says(a, "gt", b) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// Upstream parts start with a digit; the rest is drawn from a small
/// alphabet so that generated pairs often share prefixes.
fn upstream() -> impl Strategy<Value = String> {
    ("[0-9]", "[0-9a-b.+~]{0,7}").prop_map(|(first, rest)| format!("{first}{rest}"))
}

fn version() -> impl Strategy<Value = String> {
    (
        prop::option::weighted(0.2, 0u32..3),
        upstream(),
        prop::option::weighted(0.6, "[0-9a-b.+~]{1,5}"),
    )
        .prop_map(|(epoch, upstream, revision)| {
            let mut v = String::new();
            if let Some(e) = epoch {
                v.push_str(&format!("{e}:"));
            }
            v.push_str(&upstream);
            if let Some(r) = revision {
                v.push('-');
                v.push_str(&r);
            }
            v
        })
}

/// A second version close to the first: one character changed, added or
/// removed, so that the comparison is decided by the subtle rules.
fn pair() -> impl Strategy<Value = (String, String)> {
    (
        version(),
        version(),
        any::<prop::sample::Index>(),
        "[0-9a-b.+~]",
    )
        .prop_map(|(a, other, index, c)| {
            let mut near = a.clone();
            let at = index.index(near.len().max(1)).max(1).min(near.len());
            if at % 3 == 0 {
                near.insert_str(at, &c);
            } else {
                near.replace_range(at.min(near.len() - 1)..at.min(near.len() - 1) + 1, &c);
            }
            // Half the pairs are near each other, half are independent.
            if index.index(2) == 0 {
                (a, near)
            } else {
                (a, other)
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn ordering_matches_dpkg((a, b) in pair()) {
        // Only pairs that both tools accept are compared (Kagami's parser is
        // stricter than dpkg's warnings, never looser); proptest fails the
        // test if too many generated pairs are set aside this way.
        let (x, y) = (DebVersion::parse(&a), DebVersion::parse(&b));
        prop_assume!(x.is_ok() && y.is_ok());
        if let (Ok(x), Ok(y)) = (x, y) {
            prop_assert_eq!(x.cmp(&y), dpkg_order(&a, &b), "{} vs {}", a, b);
        }
    }
}

#[test]
fn known_pairs_match_dpkg() {
    let pairs = [
        ("1:9.2p1-2+deb12u2", "1:9.2p1-2+deb12u3"),
        ("1:9.2p1-2+deb12u10", "1:9.2p1-2+deb12u3"),
        ("1:8.9p1-3ubuntu0.7", "1:8.9p1-3ubuntu0.10"),
        ("1:9.6p1-3ubuntu13", "1:9.6p1-3ubuntu13.3"),
        ("8.1.2-1ubuntu2.13", "8.1.2-1ubuntu2.14"),
        ("2.4.62-1~deb12u2", "2.4.62-1"),
        ("1.0~rc1", "1.0"),
        ("1.0", "1.0+b1"),
        ("1.0-1", "1.0-1~bpo1"),
        ("0:1.0", "1.0"),
        ("1.0a", "1.0+"),
        (
            "7.0.33-0ubuntu0.16.04.16+esm7",
            "7.0.33-0ubuntu0.16.04.16+esm8",
        ),
        ("1:8.2p1-4ubuntu0.fips.0.9", "1:8.2p1-4ubuntu0.fips.0.10"),
    ];
    for (a, b) in pairs {
        let ours = DebVersion::parse(a)
            .expect("valid")
            .cmp(&DebVersion::parse(b).expect("valid"));
        assert_eq!(ours, dpkg_order(a, b), "{a} vs {b}");
    }
}
