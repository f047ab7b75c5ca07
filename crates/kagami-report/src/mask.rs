//! Secrets never appear whole in a report: API keys found in served content
//! are masked wherever they occur (evidence, details), even when the check
//! that found them already masked them.

/// Masks Google API keys (`AIza` + 35 characters) and AWS access key ids
/// (`AKIA`/`ASIA` + 16 characters): the prefix and the last four characters
/// stay, the rest becomes `*`.
pub fn mask_secrets(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(len) = secret_at(&bytes[i..]) {
            out.push_str(&text[i..i + 4]);
            out.push_str(&"*".repeat(len - 8));
            out.push_str(&text[i + len - 4..i + len]);
            i += len;
            continue;
        }
        let width = text[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&text[i..i + width]);
        i += width;
    }
    out
}

/// The length of the secret starting at the beginning of `bytes`, if any.
fn secret_at(bytes: &[u8]) -> Option<usize> {
    let google = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
    let aws = |b: &u8| b.is_ascii_uppercase() || b.is_ascii_digit();
    let (len, valid): (usize, &dyn Fn(&u8) -> bool) = if bytes.starts_with(b"AIza") {
        (39, &google)
    } else if bytes.starts_with(b"AKIA") || bytes.starts_with(b"ASIA") {
        (20, &aws)
    } else {
        return None;
    };
    let body = bytes.get(4..len)?;
    let ends = bytes.get(len).is_none_or(|b| !valid(b));
    (body.iter().all(valid) && ends).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_masked_and_look_alikes_are_not() {
        let google = "AIzaSyA1234567890abcdefghijklmnopqrstuv";
        assert_eq!(google.len(), 39);
        let masked = mask_secrets(&format!("key={google};"));
        assert_eq!(masked, format!("key=AIza{}stuv;", "*".repeat(31)));
        assert_eq!(
            mask_secrets("AKIAIOSFODNN7EXAMPLE x"),
            "AKIA************MPLE x"
        );
        // Too short or too long: not a key of that kind.
        assert_eq!(mask_secrets("AIzaShort"), "AIzaShort");
        assert_eq!(
            mask_secrets("AKIAIOSFODNN7EXAMPLEX"),
            "AKIAIOSFODNN7EXAMPLEX"
        );
        assert_eq!(mask_secrets("日本語 AKIA"), "日本語 AKIA");
    }
}
