//! DNS over TCP framing (RFC 1035 §4.2.2: a two-byte length before each message).

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::error::DnsError;

pub(crate) async fn connect(server: SocketAddr, limit: Duration) -> Result<TcpStream, DnsError> {
    match timeout(limit, TcpStream::connect(server)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(DnsError::Timeout { attempts: 1 }),
    }
}

pub(crate) async fn write_message(stream: &mut TcpStream, wire: &[u8]) -> Result<(), DnsError> {
    let len = u16::try_from(wire.len()).map_err(|_| DnsError::TooLarge(usize::from(u16::MAX)))?;
    let mut frame = Vec::with_capacity(wire.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(wire);
    stream.write_all(&frame).await?;
    Ok(())
}

/// Reads one framed message and its size; `Ok(None)` on a clean end of stream.
pub(crate) async fn read_message(
    stream: &mut TcpStream,
) -> Result<Option<(Message, usize)>, DnsError> {
    let mut len = [0u8; 2];
    match stream.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).await?;
    let message = Message::from_vec(&buf).map_err(|e| DnsError::Malformed(e.to_string()))?;
    Ok(Some((message, buf.len())))
}

/// One question and its answer over a fresh TCP connection.
pub(crate) async fn query(
    server: SocketAddr,
    wire: &[u8],
    limit: Duration,
) -> Result<Message, DnsError> {
    let exchange = async {
        let mut stream = connect(server, limit).await?;
        write_message(&mut stream, wire).await?;
        read_message(&mut stream)
            .await?
            .map(|(message, _)| message)
            .ok_or_else(|| DnsError::Malformed("connection closed before a reply".into()))
    };
    timeout(limit, exchange)
        .await
        .unwrap_or(Err(DnsError::Timeout { attempts: 1 }))
}
