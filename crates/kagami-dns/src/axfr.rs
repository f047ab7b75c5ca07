//! Zone transfer (AXFR, RFC 5936) over TCP only, with hard bounds: a server
//! that streams forever, or a huge zone, must not hold the scan.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use kagami_core::DomainName;
use tokio::time::timeout_at;

use crate::error::DnsError;
use crate::tcp;

#[derive(Debug, Clone, Copy)]
pub struct TransferLimits {
    /// The whole transfer, connection included.
    pub timeout: Duration,
    pub max_records: usize,
    pub max_bytes: usize,
}

impl Default for TransferLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(20),
            max_records: 100_000,
            max_bytes: 32 << 20,
        }
    }
}

/// What a server answered to an AXFR request.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// The server's response code (REFUSED or NOTAUTH when it declines).
    pub rcode: ResponseCode,
    /// The records received, the opening SOA first.
    pub records: Vec<Record>,
    pub messages: usize,
    /// The stream ended with the closing SOA, as RFC 5936 requires.
    pub complete: bool,
    /// Why the transfer stopped early, when it did.
    pub stopped: Option<String>,
}

impl Transfer {
    /// The zone's contents were handed out: the reply opened with the zone's SOA
    /// and carried data beyond it. A server that declines never does this.
    pub fn leaked(&self) -> bool {
        self.rcode == ResponseCode::NoError
            && self
                .records
                .first()
                .is_some_and(|r| matches!(r.data, RData::SOA(_)))
            && self.records.len() > 1
    }
}

pub async fn zone_transfer(
    server: SocketAddr,
    zone: &DomainName,
    limits: TransferLimits,
) -> Result<Transfer, DnsError> {
    let name = Name::from_ascii(zone.to_fqdn()).map_err(|_| DnsError::BadName(zone.to_string()))?;
    let deadline = Instant::now() + limits.timeout;
    let id = rand::random::<u16>();
    let mut request = Message::new(id, MessageType::Query, OpCode::Query);
    request.add_query(Query::query(name.clone(), RecordType::AXFR));
    let wire = request
        .to_vec()
        .map_err(|e| DnsError::Malformed(e.to_string()))?;

    let mut stream = tcp::connect(server, limits.timeout).await?;
    tcp::write_message(&mut stream, &wire).await?;

    let mut transfer = Transfer {
        rcode: ResponseCode::NoError,
        records: Vec::new(),
        messages: 0,
        complete: false,
        stopped: None,
    };
    let mut bytes = 0usize;
    loop {
        let next = timeout_at(deadline.into(), tcp::read_message(&mut stream)).await;
        let (message, size) = match next {
            Err(_) => {
                transfer.stopped = Some(format!("time limit of {:?} reached", limits.timeout));
                break;
            }
            Ok(Ok(Some(frame))) => frame,
            Ok(Ok(None)) => {
                if transfer.messages > 0 && !transfer.complete {
                    transfer.stopped = Some("server closed the connection mid-transfer".into());
                }
                break;
            }
            Ok(Err(e)) if transfer.records.is_empty() => return Err(e),
            Ok(Err(e)) => {
                transfer.stopped = Some(e.to_string());
                break;
            }
        };
        if message.metadata.id != id {
            transfer.stopped = Some("reply with a foreign message id".into());
            break;
        }
        transfer.messages += 1;
        bytes += size;
        transfer.rcode = message.metadata.response_code;
        if transfer.rcode != ResponseCode::NoError {
            break;
        }
        for record in message.answers {
            let is_soa = matches!(record.data, RData::SOA(_)) && record.name == name;
            let closes = is_soa && !transfer.records.is_empty();
            transfer.records.push(record);
            if closes {
                transfer.complete = true;
                break;
            }
        }
        if transfer.complete {
            break;
        }
        if transfer.records.len() >= limits.max_records || bytes >= limits.max_bytes {
            transfer.stopped = Some(format!(
                "size limit reached ({} records, {} bytes)",
                transfer.records.len(),
                bytes
            ));
            break;
        }
        if transfer.messages == 1 && transfer.records.is_empty() {
            // NOERROR with no SOA: the server declines without saying so.
            break;
        }
    }
    Ok(transfer)
}
