//! UDP probes: SNMP v1/v2c GET of sysDescr with default communities, and the
//! recursion test of a name server. Both send a handful of datagrams, send
//! them once more if nothing came back, and wait a bounded time; silence is
//! the normal answer of a well-configured host. A closed port says so (ICMP
//! port unreachable), and then the wait ends at once.

use std::io::ErrorKind;
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

/// How long a UDP probe waits for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpWait {
    /// The whole wait, from the first datagram on.
    pub total: Duration,
    /// When the datagrams are sent again if nothing came back (a lost
    /// request or answer); at most `total`.
    pub resend_after: Duration,
}

impl UdpWait {
    /// Waits `total`; sends again after a few round trips of `rtt` when the
    /// host's round-trip time is known, else halfway.
    pub fn new(total: Duration, rtt: Option<Duration>) -> Self {
        let resend_after = rtt.map_or(total / 2, |rtt| {
            (rtt * 4 + Duration::from_millis(250)).min(total / 2)
        });
        Self {
            total,
            resend_after,
        }
    }
}

async fn socket_for(target: SocketAddr) -> std::io::Result<UdpSocket> {
    let local: SocketAddr = match target.ip() {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(target).await?;
    Ok(socket)
}

/// Sends `requests` to `target`, sends them again after `wait.resend_after`,
/// and returns the first datagram `accept` takes within `wait.total`. `None`
/// when nothing acceptable came, or at once when the port is closed.
async fn exchange<T>(
    target: SocketAddr,
    requests: &[Vec<u8>],
    wait: UdpWait,
    accept: impl Fn(&[u8]) -> Option<T>,
) -> std::io::Result<Option<T>> {
    let socket = socket_for(target).await?;
    let started = tokio::time::Instant::now();
    let mut buf = vec![0u8; 4096];
    for deadline in [wait.resend_after.min(wait.total), wait.total] {
        if started.elapsed() >= wait.total {
            break;
        }
        for request in requests {
            // An ICMP port unreachable for an earlier datagram surfaces here.
            if let Err(e) = socket.send(request).await
                && e.kind() == ErrorKind::ConnectionRefused
            {
                return Ok(None);
            }
        }
        while let Ok(received) =
            tokio::time::timeout_at(started + deadline, socket.recv(&mut buf)).await
        {
            match received {
                Ok(len) => {
                    if let Some(answer) = accept(&buf[..len]) {
                        return Ok(Some(answer));
                    }
                }
                // Nothing listens on the port: no answer will come.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => return Ok(None),
                Err(_) => {}
            }
        }
    }
    Ok(None)
}

/// Asks `ip:161` for sysDescr with each default community over v2c and v1;
/// returns the first that answers.
pub async fn snmp_default_community(
    ip: IpAddr,
    wait: UdpWait,
) -> std::io::Result<Option<SnmpAnswer>> {
    let base: u32 = rand::random::<u32>() & 0x7fff_0000;
    let mut requests = Vec::new();
    let mut asked = Vec::new();
    for (c, community) in COMMUNITIES.iter().enumerate() {
        for (version, name) in [(1u8, "v2c"), (0u8, "v1")] {
            let id = base + (c as u32) * 2 + u32::from(version);
            requests.push(get_request(version, community, id));
            asked.push((id, *community, name));
        }
    }
    exchange(SocketAddr::new(ip, 161), &requests, wait, |datagram| {
        let (id, sys_descr) = parse_response(datagram)?;
        let (_, community, version) = asked.iter().find(|(rid, ..)| *rid == id)?;
        Some(SnmpAnswer {
            community: (*community).to_owned(),
            version,
            sys_descr,
        })
    })
    .await
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

/// Sends `name A` with recursion desired to `server`.
pub async fn ask_recursively(
    server: SocketAddr,
    name: &str,
    wait: UdpWait,
) -> std::io::Result<Option<RecursionAnswer>> {
    let Some(qname) = encode_name(name) else {
        return Ok(None);
    };
    let id = rand::random::<u16>();
    let mut query = id.to_be_bytes().to_vec();
    query.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    query.extend(qname);
    query.extend_from_slice(&[0, 1, 0, 1]);
    exchange(server, &[query], wait, |reply| {
        if reply.len() < 12 || reply[..2] != id.to_be_bytes() || reply[2] & 0x80 == 0 {
            return None;
        }
        Some(RecursionAnswer {
            recursion_available: reply[3] & 0x80 != 0,
            authoritative: reply[2] & 0x04 != 0,
            rcode: reply[3] & 0x0f,
            answers: u16::from_be_bytes([reply[6], reply[7]]),
        })
    })
    .await
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
