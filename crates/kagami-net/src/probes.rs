//! Probes for services that wait for the client to speak, and how to
//! recognise their answers. The byte layouts follow the protocols' own
//! specifications (RFC 1006/MS-RDPBCGR, MS-SMB2, the PostgreSQL and MongoDB
//! wire protocols, RESP, the memcached text protocol, RFC 1035 over TCP,
//! MS-TDS, Oracle Net's TNS packets).

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

/// A TDS packet of `kind` around `payload` (MS-TDS 2.2.3.1: type, status
/// "end of message", length, SPID 0, packet 1, window 0).
fn tds_packet(kind: u8, payload: &[u8]) -> Vec<u8> {
    let length = u16::try_from(8 + payload.len()).unwrap_or(u16::MAX);
    let mut packet = vec![kind, 0x01];
    packet.extend_from_slice(&length.to_be_bytes());
    packet.extend_from_slice(&[0, 0, 1, 0]);
    packet.extend_from_slice(payload);
    packet
}

/// PRELOGIN options (MS-TDS 2.2.6.5): token, then offset and length of its
/// data from the start of the payload; 0xFF ends the list.
fn prelogin_payload(options: &[(u8, &[u8])]) -> Vec<u8> {
    let mut offset = options.len() * 5 + 1;
    let mut tokens = Vec::new();
    let mut data = Vec::new();
    for (token, value) in options {
        tokens.push(*token);
        tokens.extend_from_slice(&u16::try_from(offset).unwrap_or(0).to_be_bytes());
        tokens.extend_from_slice(&u16::try_from(value.len()).unwrap_or(0).to_be_bytes());
        data.extend_from_slice(value);
        offset += value.len();
    }
    tokens.push(0xff);
    tokens.extend(data);
    tokens
}

/// The PRELOGIN message every SQL Server client sends first: our version
/// (zero), no encryption, the default instance, no thread id.
fn mssql_request(_: &str) -> Vec<u8> {
    let payload = prelogin_payload(&[
        (0x00, &[0; 6]),
        (0x01, &[0x02]),
        (0x02, &[0x00]),
        (0x03, &[0; 4]),
    ]);
    tds_packet(0x12, &payload)
}

/// The whole TDS packet has come (its length is in its header).
fn tds_complete(reply: &[u8]) -> bool {
    reply.len() >= 8 && reply.len() >= usize::from(u16::from_be_bytes([reply[2], reply[3]]))
}

/// The server's PRELOGIN answer: a tabular-result packet whose options start
/// with a 6-byte VERSION. Returns major.minor.build.
pub(crate) fn mssql_version(reply: &[u8]) -> Option<String> {
    if reply.len() < 8 || reply[0] != 0x04 || reply[1] & 0x01 == 0 || !tds_complete(reply) {
        return None;
    }
    let length = usize::from(u16::from_be_bytes([reply[2], reply[3]]));
    let payload = reply.get(8..length)?;
    let (&token, rest) = payload.split_first()?;
    let offset = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
    let size = usize::from(u16::from_be_bytes([*rest.get(2)?, *rest.get(3)?]));
    if token != 0x00 || size != 6 {
        return None;
    }
    let version = payload.get(offset..offset + 6)?;
    let build = u16::from_be_bytes([version[2], version[3]]);
    Some(format!("{}.{}.{build}", version[0], version[1]))
}

fn is_mssql(reply: &[u8]) -> bool {
    mssql_version(reply).is_some()
}

/// Connect data naming a service no listener has: the listener refuses it
/// and says which version it is, as it does to any client that asks for a
/// wrong service name.
const TNS_CONNECT_DATA: &[u8] = b"(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=KAGAMI-PROBE)(CID=(PROGRAM=kagami)(HOST=kagami)(USER=kagami))))";

/// A TNS CONNECT packet (Oracle Net): the 8-byte packet header, then the
/// connect header (protocol version 314, lowest 300, SDU 8192, TDU 32767,
/// the connect data's length and offset) and the connect data.
fn oracle_request(_: &str) -> Vec<u8> {
    const DATA_OFFSET: usize = 58;
    let mut body = Vec::with_capacity(DATA_OFFSET + TNS_CONNECT_DATA.len());
    body.extend_from_slice(&[0; 8]); // packet header, filled below
    for field in [314u16, 300, 0x0c41, 8192, 32767, 0x7f08, 0, 0x0100] {
        body.extend_from_slice(&field.to_be_bytes());
    }
    body.extend_from_slice(
        &u16::try_from(TNS_CONNECT_DATA.len())
            .unwrap_or(0)
            .to_be_bytes(),
    );
    body.extend_from_slice(&u16::try_from(DATA_OFFSET).unwrap_or(0).to_be_bytes());
    body.extend_from_slice(&[0, 0, 0, 0, 0x41, 0x41]); // max receivable, connect flags
    body.resize(DATA_OFFSET, 0);
    body.extend_from_slice(TNS_CONNECT_DATA);
    let length = u16::try_from(body.len()).unwrap_or(u16::MAX);
    body[..2].copy_from_slice(&length.to_be_bytes());
    body[4] = 1; // CONNECT
    body
}

/// A TNS packet from a listener: a whole packet with zero checksums that
/// accepts, refuses or redirects (with its DESCRIPTION), or asks for the
/// connect again.
fn is_oracle_tns(reply: &[u8]) -> bool {
    if reply.len() < 8 || reply[2..4] != [0, 0] || reply[6..8] != [0, 0] {
        return false;
    }
    let length = usize::from(u16::from_be_bytes([reply[0], reply[1]]));
    if length < 8 || reply.len() < length {
        return false;
    }
    let described = reply.windows(13).any(|w| w == b"(DESCRIPTION=");
    match reply[4] {
        2 => reply.len() >= 10 && (300..=400).contains(&u16::from_be_bytes([reply[8], reply[9]])),
        4 | 5 => described,
        11 => length == 8,
        _ => false,
    }
}

/// The whole TNS packet has come.
fn tns_complete(reply: &[u8]) -> bool {
    reply.len() >= 8 && reply.len() >= usize::from(u16::from_be_bytes([reply[0], reply[1]]))
}

/// The listener's version from the `VSNNUM` of its answer (a packed number:
/// 19.0.0.0.0 is 318767104).
pub(crate) fn oracle_version(reply: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(reply);
    let digits = text.split("(VSNNUM=").nth(1)?.split(')').next()?;
    let n: u32 = digits.parse().ok()?;
    Some(format!(
        "{}.{}.{}.{}.{}",
        n >> 24,
        (n >> 20) & 0xf,
        (n >> 12) & 0xff,
        (n >> 8) & 0xf,
        n & 0xff
    ))
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
    Probe {
        protocol: "mssql",
        request: mssql_request,
        matches: is_mssql,
        complete: tds_complete,
    },
    Probe {
        protocol: "oracle",
        request: oracle_request,
        matches: is_oracle_tns,
        complete: tns_complete,
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
            | 1433
            | 1521
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

    /// A PRELOGIN answer as SQL Server 2019 RTM sends it: version
    /// 15.0.2000 (sub-build 5), encryption not supported, default instance,
    /// no thread id, MARS off.
    fn sql_server_2019_prelogin() -> Vec<u8> {
        tds_packet(
            0x04,
            &prelogin_payload(&[
                (0x00, &[15, 0, 0x07, 0xd0, 0, 5]),
                (0x01, &[0x02]),
                (0x02, &[0x00]),
                (0x03, &[]),
                (0x04, &[0x00]),
            ]),
        )
    }

    /// The REFUSE an Oracle 19c listener sends for an unknown service name.
    fn oracle_19c_refuse() -> Vec<u8> {
        let data = b"(DESCRIPTION=(TMP=)(VSNNUM=318767104)(ERR=12514)(ERROR_STACK=(ERROR=(CODE=12514)(EMFI=4))))";
        let mut packet = vec![0, 0, 0, 0, 4, 0, 0, 0, 0x22, 0x00];
        packet.extend_from_slice(&u16::try_from(data.len()).expect("short").to_be_bytes());
        packet.extend_from_slice(data);
        let length = u16::try_from(packet.len()).expect("short");
        packet[..2].copy_from_slice(&length.to_be_bytes());
        packet
    }

    #[test]
    fn database_handshakes_follow_their_wire_formats() {
        let prelogin = mssql_request("");
        assert_eq!(prelogin[0], 0x12, "PRELOGIN");
        assert!(tds_complete(&prelogin));
        assert_eq!(
            usize::from(u16::from_be_bytes([prelogin[2], prelogin[3]])),
            prelogin.len()
        );
        // VERSION's data starts right after the five options' terminator.
        assert_eq!(&prelogin[8..13], &[0x00, 0x00, 0x15, 0x00, 0x06]);
        assert_eq!(prelogin[8 + 20], 0xff);

        let connect = oracle_request("");
        assert_eq!(
            usize::from(u16::from_be_bytes([connect[0], connect[1]])),
            connect.len()
        );
        assert_eq!(connect[4], 1, "CONNECT");
        assert_eq!(u16::from_be_bytes([connect[8], connect[9]]), 314);
        let data_length = usize::from(u16::from_be_bytes([connect[24], connect[25]]));
        let data_offset = usize::from(u16::from_be_bytes([connect[26], connect[27]]));
        assert_eq!(
            &connect[data_offset..data_offset + data_length],
            TNS_CONNECT_DATA
        );
    }

    #[test]
    fn sql_server_and_oracle_answers_give_their_versions() {
        let prelogin = sql_server_2019_prelogin();
        assert!(is_mssql(&prelogin));
        assert_eq!(mssql_version(&prelogin).as_deref(), Some("15.0.2000"));
        assert!(!is_mssql(&prelogin[..prelogin.len() - 1]), "cut short");
        let mut request_echo = prelogin.clone();
        request_echo[0] = 0x12;
        assert!(
            !is_mssql(&request_echo),
            "a PRELOGIN request is not an answer"
        );

        let refuse = oracle_19c_refuse();
        assert!(is_oracle_tns(&refuse));
        assert_eq!(oracle_version(&refuse).as_deref(), Some("19.0.0.0.0"));
        assert_eq!(
            oracle_version(b"(VSNNUM=186647040)").as_deref(),
            Some("11.2.0.2.0")
        );
        assert!(is_oracle_tns(&[0, 8, 0, 0, 11, 0, 0, 0]), "RESEND");
        let mut refuse_without_description = refuse.clone();
        refuse_without_description.truncate(12);
        refuse_without_description[..2].copy_from_slice(&12u16.to_be_bytes());
        assert!(!is_oracle_tns(&refuse_without_description));
        for other in [
            &b"HTTP/1.1 400 Bad Request\r\n\r\n"[..],
            b"+PONG\r\n",
            &[
                0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0, 0, 0x12, 0x34, 0, 0x02, 0, 0x08, 0, 0x02, 0,
                0, 0,
            ],
        ] {
            assert!(!is_mssql(other) && !is_oracle_tns(other), "{other:?}");
        }
        assert!(!is_oracle_tns(&prelogin) && !is_mssql(&refuse));
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
