use std::net::{IpAddr, SocketAddr};

/// The name servers of `/etc/resolv.conf`, port 53. Empty when the file is
/// missing or lists none.
pub fn system_resolvers() -> Vec<SocketAddr> {
    std::fs::read_to_string("/etc/resolv.conf")
        .map(|text| parse_resolv_conf(&text))
        .unwrap_or_default()
}

fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .filter_map(|rest| {
            // A scoped IPv6 address (fe80::1%eth0) keeps its scope out of the parse.
            let addr = rest.trim().split('%').next()?;
            addr.parse::<IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nameserver_lines_only() {
        let text = "# comment\nsearch example.test\nnameserver 192.0.2.53\nnameserver 2001:db8::53\nnameserver bogus\noptions ndots:2\n";
        let got = parse_resolv_conf(text);
        assert_eq!(
            got,
            vec![
                "192.0.2.53:53".parse().expect("addr"),
                "[2001:db8::53]:53".parse().expect("addr")
            ]
        );
    }
}
