//! The resolver client. Design follows massdns: a few long-lived UDP sockets per
//! upstream (connected, so replies from any other source are dropped by the
//! kernel), a table of queries in flight per socket keyed by message id, and a
//! reader task per socket that hands each reply to the query that waits for it
//! after checking that the question matches. A semaphore bounds the queries in
//! flight and an optional rate limiter bounds the packets per second.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use kagami_core::DomainName;
use kagami_core::report::DnsStats;
use tokio::net::UdpSocket;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;
use tokio::time::timeout;

use crate::answer::Answer;
use crate::error::DnsError;
use crate::tcp;

/// Largest UDP reply we ask for (the DNS flag day 2020 value).
const EDNS_PAYLOAD: u16 = 1232;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub resolvers: Vec<SocketAddr>,
    pub sockets_per_resolver: usize,
    /// How long one attempt waits for its reply.
    pub timeout: Duration,
    /// Attempts per question, rotating over the resolvers.
    pub attempts: u32,
    /// Questions in flight at once, over all resolvers.
    pub max_in_flight: usize,
    /// Packets per second over all resolvers (retries included); `None` = no limit.
    pub rate: Option<NonZeroU32>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            resolvers: Vec::new(),
            sockets_per_resolver: 4,
            timeout: Duration::from_secs(2),
            attempts: 4,
            max_in_flight: 500,
            rate: None,
        }
    }
}

type Reply = Result<Message, String>;

struct Waiter {
    name: Name,
    rtype: RecordType,
    reply: oneshot::Sender<Reply>,
}

struct Channel {
    socket: UdpSocket,
    upstream: SocketAddr,
    pending: Mutex<HashMap<u16, Waiter>>,
}

impl Channel {
    fn register(&self, name: Name, rtype: RecordType) -> (u16, oneshot::Receiver<Reply>) {
        let (tx, rx) = oneshot::channel();
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        // The table holds at most `max_in_flight` entries, far below 65,536 ids.
        let id = loop {
            let id = rand::random::<u16>();
            if !pending.contains_key(&id) {
                break id;
            }
        };
        pending.insert(
            id,
            Waiter {
                name,
                rtype,
                reply: tx,
            },
        );
        (id, rx)
    }

    fn forget(&self, id: u16) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    async fn read_replies(self: Arc<Self>) {
        let mut buf = vec![0u8; 65_535];
        loop {
            // ICMP errors (port unreachable) surface as receive errors; the
            // waiting query times out and retries, possibly on another resolver.
            let Ok(len) = self.socket.recv(&mut buf).await else {
                continue;
            };
            if len < 12 {
                continue;
            }
            let id = u16::from_be_bytes([buf[0], buf[1]]);
            let parsed = Message::from_vec(&buf[..len]);
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let Some(waiter) = pending.get(&id) else {
                continue;
            };
            let reply = match parsed {
                Ok(msg) => {
                    let matches = msg.metadata.message_type == MessageType::Response
                        && msg.queries.first().is_some_and(|q| {
                            q.query_type() == waiter.rtype && q.name() == &waiter.name
                        });
                    if !matches {
                        // Not the reply to this question (late, stray or spoofed).
                        continue;
                    }
                    Ok(msg)
                }
                Err(e) => Err(e.to_string()),
            };
            if let Some(waiter) = pending.remove(&id) {
                let _ = waiter.reply.send(reply);
            }
        }
    }
}

#[derive(Default)]
struct Counters {
    queries: AtomicU64,
    answered: AtomicU64,
    retries: AtomicU64,
    timeouts: AtomicU64,
    errors: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

struct Inner {
    config: EngineConfig,
    channels: Vec<Arc<Channel>>,
    readers: Vec<JoinHandle<()>>,
    in_flight: Semaphore,
    limiter: Option<DefaultDirectRateLimiter>,
    counters: Counters,
    next: AtomicUsize,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for reader in &self.readers {
            reader.abort();
        }
    }
}

/// A cheap-to-clone handle on the resolver client.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// Opens the sockets and starts their readers; must run inside a Tokio runtime.
    pub async fn new(config: EngineConfig) -> Result<Self, DnsError> {
        if config.resolvers.is_empty() {
            return Err(DnsError::NoResolver);
        }
        let mut channels = Vec::new();
        let mut readers = Vec::new();
        for &upstream in &config.resolvers {
            for _ in 0..config.sockets_per_resolver.max(1) {
                let local: SocketAddr = match upstream.ip() {
                    IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
                    IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
                };
                let socket = UdpSocket::bind(local).await?;
                // Bursts of replies must not overflow the receive queue; a lost
                // reply costs a full time-out. Best effort: the kernel may cap it.
                let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(4 << 20);
                socket.connect(upstream).await?;
                let channel = Arc::new(Channel {
                    socket,
                    upstream,
                    pending: Mutex::default(),
                });
                readers.push(tokio::spawn(Arc::clone(&channel).read_replies()));
                channels.push(channel);
            }
        }
        let limiter = config
            .rate
            .map(|rate| RateLimiter::direct(Quota::per_second(rate)));
        let in_flight = Semaphore::new(config.max_in_flight.max(1));
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                channels,
                readers,
                in_flight,
                limiter,
                counters: Counters::default(),
                next: AtomicUsize::new(0),
            }),
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Asks one question. A reply with SERVFAIL or REFUSED is retried (on the
    /// next resolver when there are several) and returned as an [`Answer`] if no
    /// better one comes; only when nothing usable came back is it an error.
    pub async fn query(&self, name: &DomainName, rtype: RecordType) -> Result<Answer, DnsError> {
        let qname =
            Name::from_ascii(name.to_fqdn()).map_err(|_| DnsError::BadName(name.to_string()))?;
        let inner = &*self.inner;
        let _permit = inner
            .in_flight
            .acquire()
            .await
            .map_err(|_| DnsError::NoResolver)?;
        let per_resolver = inner.config.sockets_per_resolver.max(1);
        let start = inner.next.fetch_add(1, Ordering::Relaxed);
        let attempts = inner.config.attempts.max(1);
        let mut last_error = DnsError::Timeout { attempts };
        let mut server_error: Option<Answer> = None;

        for attempt in 0..attempts {
            if attempt > 0 {
                Counters::bump(&inner.counters.retries);
            }
            // Successive attempts move to the next resolver's sockets.
            let index = (start + attempt as usize * per_resolver) % inner.channels.len();
            let channel = &inner.channels[index];
            if let Some(limiter) = &inner.limiter {
                limiter.until_ready().await;
            }
            let (id, reply) = channel.register(qname.clone(), rtype);
            let wire = match build_query(id, &qname, rtype) {
                Ok(wire) => wire,
                Err(e) => {
                    channel.forget(id);
                    return Err(e);
                }
            };
            Counters::bump(&inner.counters.queries);
            if let Err(e) = channel.socket.send(&wire).await {
                channel.forget(id);
                last_error = e.into();
                continue;
            }
            let message = match timeout(inner.config.timeout, reply).await {
                Err(_) => {
                    channel.forget(id);
                    Counters::bump(&inner.counters.timeouts);
                    last_error = DnsError::Timeout { attempts };
                    continue;
                }
                Ok(Err(_)) => {
                    last_error = DnsError::Malformed("reply reader stopped".into());
                    continue;
                }
                Ok(Ok(Err(parse_error))) => {
                    Counters::bump(&inner.counters.errors);
                    last_error = DnsError::Malformed(parse_error);
                    continue;
                }
                Ok(Ok(Ok(message))) => message,
            };
            Counters::bump(&inner.counters.answered);
            let message = if message.metadata.truncation {
                match tcp::query(channel.upstream, &wire, inner.config.timeout).await {
                    Ok(message) => message,
                    Err(e) => {
                        last_error = e;
                        continue;
                    }
                }
            } else {
                message
            };
            let answer = Answer { message };
            match answer.rcode() {
                ResponseCode::ServFail | ResponseCode::Refused | ResponseCode::FormErr => {
                    Counters::bump(&inner.counters.errors);
                    server_error = Some(answer);
                }
                _ => return Ok(answer),
            }
        }
        server_error.ok_or(last_error)
    }

    /// Counters for the report's coverage section.
    pub fn stats(&self) -> DnsStats {
        let c = &self.inner.counters;
        DnsStats {
            resolvers: self
                .inner
                .config
                .resolvers
                .iter()
                .map(ToString::to_string)
                .collect(),
            queries: c.queries.load(Ordering::Relaxed),
            answered: c.answered.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            timeouts: c.timeouts.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
        }
    }
}

pub(crate) fn build_query(id: u16, name: &Name, rtype: RecordType) -> Result<Vec<u8>, DnsError> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(name.clone(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD);
    message.set_edns(edns);
    message
        .to_vec()
        .map_err(|e| DnsError::Malformed(e.to_string()))
}
