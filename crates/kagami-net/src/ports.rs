//! Port lists: the ranked default list (data/ports/ranked.txt) and the
//! user's `--ports` / `--exclude-ports` specifications.

use std::collections::BTreeSet;

const RANKED: &str = include_str!("../../../data/ports/ranked.txt");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid port specification {spec:?}: {reason}")]
pub struct PortSpecError {
    spec: String,
    reason: String,
}

/// The ranked list's first `n` ports.
pub fn top(n: usize) -> Vec<u16> {
    RANKED
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .take(n)
        .collect()
}

/// Parses `top100`, `top1000`, `all`, or a comma-separated list of ports and
/// ranges (`22,80,8000-8100`). Keeps the ranked order for named lists and
/// ascending order for explicit ones; no duplicates, no port 0.
pub fn parse(spec: &str) -> Result<Vec<u16>, PortSpecError> {
    let error = |reason: &str| PortSpecError {
        spec: spec.to_owned(),
        reason: reason.to_owned(),
    };
    let spec_trim = spec.trim();
    match spec_trim {
        "top100" => return Ok(top(100)),
        "top1000" | "default" => return Ok(top(1000)),
        "all" => return Ok((1..=u16::MAX).collect()),
        "" => return Err(error("empty")),
        _ => {}
    }
    let mut ports = BTreeSet::new();
    for part in spec_trim.split(',') {
        let part = part.trim();
        let (low, high) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let parse_port = |text: &str| -> Result<u16, PortSpecError> {
            match text.parse::<u16>() {
                Ok(0) | Err(_) => Err(error(&format!("{text:?} is not a port number (1-65535)"))),
                Ok(port) => Ok(port),
            }
        };
        let (low, high) = (parse_port(low)?, parse_port(high)?);
        if low > high {
            return Err(error(&format!("range {part} runs backwards")));
        }
        ports.extend(low..=high);
    }
    Ok(ports.into_iter().collect())
}

/// `ports` without the ports of `exclude`.
pub fn without(ports: Vec<u16>, exclude: &[u16]) -> Vec<u16> {
    let exclude: BTreeSet<u16> = exclude.iter().copied().collect();
    ports.into_iter().filter(|p| !exclude.contains(p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_lists_are_ranked_and_complete() {
        let top1000 = parse("top1000").expect("valid");
        assert_eq!(top1000.len(), 1000);
        assert_eq!(
            top1000.iter().collect::<BTreeSet<_>>().len(),
            1000,
            "no duplicates"
        );
        assert_eq!(&top1000[..3], &[80, 443, 22]);
        let top100 = parse("top100").expect("valid");
        assert_eq!(top100[..], top1000[..100]);
        // Every service the check catalog names is in the default list.
        for port in [
            21, 22, 23, 25, 53, 110, 143, 445, 3306, 3389, 5432, 5900, 6379, 9200, 11211, 27017,
            10443, 4443, 8888, 8443, 8080,
        ] {
            assert!(top1000.contains(&port), "{port}");
        }
        assert_eq!(parse("all").expect("valid").len(), 65_535);
    }

    #[test]
    fn explicit_lists_and_ranges() {
        assert_eq!(
            parse("443, 22,80-82,22").expect("valid"),
            [22, 80, 81, 82, 443]
        );
        assert!(parse("0").is_err());
        assert!(parse("70000").is_err());
        assert!(parse("90-80").is_err());
        assert!(parse("http").is_err());
        assert!(parse("").is_err());
        assert_eq!(without(vec![22, 2024, 80], &[2024]), [22, 80]);
    }
}
