//! Which IP addresses Kagami may send traffic to. Scanning someone's internal
//! network by accident (a DNS record pointing at 10.0.0.5, a rebinding trick) is
//! the failure this guards against: non-public addresses are refused unless the
//! user explicitly allows them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// The class of a non-public address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NonPublic {
    Unspecified,
    Loopback,
    Private,
    LinkLocal,
    Cgnat,
    Multicast,
    Broadcast,
    Documentation,
    Reserved,
}

impl NonPublic {
    /// Classifies `ip`; `None` means a public, routable address.
    pub fn classify(ip: IpAddr) -> Option<Self> {
        match ip {
            IpAddr::V4(v4) => classify_v4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => classify_v4(v4),
                None => classify_v6(v6),
            },
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local",
            Self::Cgnat => "carrier-grade NAT",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Documentation => "documentation",
            Self::Reserved => "reserved",
        }
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<NonPublic> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        () if ip.is_unspecified() || a == 0 => NonPublic::Unspecified,
        () if ip.is_loopback() => NonPublic::Loopback,
        () if ip.is_private() => NonPublic::Private,
        () if ip.is_link_local() => NonPublic::LinkLocal,
        () if a == 100 && (64..128).contains(&b) => NonPublic::Cgnat,
        () if ip.is_multicast() => NonPublic::Multicast,
        () if ip.is_broadcast() => NonPublic::Broadcast,
        () if ip.is_documentation() => NonPublic::Documentation,
        // 192.0.0.0/24 (protocol assignments), 198.18.0.0/15 (benchmarking), 240.0.0.0/4
        () if (a == 192 && b == 0 && c == 0) || (a == 198 && (b & 0xfe) == 18) || a >= 240 => {
            NonPublic::Reserved
        }
        () => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<NonPublic> {
    let first = ip.segments()[0];
    Some(match () {
        () if ip.is_unspecified() => NonPublic::Unspecified,
        () if ip.is_loopback() => NonPublic::Loopback,
        () if (first & 0xfe00) == 0xfc00 => NonPublic::Private,
        () if (first & 0xffc0) == 0xfe80 => NonPublic::LinkLocal,
        () if ip.is_multicast() => NonPublic::Multicast,
        () if first == 0x2001 && ip.segments()[1] == 0x0db8 => NonPublic::Documentation,
        () => return None,
    })
}

/// The user's decision on non-public addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AddressPolicy {
    pub allow_private: bool,
}

impl AddressPolicy {
    /// `Err(reason)` when Kagami must not send traffic to `ip`.
    pub fn check(self, ip: IpAddr) -> Result<(), String> {
        match NonPublic::classify(ip) {
            Some(class) if !self.allow_private => Err(format!(
                "{ip} is a {} address; not scanned (pass --allow-private to scan it)",
                class.describe()
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> Option<NonPublic> {
        NonPublic::classify(s.parse().expect("address"))
    }

    #[test]
    fn classifies_the_ranges_the_policy_names() {
        assert_eq!(class("127.10.0.53"), Some(NonPublic::Loopback));
        assert_eq!(class("10.1.2.3"), Some(NonPublic::Private));
        assert_eq!(class("172.31.255.1"), Some(NonPublic::Private));
        assert_eq!(class("192.168.0.1"), Some(NonPublic::Private));
        assert_eq!(class("169.254.169.254"), Some(NonPublic::LinkLocal));
        assert_eq!(class("100.64.0.1"), Some(NonPublic::Cgnat));
        assert_eq!(class("224.0.0.251"), Some(NonPublic::Multicast));
        assert_eq!(class("::1"), Some(NonPublic::Loopback));
        assert_eq!(class("fd00::1"), Some(NonPublic::Private));
        assert_eq!(class("fe80::1"), Some(NonPublic::LinkLocal));
        assert_eq!(class("::ffff:10.0.0.1"), Some(NonPublic::Private));
    }

    #[test]
    fn public_neighbours_of_private_ranges_are_public() {
        assert_eq!(class("172.32.0.1"), None);
        assert_eq!(class("100.128.0.1"), None);
        assert_eq!(class("8.8.8.8"), None);
        assert_eq!(class("2400:cb00::1"), None);
    }

    #[test]
    fn policy_refuses_unless_allowed() {
        let ip = "127.10.0.1".parse().expect("address");
        assert!(
            AddressPolicy::default()
                .check(ip)
                .expect_err("loopback is refused")
                .contains("--allow-private")
        );
        assert!(
            AddressPolicy {
                allow_private: true
            }
            .check(ip)
            .is_ok()
        );
    }
}
