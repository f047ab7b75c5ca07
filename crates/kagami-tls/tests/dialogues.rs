//! STARTTLS dialogues and hostile servers, against tiny in-process servers on
//! loopback (127.10.31.1, an ephemeral port). No lab needed.

use std::net::SocketAddr;
use std::time::Duration;

use kagami_tls::{Starttls, TlsError, TlsLimits, TlsTarget, Trust, inspect, starttls};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const BIND: &str = "127.10.31.1:0";

/// One step of a scripted server: wait for a line starting with `expect`
/// (if any), then send `reply`.
type Step = (Option<&'static str>, &'static str);

/// Serves `script` to every connection; returns the address.
async fn scripted(script: Vec<Step>) -> SocketAddr {
    let listener = TcpListener::bind(BIND).await.expect("bind test server");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let script = script.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                for (expect, reply) in script {
                    if let Some(expect) = expect {
                        match lines.next_line().await {
                            Ok(Some(line)) => assert!(
                                line.starts_with(expect),
                                "client sent {line:?}, expected {expect:?}"
                            ),
                            _ => return,
                        }
                    }
                    if write.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
                // Hold the connection open until the client goes away.
                while let Ok(Some(_)) = lines.next_line().await {}
            });
        }
    });
    addr
}

fn quick() -> TlsLimits {
    TlsLimits {
        connect_timeout: Duration::from_secs(2),
        io_timeout: Duration::from_millis(800),
        max_read: 64 * 1024,
    }
}

async fn upgrade(addr: SocketAddr, protocol: Starttls) -> Result<(), TlsError> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    tokio::time::timeout(
        Duration::from_secs(10),
        starttls(&mut stream, protocol, &quick()),
    )
    .await
    .expect("the dialogue must end on its own, bounded in time")
}

#[tokio::test]
async fn smtp_without_starttls_is_refused_not_a_network_error() {
    let addr = scripted(vec![
        (None, "220 mail.example.test ESMTP\r\n"),
        (
            Some("EHLO kagami.invalid"),
            "250-mail.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n",
        ),
        (Some("STARTTLS"), "502 5.5.1 Command not implemented\r\n"),
    ])
    .await;
    let error = upgrade(addr, Starttls::Smtp).await.expect_err("refused");
    assert!(
        matches!(
            error,
            TlsError::StarttlsRefused {
                protocol: Starttls::Smtp,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_network());

    // inspect() passes the refusal through unchanged.
    let target = TlsTarget {
        addr,
        server_name: None,
        starttls: Some(Starttls::Smtp),
    };
    let trust = Trust::load(&[]).expect("system roots");
    let error = inspect(&target, &trust, &quick())
        .await
        .expect_err("refused");
    assert!(
        matches!(error, TlsError::StarttlsRefused { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn smtp_starttls_answered_negatively_is_refused() {
    let addr = scripted(vec![
        (None, "220-mail.example.test ESMTP\r\n220 no UCE\r\n"),
        (
            Some("EHLO kagami.invalid"),
            "250-mail.example.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
        ),
        (
            Some("STARTTLS"),
            "454 4.7.0 TLS not available due to local problem\r\n",
        ),
    ])
    .await;
    let error = upgrade(addr, Starttls::Smtp).await.expect_err("refused");
    match error {
        TlsError::StarttlsRefused { reply, .. } => assert!(reply.starts_with("454"), "{reply}"),
        other => panic!("expected StarttlsRefused, got {other:?}"),
    }
}

#[tokio::test]
async fn every_protocol_upgrades_on_a_positive_answer() {
    let smtp = scripted(vec![
        (None, "220 mail.example.test ESMTP\r\n"),
        (
            Some("EHLO kagami.invalid"),
            "250-mail.example.test\r\n250-STARTTLS\r\n250 SMTPUTF8\r\n",
        ),
        (Some("STARTTLS"), "220 2.0.0 Ready to start TLS\r\n"),
    ])
    .await;
    let imap = scripted(vec![
        (None, "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"),
        (
            Some("a1 STARTTLS"),
            "* NOTE something untagged\r\na1 OK Begin TLS negotiation now\r\n",
        ),
    ])
    .await;
    let pop3 = scripted(vec![
        (None, "+OK POP3 ready\r\n"),
        (Some("STLS"), "+OK Begin TLS negotiation\r\n"),
    ])
    .await;
    let ftp = scripted(vec![
        (None, "220-Welcome\r\nfree text line\r\n220 ready\r\n"),
        (Some("AUTH TLS"), "234 AUTH TLS OK.\r\n"),
    ])
    .await;
    upgrade(smtp, Starttls::Smtp).await.expect("smtp");
    upgrade(imap, Starttls::Imap).await.expect("imap");
    upgrade(pop3, Starttls::Pop3).await.expect("pop3");
    upgrade(ftp, Starttls::Ftp).await.expect("ftp");
}

#[tokio::test]
async fn negative_answers_of_imap_pop3_ftp_are_refusals() {
    let imap = scripted(vec![
        (None, "* OK ready\r\n"),
        (Some("a1 STARTTLS"), "a1 BAD unknown command\r\n"),
    ])
    .await;
    let pop3 = scripted(vec![
        (None, "+OK ready\r\n"),
        (Some("STLS"), "-ERR no TLS\r\n"),
    ])
    .await;
    let ftp = scripted(vec![
        (None, "220 ready\r\n"),
        (Some("AUTH TLS"), "500 AUTH not understood\r\n"),
    ])
    .await;
    for (addr, protocol) in [
        (imap, Starttls::Imap),
        (pop3, Starttls::Pop3),
        (ftp, Starttls::Ftp),
    ] {
        let error = upgrade(addr, protocol).await.expect_err("refused");
        assert!(
            matches!(error, TlsError::StarttlsRefused { .. }),
            "{protocol}: {error:?}"
        );
    }
}

#[tokio::test]
async fn bytes_after_the_positive_answer_are_rejected() {
    // The classic STARTTLS injection: data sent before TLS starts.
    let addr = scripted(vec![
        (None, "+OK ready\r\n"),
        (Some("STLS"), "+OK go ahead\r\n+OK injected\r\n"),
    ])
    .await;
    let error = upgrade(addr, Starttls::Pop3).await.expect_err("rejected");
    assert!(
        matches!(error, TlsError::StarttlsProtocol { .. }),
        "{error:?}"
    );
}

/// A server that answers every connection with an endless multi-line
/// greeting as fast as it can.
async fn endless_greeting() -> SocketAddr {
    let listener = TcpListener::bind(BIND).await.expect("bind test server");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let line = b"220-this greeting never ends, and it keeps going and going\r\n";
                while stream.write_all(line).await.is_ok() {}
            });
        }
    });
    addr
}

#[tokio::test]
async fn an_endless_multi_line_reply_is_cut_at_the_byte_limit() {
    let addr = endless_greeting().await;
    for protocol in [Starttls::Smtp, Starttls::Ftp] {
        let started = std::time::Instant::now();
        let error = upgrade(addr, protocol).await.expect_err("bounded");
        assert!(
            matches!(error, TlsError::TooLong { limit: 16384, .. }),
            "{protocol}: {error:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

#[tokio::test]
async fn a_trickling_reply_is_cut_at_the_deadline() {
    let listener = TcpListener::bind(BIND).await.expect("bind test server");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                // One byte every 100 ms, never a full line.
                while stream.write_all(b"2").await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
        }
    });
    let started = std::time::Instant::now();
    let error = upgrade(addr, Starttls::Smtp).await.expect_err("bounded");
    assert!(matches!(error, TlsError::Timeout { .. }), "{error:?}");
    assert!(error.is_network());
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// A "TLS" server that reads the ClientHello and hangs up.
async fn closes_after_client_hello() -> SocketAddr {
    let listener = TcpListener::bind(BIND).await.expect("bind test server");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                drop(stream);
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_server_closing_after_the_client_hello_is_an_error_not_a_panic() {
    let addr = closes_after_client_hello().await;
    let trust = Trust::load(&[]).expect("system roots");
    for server_name in [None, Some("closer.example.test".parse().expect("name"))] {
        let target = TlsTarget {
            addr,
            server_name,
            starttls: None,
        };
        let result =
            tokio::time::timeout(Duration::from_secs(20), inspect(&target, &trust, &quick()))
                .await
                .expect("inspect ends on its own");
        match result {
            Err(TlsError::Handshake(reason)) => assert!(reason.contains("closed"), "{reason}"),
            other => panic!("expected a handshake error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_closed_port_is_a_network_error() {
    // Bind, learn the port, close: nothing listens there any more.
    let addr = {
        let listener = TcpListener::bind(BIND).await.expect("bind");
        listener.local_addr().expect("address")
    };
    let target = TlsTarget {
        addr,
        server_name: None,
        starttls: None,
    };
    let trust = Trust::load(&[]).expect("system roots");
    let error = inspect(&target, &trust, &quick())
        .await
        .expect_err("refused");
    assert!(matches!(error, TlsError::Connect { .. }), "{error:?}");
    assert!(error.is_network());
}

#[test]
fn futures_can_move_between_threads() {
    fn assert_send<T: Send>(_: &T) {}
    let target = TlsTarget {
        addr: "127.10.31.1:1".parse().expect("address"),
        server_name: None,
        starttls: None,
    };
    let trust = Trust::load(&[]).expect("system roots");
    let limits = TlsLimits::default();
    let future = inspect(&target, &trust, &limits);
    assert_send(&future);
}
