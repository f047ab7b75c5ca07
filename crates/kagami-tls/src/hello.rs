//! Legacy protocol probing without cryptography: a hand-built ClientHello
//! offering exactly one protocol version, and a bounded reader that parses
//! the server's first flight with tls-parser.
//!
//! rustls does not speak SSLv3, TLS 1.0 or TLS 1.1, nor the CBC, RC4 and
//! static-RSA suites old servers insist on, so those versions are tested the
//! way sslyze and testssl.sh do it: send a realistic ClientHello for the
//! version and look at the answer. A ServerHello with the offered version
//! means the version is accepted; an alert, another version or a closed
//! connection means it is not. Up to TLS 1.2 the Certificate message follows
//! in clear text, so the chain is captured as well.

use tls_parser::{TlsMessage, TlsMessageHandshake, parse_tls_message_handshake};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A protocol version Kagami tests, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Version {
    Ssl3,
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl Version {
    pub(crate) const ALL: [Self; 5] = [
        Self::Ssl3,
        Self::Tls10,
        Self::Tls11,
        Self::Tls12,
        Self::Tls13,
    ];

    /// The report's name of the version.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Ssl3 => "SSLv3",
            Self::Tls10 => "TLSv1.0",
            Self::Tls11 => "TLSv1.1",
            Self::Tls12 => "TLSv1.2",
            Self::Tls13 => "TLSv1.3",
        }
    }

    pub(crate) fn wire(self) -> u16 {
        match self {
            Self::Ssl3 => 0x0300,
            Self::Tls10 => 0x0301,
            Self::Tls11 => 0x0302,
            Self::Tls12 => 0x0303,
            Self::Tls13 => 0x0304,
        }
    }

    pub(crate) fn from_wire(wire: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.wire() == wire)
    }
}

/// Name of a wire version for messages (`TLSv1.2`, `0x7f12`).
pub(crate) fn wire_label(wire: u16) -> String {
    Version::from_wire(wire).map_or_else(|| format!("0x{wire:04x}"), |v| v.label().to_owned())
}

const SCSV_RENEGOTIATION: u16 = 0x00ff;

/// Suites offered with TLS 1.2: AEAD first, then everything an old
/// server may still insist on (CBC, static RSA, 3DES, RC4).
const TLS12_SUITES: &[u16] = &[
    0xc02c, 0xc02b, 0xc030, 0xc02f, 0xcca9, 0xcca8, 0x009f, 0x009e, // ECDHE/DHE AEAD
    0xc024, 0xc023, 0xc028, 0xc027, 0xc00a, 0xc009, 0xc014, 0xc013, // ECDHE CBC
    0x006b, 0x0067, 0x0039, 0x0033, // DHE CBC
    0x009d, 0x009c, 0x003d, 0x003c, 0x0035, 0x002f, // static RSA
    0xc012, 0x0016, 0x000a, 0x0005, 0x0004, // 3DES, RC4
];

/// Suites that exist in TLS 1.0 and 1.1 (no AEAD, no SHA-256 suites).
const TLS10_SUITES: &[u16] = &[
    0xc00a, 0xc009, 0xc014, 0xc013, // ECDHE CBC
    0x0039, 0x0033, 0x0088, 0x0045, // DHE AES, Camellia
    0x0035, 0x002f, 0x0084, 0x0041, // static RSA AES, Camellia
    0xc012, 0x0016, 0x000a, // 3DES
    0x0005, 0x0004, 0x0007, 0x0009, 0x0015, // RC4, IDEA, DES
];

/// Suites of SSLv3 servers, export grade included.
const SSL3_SUITES: &[u16] = &[
    0xc014, 0xc013, 0x0039, 0x0033, 0x0035, 0x002f, // AES
    0x0016, 0x0013, 0x000a, // 3DES
    0x0005, 0x0004, // RC4
    0x0015, 0x0012, 0x0009, // DES
    0x0014, 0x0011, 0x0008, 0x0006, 0x0003, // export
];

/// Elliptic curves offered: x25519, P-256, P-384, P-521.
const GROUPS: &[u16] = &[0x001d, 0x0017, 0x0018, 0x0019];

/// Signature algorithms offered with TLS 1.2, SHA-1 ones included.
const SIGNATURE_ALGORITHMS: &[u16] = &[
    0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0807, 0x0203, 0x0201,
];

/// A complete TLS record holding a ClientHello that offers only `version`
/// (TLS 1.3 is never offered this way). `server_name` goes into SNI.
pub(crate) fn client_hello(
    version: Version,
    server_name: Option<&str>,
    random: &[u8; 32],
) -> Vec<u8> {
    let wire = version.wire().min(0x0303);
    let suites = match version {
        Version::Ssl3 => SSL3_SUITES,
        Version::Tls10 | Version::Tls11 => TLS10_SUITES,
        Version::Tls12 | Version::Tls13 => TLS12_SUITES,
    };

    let mut ext = Vec::new();
    if let Some(name) = server_name.filter(|n| !n.is_empty() && n.len() < 256) {
        let name = name.as_bytes();
        let mut sni = Vec::new();
        put_u16(&mut sni, len16(name.len() + 3));
        sni.push(0); // host_name
        put_u16(&mut sni, len16(name.len()));
        sni.extend_from_slice(name);
        put_extension(&mut ext, 0x0000, &sni);
    }
    let mut groups = Vec::new();
    put_u16(&mut groups, len16(GROUPS.len() * 2));
    GROUPS.iter().for_each(|&g| put_u16(&mut groups, g));
    put_extension(&mut ext, 0x000a, &groups);
    put_extension(&mut ext, 0x000b, &[1, 0]); // ec_point_formats: uncompressed
    if version >= Version::Tls12 {
        let mut algs = Vec::new();
        put_u16(&mut algs, len16(SIGNATURE_ALGORITHMS.len() * 2));
        SIGNATURE_ALGORITHMS
            .iter()
            .for_each(|&a| put_u16(&mut algs, a));
        put_extension(&mut ext, 0x000d, &algs);
    }
    put_extension(&mut ext, 0x0017, &[]); // extended_master_secret
    put_extension(&mut ext, 0x0023, &[]); // session_ticket

    let mut body = Vec::new();
    put_u16(&mut body, wire);
    body.extend_from_slice(random);
    body.push(0); // no session id
    put_u16(&mut body, len16((suites.len() + 1) * 2));
    suites.iter().for_each(|&s| put_u16(&mut body, s));
    put_u16(&mut body, SCSV_RENEGOTIATION);
    body.extend_from_slice(&[1, 0]); // compression: null only
    put_u16(&mut body, len16(ext.len()));
    body.extend_from_slice(&ext);

    let mut handshake = vec![0x01]; // client_hello
    put_u24(&mut handshake, body.len());
    handshake.extend_from_slice(&body);

    // Record version: SSLv3 for SSLv3, TLS 1.0 otherwise (what real clients
    // send; some servers reject a higher record version).
    let mut record = vec![0x16];
    put_u16(&mut record, wire.min(0x0301));
    put_u16(&mut record, len16(handshake.len()));
    record.extend_from_slice(&handshake);
    record
}

fn len16(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}

fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_be_bytes());
}

fn put_u24(out: &mut Vec<u8>, value: usize) {
    let value = u32::try_from(value).unwrap_or(0x00ff_ffff).min(0x00ff_ffff);
    out.extend_from_slice(&value.to_be_bytes()[1..]);
}

fn put_extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    put_u16(out, kind);
    put_u16(out, len16(data.len()));
    out.extend_from_slice(data);
}

/// The server's answer to a ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// A ServerHello, with the certificates when they followed in clear.
    ServerHello {
        version: u16,
        cipher: u16,
        certificates: Vec<Vec<u8>>,
    },
    Alert {
        level: u8,
        description: u8,
    },
    /// The connection ended before a ServerHello.
    Closed,
    /// Something that is not a TLS answer to a ClientHello.
    NotTls(String),
}

/// Where scanning the bytes received so far stands.
#[derive(Debug, PartialEq, Eq)]
enum Scan {
    /// More bytes are needed; `partial` is the answer so far, if any.
    More {
        partial: Option<Reply>,
    },
    Done(Reply),
}

/// Largest record a server may send (RFC 5246 §6.2.3: 2^14 + 2048).
const MAX_RECORD: usize = (1 << 14) + 2048;

/// Reads records from the start of `buf` until the answer is known.
fn scan(buf: &[u8]) -> Scan {
    let mut pos = 0;
    let mut handshake: Vec<u8> = Vec::new();
    let mut hs_pos = 0;
    let mut hello: Option<(u16, u16)> = None;
    let mut certificates: Vec<Vec<u8>> = Vec::new();
    let answer = |hello: Option<(u16, u16)>, certificates: &Vec<Vec<u8>>| {
        hello.map(|(version, cipher)| Reply::ServerHello {
            version,
            cipher,
            certificates: certificates.clone(),
        })
    };
    loop {
        let Some(header) = buf.get(pos..pos + 5) else {
            return Scan::More {
                partial: answer(hello, &certificates),
            };
        };
        let kind = header[0];
        let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if !(0x14..=0x18).contains(&kind) || header[1] != 3 {
            return match answer(hello, &certificates) {
                Some(done) => Scan::Done(done),
                None => Scan::Done(Reply::NotTls(format!(
                    "the reply does not start with a TLS record (first bytes {:02x?})",
                    header
                ))),
            };
        }
        if length > MAX_RECORD {
            return Scan::Done(Reply::NotTls(format!("record of {length} bytes")));
        }
        let Some(body) = buf.get(pos + 5..pos + 5 + length) else {
            return Scan::More {
                partial: answer(hello, &certificates),
            };
        };
        pos += 5 + length;
        match kind {
            0x15 => {
                if let Some(done) = answer(hello, &certificates) {
                    return Scan::Done(done);
                }
                return match body {
                    [level, description, ..] => Scan::Done(Reply::Alert {
                        level: *level,
                        description: *description,
                    }),
                    _ => Scan::Done(Reply::NotTls("truncated alert".into())),
                };
            }
            0x16 => {
                handshake.extend_from_slice(body);
                while let Some(head) = handshake.get(hs_pos..hs_pos + 4) {
                    let len = usize::from(head[1]) << 16
                        | usize::from(head[2]) << 8
                        | usize::from(head[3]);
                    let Some(message) = handshake.get(hs_pos..hs_pos + 4 + len) else {
                        break;
                    };
                    let kind = head[0];
                    hs_pos += 4 + len;
                    match (kind, hello) {
                        (2, None) => match parse_tls_message_handshake(message) {
                            Ok((
                                _,
                                TlsMessage::Handshake(TlsMessageHandshake::ServerHello(sh)),
                            )) => {
                                hello = Some((sh.version.0, sh.cipher.0));
                            }
                            _ => {
                                // A version tls-parser does not know is still
                                // a version: read it from the message.
                                let version =
                                    message.get(4..6).map(|v| u16::from_be_bytes([v[0], v[1]]));
                                match version {
                                    Some(version) => hello = Some((version, 0)),
                                    None => {
                                        return Scan::Done(Reply::NotTls(
                                            "malformed ServerHello".into(),
                                        ));
                                    }
                                }
                            }
                        },
                        (_, None) => {
                            return Scan::Done(Reply::NotTls(format!(
                                "handshake message type {kind} before the ServerHello"
                            )));
                        }
                        (11, Some(_)) => {
                            if let Ok((
                                _,
                                TlsMessage::Handshake(TlsMessageHandshake::Certificate(c)),
                            )) = parse_tls_message_handshake(message)
                            {
                                certificates =
                                    c.cert_chain.iter().map(|c| c.data.to_vec()).collect();
                            }
                            return Scan::Done(
                                answer(hello, &certificates).unwrap_or(Reply::Closed),
                            );
                        }
                        // ServerHelloDone, or a version whose certificate is
                        // encrypted: nothing more to learn in clear.
                        (14, Some(_)) => {
                            return Scan::Done(
                                answer(hello, &certificates).unwrap_or(Reply::Closed),
                            );
                        }
                        _ => {}
                    }
                }
                if let Some((version, _)) = hello
                    && version >= 0x0304
                {
                    return Scan::Done(answer(hello, &certificates).unwrap_or(Reply::Closed));
                }
            }
            _ => {
                // ChangeCipherSpec or encrypted data: the clear-text part of
                // the flight is over.
                return Scan::Done(answer(hello, &certificates).unwrap_or_else(|| {
                    Reply::NotTls(format!("record type {kind} before the ServerHello"))
                }));
            }
        }
    }
}

/// How reading the answer ended when it did not produce one.
#[derive(Debug)]
pub(crate) enum ReadFailure {
    Timeout,
    Io(std::io::Error),
    TooLong(usize),
}

/// Sends `hello` and reads the answer: at most `max_read` bytes, until
/// `deadline`. A reset or close before the ServerHello is `Reply::Closed`
/// (the server refused), not a failure.
pub(crate) async fn exchange(
    stream: &mut TcpStream,
    hello: &[u8],
    max_read: usize,
    deadline: Instant,
) -> Result<Reply, ReadFailure> {
    match tokio::time::timeout_at(deadline, stream.write_all(hello)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) if is_closed(&e) => return Ok(Reply::Closed),
        Ok(Err(e)) => return Err(ReadFailure::Io(e)),
        Err(_) => return Err(ReadFailure::Timeout),
    }
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 8192];
    loop {
        let partial = match scan(&buf) {
            Scan::Done(reply) => return Ok(reply),
            Scan::More { partial } => partial,
        };
        if buf.len() >= max_read {
            return match partial {
                Some(reply) => Ok(reply),
                None => Err(ReadFailure::TooLong(max_read)),
            };
        }
        let want = chunk.len().min(max_read - buf.len());
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk[..want])).await {
            Ok(Ok(0)) => return Ok(partial.unwrap_or(Reply::Closed)),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) if is_closed(&e) => return Ok(partial.unwrap_or(Reply::Closed)),
            Ok(Err(e)) => return Err(ReadFailure::Io(e)),
            Err(_) => {
                return match partial {
                    Some(reply) => Ok(reply),
                    None => Err(ReadFailure::Timeout),
                };
            }
        }
    }
}

fn is_closed(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
    )
}

/// The name of an alert description, for messages.
pub(crate) fn alert_name(description: u8) -> String {
    let name = match description {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        47 => "illegal_parameter",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        _ => return format!("alert {description}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tls_parser::{
        SNIType, TlsExtension, TlsRecordType, parse_tls_extensions, parse_tls_plaintext,
    };

    fn parse_back(record: &[u8]) -> (u16, u16, Vec<u16>, Vec<u8>) {
        let (rest, plain) = parse_tls_plaintext(record).expect("a TLS record");
        assert!(rest.is_empty(), "trailing bytes after the record");
        assert_eq!(plain.hdr.record_type, TlsRecordType::Handshake);
        assert_eq!(usize::from(plain.hdr.len), record.len() - 5);
        let [TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch))] = plain.msg.as_slice()
        else {
            panic!("expected exactly one ClientHello, got {:?}", plain.msg);
        };
        (
            plain.hdr.version.0,
            ch.version.0,
            ch.ciphers.iter().map(|c| c.0).collect(),
            ch.ext.map(<[u8]>::to_vec).unwrap_or_default(),
        )
    }

    #[test]
    fn client_hellos_parse_back_with_the_offered_version_and_sni() {
        let random = [7u8; 32];
        for (version, record_version) in [
            (Version::Ssl3, 0x0300),
            (Version::Tls10, 0x0301),
            (Version::Tls11, 0x0301),
            (Version::Tls12, 0x0301),
        ] {
            let record = client_hello(version, Some("legacy.tls.test"), &random);
            let (rec, hello_version, suites, ext) = parse_back(&record);
            assert_eq!(rec, record_version, "{version:?}");
            assert_eq!(hello_version, version.wire(), "{version:?}");
            assert_eq!(suites.last(), Some(&SCSV_RENEGOTIATION));
            assert!(suites.len() > 10, "{version:?}: a realistic suite list");
            // Every suite offered is known and exists in that version.
            for id in &suites[..suites.len() - 1] {
                let suite = tls_parser::TlsCipherSuiteID(*id)
                    .get_ciphersuite()
                    .unwrap_or_else(|| panic!("unknown suite {id:04x}"));
                if version < Version::Tls12 {
                    assert!(
                        !suite.name.contains("GCM")
                            && !suite.name.contains("SHA256")
                            && !suite.name.contains("SHA384")
                            && !suite.name.contains("CHACHA"),
                        "{} offered with {version:?}",
                        suite.name
                    );
                }
            }
            let (_, extensions) = parse_tls_extensions(&ext).expect("extensions parse");
            let sni = extensions.iter().find_map(|e| match e {
                TlsExtension::SNI(names) => Some(names.clone()),
                _ => None,
            });
            assert_eq!(
                sni,
                Some(vec![(SNIType::HostName, &b"legacy.tls.test"[..])])
            );
            let has_sigalgs = extensions
                .iter()
                .any(|e| matches!(e, TlsExtension::SignatureAlgorithms(_)));
            assert_eq!(has_sigalgs, version == Version::Tls12, "{version:?}");
        }
    }

    #[test]
    fn client_hello_without_name_has_no_sni() {
        let record = client_hello(Version::Tls10, None, &[0u8; 32]);
        let (_, _, _, ext) = parse_back(&record);
        let (_, extensions) = parse_tls_extensions(&ext).expect("extensions parse");
        assert!(!extensions.iter().any(|e| matches!(e, TlsExtension::SNI(_))));
    }

    fn server_hello(version: u16, cipher: u16) -> Vec<u8> {
        let mut body = Vec::new();
        put_u16(&mut body, version);
        body.extend_from_slice(&[9u8; 32]);
        body.push(0);
        put_u16(&mut body, cipher);
        body.push(0);
        put_u16(&mut body, 0); // empty extensions
        let mut msg = vec![2];
        put_u24(&mut msg, body.len());
        msg.extend_from_slice(&body);
        msg
    }

    fn record(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind, 3, 1];
        put_u16(&mut out, len16(body.len()));
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn replies_are_classified() {
        // An alert.
        assert_eq!(
            scan(&record(0x15, &[2, 70])),
            Scan::Done(Reply::Alert {
                level: 2,
                description: 70
            })
        );
        // ServerHello then Certificate, split over two records.
        let mut cert_msg = vec![11];
        let cert = b"DER".to_vec();
        let mut list = Vec::new();
        put_u24(&mut list, cert.len());
        list.extend_from_slice(&cert);
        let mut body = Vec::new();
        put_u24(&mut body, list.len());
        body.extend_from_slice(&list);
        put_u24(&mut cert_msg, body.len());
        cert_msg.extend_from_slice(&body);
        let mut flight = server_hello(0x0301, 0xc014);
        flight.extend_from_slice(&cert_msg);
        let (first, second) = flight.split_at(30);
        let mut bytes = record(0x16, first);
        // Only the first part: more is needed.
        assert_eq!(scan(&bytes), Scan::More { partial: None });
        bytes.extend_from_slice(&record(0x16, second));
        assert_eq!(
            scan(&bytes),
            Scan::Done(Reply::ServerHello {
                version: 0x0301,
                cipher: 0xc014,
                certificates: vec![cert],
            })
        );
        // A ServerHello alone is a partial answer.
        assert_eq!(
            scan(&record(0x16, &server_hello(0x0303, 0xc02f))),
            Scan::More {
                partial: Some(Reply::ServerHello {
                    version: 0x0303,
                    cipher: 0xc02f,
                    certificates: vec![],
                })
            }
        );
        // Not TLS at all.
        assert!(matches!(
            scan(b"HTTP/1.1 400 Bad Request\r\n"),
            Scan::Done(Reply::NotTls(_))
        ));
        // Truncated header.
        assert_eq!(scan(&[0x16, 3]), Scan::More { partial: None });
    }

    #[test]
    fn labels() {
        assert_eq!(wire_label(0x0302), "TLSv1.1");
        assert_eq!(wire_label(0x7f12), "0x7f12");
        assert_eq!(alert_name(70), "protocol_version");
    }
}
