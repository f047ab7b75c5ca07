//! Probes for services that wait for the client to speak, and how to
//! recognise their answers. The byte layouts follow the protocols' own
//! specifications (RFC 1006/MS-RDPBCGR, MS-SMB2, the PostgreSQL and MongoDB
//! wire protocols, RESP, the memcached text protocol, RFC 1035 over TCP).

/// A silent-service probe: what to send and how to tell a match.
pub(crate) struct Probe {
    pub(crate) protocol: &'static str,
    pub(crate) request: fn(host: &str) -> Vec<u8>,
    pub(crate) matches: fn(reply: &[u8]) -> bool,
    /// The reply is whole (so the read can stop before its deadline).
    pub(crate) complete: fn(reply: &[u8]) -> bool,
}

fn any_bytes(reply: &[u8]) -> bool {
    !reply.is_empty()
}

pub(crate) fn http_request(host: &str) -> Vec<u8> {
    format!(
        "GET / HTTP/1.0\r\nHost: {host}\r\nUser-Agent: Mozilla/5.0 (compatible; Kagami)\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

pub(crate) fn is_http(reply: &[u8]) -> bool {
    reply.starts_with(b"HTTP/1.") || reply.starts_with(b"HTTP/2")
}

/// What web servers answer when plain HTTP reaches a port that expects TLS
/// (nginx, Apache httpd, Go's net/http).
const PLAIN_TO_TLS_PORT: [&[u8]; 3] = [
    b"plain HTTP request was sent to HTTPS port",
    b"speaking plain HTTP to an SSL-enabled server port",
    b"Client sent an HTTP request to an HTTPS server",
];

/// An HTTP 400 saying the port speaks HTTPS: the port is TLS even when a
/// handshake of ours did not complete (it timed out on a busy machine).
pub(crate) fn is_https_port_refusal(reply: &[u8]) -> bool {
    reply.starts_with(b"HTTP/1.")
        && reply.get(9..12) == Some(b"400".as_slice())
        && PLAIN_TO_TLS_PORT
            .iter()
            .any(|marker| reply.windows(marker.len()).any(|w| w == *marker))
}

/// Headers and, when announced, the whole body have arrived.
pub(crate) fn http_complete(reply: &[u8]) -> bool {
    let Some(end) = reply.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&reply[..end]).to_ascii_lowercase();
    match head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        Some(length) => reply.len() >= end + 4 + length,
        None => false,
    }
}

/// An HTTP reply is whole, or the reply is not HTTP and its first line has
/// come (a greeting, an error line: nothing more is needed to tell).
pub(crate) fn http_reply_done(reply: &[u8]) -> bool {
    if reply.starts_with(b"HTTP/") {
        return http_complete(reply);
    }
    reply.len() >= 5 && reply.contains(&b'\n')
}

fn redis_request(_: &str) -> Vec<u8> {
    b"*1\r\n$4\r\nPING\r\n".to_vec()
}

fn is_redis(reply: &[u8]) -> bool {
    reply.starts_with(b"+PONG")
        || reply.starts_with(b"-NOAUTH")
        || reply.starts_with(b"-DENIED")
        || (reply.starts_with(b"-ERR") && String::from_utf8_lossy(reply).contains("AUTH"))
}

fn postgres_request(_: &str) -> Vec<u8> {
    // SSLRequest: length 8, code 80877103.
    vec![0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]
}

fn is_postgres(reply: &[u8]) -> bool {
    reply == b"S" || reply == b"N"
}

fn rdp_request(_: &str) -> Vec<u8> {
    // TPKT + X.224 Connection Request + RDP_NEG_REQ (TLS | CredSSP).
    vec![
        0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x08, 0x00, 0x03, 0, 0, 0,
    ]
}

fn is_rdp(reply: &[u8]) -> bool {
    reply.len() >= 6 && reply[0] == 0x03 && reply[1] == 0x00 && (reply[5] & 0xf0) == 0xd0
}

fn smb_request(_: &str) -> Vec<u8> {
    let mut header = vec![0xfe, b'S', b'M', b'B', 64, 0];
    header.extend_from_slice(&[0; 2]); // credit charge
    header.extend_from_slice(&[0; 4]); // status
    header.extend_from_slice(&[0; 2]); // command: NEGOTIATE
    header.extend_from_slice(&[1, 0]); // credits requested
    header.extend_from_slice(&[0; 4 + 4 + 8 + 4 + 4 + 8 + 16]); // flags .. signature
    let mut negotiate = vec![36, 0, 2, 0, 1, 0, 0, 0];
    negotiate.extend_from_slice(&[0; 4]); // capabilities
    negotiate.extend_from_slice(b"kagami-client-id"); // client GUID (16 bytes)
    negotiate.extend_from_slice(&[0; 8]); // client start time
    negotiate.extend_from_slice(&[0x02, 0x02, 0x10, 0x02]); // dialects 2.0.2, 2.1
    let length = header.len() + negotiate.len();
    let mut packet = vec![0, 0, (length >> 8) as u8, length as u8];
    packet.extend(header);
    packet.extend(negotiate);
    packet
}

fn is_smb(reply: &[u8]) -> bool {
    reply.len() >= 8 && (&reply[4..8] == b"\xfeSMB" || &reply[4..8] == b"\xffSMB")
}

pub(crate) fn mongodb_command(command: &str) -> Vec<u8> {
    // BSON {<command>: 1, $db: "admin"}
    let mut doc = Vec::new();
    doc.push(0x10);
    doc.extend_from_slice(command.as_bytes());
    doc.push(0);
    doc.extend_from_slice(&1i32.to_le_bytes());
    doc.push(0x02);
    doc.extend_from_slice(b"$db\0");
    doc.extend_from_slice(&6i32.to_le_bytes());
    doc.extend_from_slice(b"admin\0");
    doc.push(0);
    let doc_len = i32::try_from(doc.len() + 4).unwrap_or(i32::MAX);
    let mut body = doc_len.to_le_bytes().to_vec();
    body.extend(doc);
    // OP_MSG: header, flag bits, section kind 0.
    let length = i32::try_from(16 + 4 + 1 + body.len()).unwrap_or(i32::MAX);
    let mut message = length.to_le_bytes().to_vec();
    message.extend_from_slice(&0x4b47_i32.to_le_bytes()); // request id
    message.extend_from_slice(&0i32.to_le_bytes()); // response to
    message.extend_from_slice(&2013i32.to_le_bytes()); // OP_MSG
    message.extend_from_slice(&0u32.to_le_bytes());
    message.push(0);
    message.extend(body);
    message
}

fn mongodb_request(_: &str) -> Vec<u8> {
    mongodb_command("hello")
}

pub(crate) fn mongodb_reply_complete(reply: &[u8]) -> bool {
    reply.len() >= 4 && {
        let length = i32::from_le_bytes([reply[0], reply[1], reply[2], reply[3]]);
        usize::try_from(length).is_ok_and(|l| reply.len() >= l)
    }
}

fn is_mongodb(reply: &[u8]) -> bool {
    reply.len() >= 16 && {
        let op = i32::from_le_bytes([reply[12], reply[13], reply[14], reply[15]]);
        let responds_to = i32::from_le_bytes([reply[8], reply[9], reply[10], reply[11]]);
        (op == 2013 || op == 1) && responds_to == 0x4b47
    }
}

fn memcached_request(_: &str) -> Vec<u8> {
    b"version\r\n".to_vec()
}

fn is_memcached(reply: &[u8]) -> bool {
    reply.starts_with(b"VERSION ")
}

fn dns_request(_: &str) -> Vec<u8> {
    // ". IN NS" with RD, length-prefixed for TCP.
    vec![
        0, 17, 0x4b, 0x47, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1,
    ]
}

fn is_dns(reply: &[u8]) -> bool {
    reply.len() >= 14 && reply[2] == 0x4b && reply[3] == 0x47 && (reply[4] & 0x80) != 0
}

fn dns_complete(reply: &[u8]) -> bool {
    reply.len() >= 2 && reply.len() >= 2 + usize::from(u16::from_be_bytes([reply[0], reply[1]]))
}

/// Probes other than TLS (which is tried with a real handshake), in the order
/// of preference when several match.
pub(crate) const SILENT_PROBES: &[Probe] = &[
    Probe {
        protocol: "http",
        request: http_request,
        matches: is_http,
        complete: http_reply_done,
    },
    Probe {
        protocol: "redis",
        request: redis_request,
        matches: is_redis,
        complete: crate::conn::line_done,
    },
    Probe {
        protocol: "postgresql",
        request: postgres_request,
        matches: is_postgres,
        complete: any_bytes,
    },
    Probe {
        protocol: "rdp",
        request: rdp_request,
        matches: is_rdp,
        complete: any_bytes,
    },
    Probe {
        protocol: "smb",
        request: smb_request,
        matches: is_smb,
        complete: any_bytes,
    },
    Probe {
        protocol: "mongodb",
        request: mongodb_request,
        matches: is_mongodb,
        complete: mongodb_reply_complete,
    },
    Probe {
        protocol: "memcached",
        request: memcached_request,
        matches: is_memcached,
        complete: crate::conn::line_done,
    },
    Probe {
        protocol: "dns",
        request: dns_request,
        matches: is_dns,
        complete: dns_complete,
    },
];

/// Ports where the client speaks first: probes start at once instead of
/// waiting for a greeting.
pub(crate) fn client_speaks_first(port: u16) -> bool {
    matches!(
        port,
        53 | 80
            | 81
            | 443
            | 445
            | 591
            | 3000
            | 3389
            | 4443
            | 5000
            | 5001
            | 5432
            | 6379
            | 8000
            | 8008
            | 8080
            | 8081
            | 8443
            | 8888
            | 9000
            | 9200
            | 9443
            | 10443
            | 11211
            | 27017
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_consistent_lengths() {
        let smb = smb_request("");
        assert_eq!(
            usize::from(smb[2]) << 8 | usize::from(smb[3]),
            smb.len() - 4
        );
        assert_eq!(&smb[4..8], b"\xfeSMB");
        let rdp = rdp_request("");
        assert_eq!(usize::from(rdp[3]), rdp.len());
        let mongo = mongodb_command("hello");
        assert!(mongodb_reply_complete(&mongo));
        let dns = dns_request("");
        assert!(dns_complete(&dns));
    }

    #[test]
    fn matchers_reject_each_others_answers() {
        let answers: [&[u8]; 5] = [
            b"HTTP/1.1 200 OK\r\n",
            b"+PONG\r\n",
            b"N",
            b"VERSION 1.6.18\r\n",
            b"-ERR unknown command\r\n",
        ];
        let matching: Vec<Vec<&str>> = answers
            .iter()
            .map(|a| {
                SILENT_PROBES
                    .iter()
                    .filter(|p| (p.matches)(a))
                    .map(|p| p.protocol)
                    .collect()
            })
            .collect();
        assert_eq!(
            matching,
            [
                vec!["http"],
                vec!["redis"],
                vec!["postgresql"],
                vec!["memcached"],
                vec![]
            ]
        );
        assert!(http_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        ));
        assert!(
            !http_reply_done(b"HTTP/1.1 200 OK\r\n"),
            "HTTP waits for its body"
        );
        assert!(
            http_reply_done(b"* OK IMAP4rev1 ready\r\n"),
            "a greeting line"
        );
        assert!(!http_reply_done(b"* OK IMAP"), "half a line");
        assert!(!http_reply_done(b"HTT"));
        assert!(!http_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok"
        ));
    }
}
