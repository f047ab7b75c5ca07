//! Identification of a port whose TLS handshake never completes, from what
//! its answer to plain HTTP says. Servers are small tokio listeners on
//! loopback that stall every ClientHello, as a server does whose handshake
//! we gave up on under load.

use std::net::SocketAddr;
use std::time::Duration;

use kagami_net::{Limits, ProbeContext, identification_client_config, identify};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const NGINX_PLAIN_TO_HTTPS: &str = "HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\
Content-Type: text/html\r\nContent-Length: 248\r\nConnection: close\r\n\r\n\
<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r\n\
<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n\
<center>The plain HTTP request was sent to HTTPS port</center>\r\n\
<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

const NGINX_BAD_REQUEST: &str = "HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\
Content-Type: text/html\r\nContent-Length: 150\r\nConnection: close\r\n\r\n\
<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n\
<center><h1>400 Bad Request</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// Serves `http_answer` to anything that looks like an HTTP request, keeps
/// every other connection open without a word (a stalled handshake).
async fn stalling_server(http_answer: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut first = [0u8; 512];
                let Ok(n) = stream.read(&mut first).await else {
                    return;
                };
                if first[..n].starts_with(b"GET ") || first[..n].starts_with(b"HEAD ") {
                    let _ = stream.write_all(http_answer.as_bytes()).await;
                    let _ = stream.shutdown().await;
                } else {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            });
        }
    });
    addr
}

fn context() -> ProbeContext {
    let limits = Limits {
        connect: Duration::from_secs(1),
        read: Duration::from_millis(400),
        max_reply: 16 * 1024,
    };
    ProbeContext {
        limits,
        greeting_wait: Duration::from_millis(400),
        quiet: Duration::from_millis(100),
        tls: identification_client_config().expect("TLS client"),
    }
}

#[tokio::test]
async fn a_port_refusing_plain_http_as_https_is_tls() {
    let addr = stalling_server(NGINX_PLAIN_TO_HTTPS).await;
    let probed = identify(addr, None, &context()).await;
    assert_eq!(probed.service.protocol, "tls", "{:?}", probed.service);
    assert!(probed.service.tls_wrapped);
}

#[tokio::test]
async fn another_bad_request_is_plain_http() {
    let addr = stalling_server(NGINX_BAD_REQUEST).await;
    let probed = identify(addr, None, &context()).await;
    assert_eq!(probed.service.protocol, "http", "{:?}", probed.service);
    assert!(!probed.service.tls_wrapped);
}
