//! Credentials published by mistake in pages and scripts: Google API keys
//! (`AIza` + 35 characters) and AWS access key ids (`AKIA`/`ASIA` + 16).
//! A key is reported masked everywhere (first and last four characters
//! kept); it is never used or checked against the provider.

use std::sync::LazyLock;

use kagami_core::CheckId;
use regex::Regex;

/// Characters a Google key is made of; a longer run is not a key.
static GOOGLE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^0-9A-Za-z_\-])(AIza[0-9A-Za-z_\-]{35})(?:$|[^0-9A-Za-z_\-])")
        .unwrap_or_else(|e| unreachable!("constant pattern: {e}"))
});

static AWS_KEY_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^0-9A-Za-z])((?:AKIA|ASIA)[0-9A-Z]{16})(?:$|[^0-9A-Za-z])")
        .unwrap_or_else(|e| unreachable!("constant pattern: {e}"))
});

/// A key found in served content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Secret {
    pub(crate) check: CheckId,
    pub(crate) masked: String,
    /// What kind of key, for the evidence.
    pub(crate) kind: &'static str,
}

/// The key with all but its first and last four characters replaced by `*`.
pub(crate) fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let middle = chars.len() - 8;
    chars[..4]
        .iter()
        .chain(std::iter::repeat_n(&'*', middle))
        .chain(&chars[chars.len() - 4..])
        .collect()
}

/// Every distinct key in `text`, in order of appearance.
pub(crate) fn find(text: &str) -> Vec<Secret> {
    let mut found: Vec<(usize, Secret)> = Vec::new();
    for caps in GOOGLE_KEY.captures_iter(text) {
        if let Some(key) = caps.get(1) {
            found.push((
                key.start(),
                Secret {
                    check: CheckId::SecretGoogleApiKey,
                    masked: mask(key.as_str()),
                    kind: "Google API key",
                },
            ));
        }
    }
    for caps in AWS_KEY_ID.captures_iter(text) {
        if let Some(key) = caps.get(1) {
            // AWS's documentation example key is everywhere and is no one's.
            if key.as_str().ends_with("EXAMPLE") {
                continue;
            }
            found.push((
                key.start(),
                Secret {
                    check: CheckId::SecretAwsAccessKeyId,
                    masked: mask(key.as_str()),
                    kind: "AWS access key id",
                },
            ));
        }
    }
    found.sort_by_key(|(at, _)| *at);
    let mut secrets: Vec<Secret> = Vec::new();
    for (_, secret) in found {
        if !secrets.contains(&secret) {
            secrets.push(secret);
        }
    }
    secrets
}

/// `text` with every key in it masked, for anything Kagami writes out
/// (titles, header values, URLs).
pub(crate) fn mask_in(text: &str) -> String {
    let mut out = text.to_owned();
    for pattern in [&*GOOGLE_KEY, &*AWS_KEY_ID] {
        let keys: Vec<String> = pattern
            .captures_iter(&out)
            .filter_map(|c| c.get(1).map(|m| m.as_str().to_owned()))
            .collect();
        for key in keys {
            out = out.replace(&key, &mask(&key));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOGLE: &str = "AIzaSyB3kLq9X7mN2pQ4rS6tU8vW0yZaBcDeFgH"; // 39 characters
    const AWS: &str = "AKIAZ3MSJV4WWNKWW5FG"; // 20 characters

    #[test]
    fn keys_of_the_right_shape_are_found_and_masked() {
        assert_eq!(GOOGLE.len(), 39);
        let page = format!("var cfg = {{apiKey: \"{GOOGLE}\", aws: '{AWS}'}};");
        let found = find(&page);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].check, CheckId::SecretGoogleApiKey);
        assert_eq!(found[0].masked, format!("AIza{}eFgH", "*".repeat(31)));
        assert_eq!(found[1].check, CheckId::SecretAwsAccessKeyId);
        assert_eq!(found[1].masked, "AKIA************W5FG");
        for secret in &found {
            assert!(!page.contains(&secret.masked));
        }
    }

    #[test]
    fn wrong_lengths_and_look_alikes_are_not_keys() {
        // One character short, one too long, inside a longer token.
        let short = &GOOGLE[..38];
        let long = format!("{GOOGLE}Z");
        let text = format!(
            "{short} {long} xAKIAZ3MSJV4WWNKWW5FG AKIAZ3MSJV4WWNKWW5F AKIAZ3MSJV4WWNKWW5FGH"
        );
        assert!(find(&text).is_empty(), "{:?}", find(&text));
        assert!(
            find("AKIAIOSFODNN7EXAMPLE").is_empty(),
            "documentation example"
        );
        assert!(find("akiaz3msjv4wwnkww5fg").is_empty(), "lower case");
    }

    #[test]
    fn masking_keeps_only_the_ends() {
        assert_eq!(mask("AKIAZ3MSJV4WWNKWW5FG"), "AKIA************W5FG");
        assert_eq!(mask("short"), "*****");
        let masked = mask_in(&format!("title with {GOOGLE} inside"));
        assert!(!masked.contains(GOOGLE));
        assert!(masked.starts_with("title with AIza*"));
    }

    #[test]
    fn repeated_keys_are_reported_once() {
        let text = format!("{AWS}\n{AWS}\n");
        assert_eq!(find(&text).len(), 1);
    }
}
