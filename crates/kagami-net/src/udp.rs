//! UDP probes: SNMP v1/v2c GET of sysDescr with default communities, and the
//! recursion test of a name server. Both send a handful of datagrams and wait
//! a bounded time; silence is the normal answer of a well-configured host.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;

/// sysDescr.0 (1.3.6.1.2.1.1.1.0), BER-encoded.
const SYS_DESCR: [u8; 10] = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00];

/// Communities tried, in order.
pub const COMMUNITIES: [&str; 2] = ["public", "private"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnmpAnswer {
    pub community: String,
    /// `v1` or `v2c`.
    pub version: &'static str,
    pub sys_descr: String,
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn get_request(version: u8, community: &str, request_id: u32) -> Vec<u8> {
    let varbind = tlv(0x30, &[SYS_DESCR.as_slice(), &[0x05, 0x00]].concat());
    let varbinds = tlv(0x30, &varbind);
    let mut pdu = tlv(0x02, &request_id.to_be_bytes());
    pdu.extend_from_slice(&[0x02, 0x01, 0x00, 0x02, 0x01, 0x00]);
    pdu.extend(varbinds);
    let mut message = tlv(0x02, &[version]);
    message.extend(tlv(0x04, community.as_bytes()));
    message.extend(tlv(0xa0, &pdu));
    tlv(0x30, &message)
}

/// Reads one TLV: (tag, content, rest).
fn read_tlv(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 2 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| acc << 8 | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// Parses a GetResponse: request id, error status and the sysDescr string.
fn parse_response(datagram: &[u8]) -> Option<(u32, String)> {
    let (0x30, message, _) = read_tlv(datagram)? else {
        return None;
    };
    let (0x02, _version, rest) = read_tlv(message)? else {
        return None;
    };
    let (0x04, _community, rest) = read_tlv(rest)? else {
        return None;
    };
    let (0xa2, pdu, _) = read_tlv(rest)? else {
        return None;
    };
    let (0x02, id, rest) = read_tlv(pdu)? else {
        return None;
    };
    let (0x02, status, rest) = read_tlv(rest)? else {
        return None;
    };
    if status.iter().any(|&b| b != 0) {
        return None;
    }
    let (0x02, _index, rest) = read_tlv(rest)? else {
        return None;
    };
    let (0x30, varbinds, _) = read_tlv(rest)? else {
        return None;
    };
    let (0x30, varbind, _) = read_tlv(varbinds)? else {
        return None;
    };
    let (0x06, _oid, rest) = read_tlv(varbind)? else {
        return None;
    };
    let (0x04, value, _) = read_tlv(rest)? else {
        return None;
    };
    let id = id.iter().fold(0u32, |acc, &b| acc << 8 | u32::from(b));
    Some((
        id,
        String::from_utf8_lossy(value).chars().take(300).collect(),
    ))
}

async fn socket_for(target: IpAddr) -> std::io::Result<UdpSocket> {
    let local: SocketAddr = match target {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    UdpSocket::bind(local).await
}

/// Asks `ip:161` for sysDescr with each default community over v2c and v1;
/// returns the first that answers. Two rounds, `wait` each.
pub async fn snmp_default_community(
    ip: IpAddr,
    wait: Duration,
) -> std::io::Result<Option<SnmpAnswer>> {
    let socket = socket_for(ip).await?;
    socket.connect(SocketAddr::new(ip, 161)).await?;
    let base: u32 = rand::random::<u32>() & 0x7fff_0000;
    let mut requests = Vec::new();
    for (c, community) in COMMUNITIES.iter().enumerate() {
        for (version, name) in [(1u8, "v2c"), (0u8, "v1")] {
            let id = base + (c as u32) * 2 + u32::from(version);
            requests.push((id, *community, name, get_request(version, community, id)));
        }
    }
    let mut buf = vec![0u8; 4096];
    for _round in 0..2 {
        for (_, _, _, request) in &requests {
            // An ICMP port-unreachable from an earlier datagram surfaces here.
            let _ = socket.send(request).await;
        }
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(received) = tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
            let Ok(len) = received else { continue };
            if let Some((id, sys_descr)) = parse_response(&buf[..len])
                && let Some((_, community, version, _)) =
                    requests.iter().find(|(rid, ..)| *rid == id)
            {
                return Ok(Some(SnmpAnswer {
                    community: (*community).to_owned(),
                    version,
                    sys_descr,
                }));
            }
        }
    }
    Ok(None)
}

/// What a name server said to a recursive question about someone else's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecursionAnswer {
    pub recursion_available: bool,
    pub authoritative: bool,
    pub rcode: u8,
    pub answers: u16,
}

impl RecursionAnswer {
    /// Recursion offered and performed: a non-authoritative answer with data,
    /// or an NXDOMAIN it looked up for us.
    pub fn is_open(&self) -> bool {
        self.recursion_available
            && !self.authoritative
            && (self.rcode == 0 && self.answers > 0 || self.rcode == 3)
    }
}

fn encode_name(name: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for label in name.trim_end_matches('.').split('.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|&l| (1..=63).contains(&l))?;
        out.push(len);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    Some(out)
}

/// Sends `name A` with recursion desired to `server` (two tries, `wait` each).
pub async fn ask_recursively(
    server: SocketAddr,
    name: &str,
    wait: Duration,
) -> std::io::Result<Option<RecursionAnswer>> {
    let Some(qname) = encode_name(name) else {
        return Ok(None);
    };
    let id = rand::random::<u16>();
    let mut query = id.to_be_bytes().to_vec();
    query.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    query.extend(qname);
    query.extend_from_slice(&[0, 1, 0, 1]);
    let socket = socket_for(server.ip()).await?;
    socket.connect(server).await?;
    let mut buf = vec![0u8; 4096];
    for _ in 0..2 {
        let _ = socket.send(&query).await;
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(received) = tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
            let Ok(len) = received else { continue };
            let reply = &buf[..len];
            if len < 12 || reply[..2] != id.to_be_bytes() || reply[2] & 0x80 == 0 {
                continue;
            }
            return Ok(Some(RecursionAnswer {
                recursion_available: reply[3] & 0x80 != 0,
                authoritative: reply[2] & 0x04 != 0,
                rcode: reply[3] & 0x0f,
                answers: u16::from_be_bytes([reply[6], reply[7]]),
            }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_request_is_well_formed_ber() {
        let request = get_request(1, "public", 0x0102_0304);
        let (tag, message, rest) = read_tlv(&request).expect("outer sequence");
        assert_eq!((tag, rest.len()), (0x30, 0));
        let (_, version, rest) = read_tlv(message).expect("version");
        assert_eq!(version, [1]);
        let (_, community, _) = read_tlv(rest).expect("community");
        assert_eq!(community, b"public");
    }

    #[test]
    fn parses_a_get_response() {
        let varbind = tlv(
            0x30,
            &[SYS_DESCR.as_slice(), &tlv(0x04, b"Linux lab 6.1")].concat(),
        );
        let mut pdu = tlv(0x02, &[0x07]);
        pdu.extend_from_slice(&[0x02, 0x01, 0x00, 0x02, 0x01, 0x00]);
        pdu.extend(tlv(0x30, &varbind));
        let mut message = tlv(0x02, &[1]);
        message.extend(tlv(0x04, b"public"));
        message.extend(tlv(0xa2, &pdu));
        let response = tlv(0x30, &message);
        assert_eq!(parse_response(&response), Some((7, "Linux lab 6.1".into())));
        assert_eq!(
            parse_response(&response[..response.len() - 3]),
            None,
            "truncated"
        );
        assert_eq!(parse_response(b"\x30\x84garbage"), None);
    }

    #[test]
    fn open_resolver_needs_recursion_not_authority() {
        let open = RecursionAnswer {
            recursion_available: true,
            authoritative: false,
            rcode: 0,
            answers: 1,
        };
        assert!(open.is_open());
        assert!(
            !RecursionAnswer {
                authoritative: true,
                ..open.clone()
            }
            .is_open()
        );
        assert!(
            !RecursionAnswer {
                recursion_available: false,
                ..open.clone()
            }
            .is_open()
        );
        assert!(
            !RecursionAnswer {
                rcode: 5,
                answers: 0,
                ..open
            }
            .is_open()
        );
    }
}
