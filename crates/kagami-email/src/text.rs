//! Small helpers for putting DNS text into one-line evidence and step details.

/// `text` with control characters replaced by spaces and cut to about `max`
/// characters, so that a hostile TXT record cannot break a report line.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 3));
    for (count, c) in text.chars().enumerate() {
        if count >= max {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// "1 DNS look-up", "3 DNS look-ups".
pub(crate) fn plural(count: u64, singular: &str, plural: &str) -> String {
    if count == 1 {
        format!("1 {singular}")
    } else {
        format!("{count} {plural}")
    }
}

/// `items` joined with `separator`, the first `max` of them only, then
/// "and N more".
pub(crate) fn some_of(items: &[String], max: usize, separator: &str) -> String {
    let mut out = items
        .iter()
        .take(max)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(separator);
    if items.len() > max {
        out.push_str(&format!("{separator}and {} more", items.len() - max));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_removes_controls_and_truncates_on_char_boundaries() {
        assert_eq!(one_line("a\nb\tc", 10), "a b c");
        assert_eq!(one_line("日本語のテキスト", 3), "日本語…");
        assert_eq!(one_line("", 3), "");
    }

    #[test]
    fn some_of_cuts_long_lists() {
        let items: Vec<String> = ["a", "b", "c"].map(String::from).into();
        assert_eq!(some_of(&items, 5, ", "), "a, b, c");
        assert_eq!(some_of(&items, 2, ", "), "a, b, and 1 more");
        assert_eq!(some_of(&[], 2, ", "), "");
    }

    #[test]
    fn plural_picks_the_form() {
        assert_eq!(plural(1, "look-up", "look-ups"), "1 look-up");
        assert_eq!(plural(0, "look-up", "look-ups"), "0 look-ups");
    }
}
