//! The resolver client. Design follows massdns: a few long-lived UDP sockets per
//! upstream (connected, so replies from any other source are dropped by the
//! kernel), a table of queries in flight per socket keyed by message id, and a
//! reader task per socket that hands each reply to the query that waits for it
//! after checking that the question matches. A semaphore bounds the queries in
//! flight and an optional rate limiter bounds the packets per second.
//!
//! Two ways to ask: [`Engine::query`], one question with its own wait, and
//! [`Engine::query_each`] (in `batch`), many questions of one type over
//! sockets of the run's own.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hickory_proto::op::{Header, Message, Query, ResponseCode};
use hickory_proto::rr::RecordType;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, DecodeError};
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
            sockets_per_resolver: 2,
            timeout: Duration::from_secs(2),
            attempts: 4,
            max_in_flight: 500,
            rate: None,
        }
    }
}

pub(crate) type Reply = Result<Message, String>;

struct Waiter {
    /// The question section as sent, which the reply must repeat.
    question: Arc<[u8]>,
    reply: oneshot::Sender<Reply>,
}

struct Channel {
    socket: UdpSocket,
    upstream: SocketAddr,
    pending: Mutex<HashMap<u16, Waiter>>,
}

impl Channel {
    fn register(&self, question: &Arc<[u8]>, reply: oneshot::Sender<Reply>) -> u16 {
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
                question: Arc::clone(question),
                reply,
            },
        );
        id
    }

    fn forget(&self, id: u16) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// The waiter of `reply`, taken out of the table: the id is pending and
    /// the reply repeats its question. `None` for anything else (late,
    /// stray or spoofed).
    fn take_waiter(&self, reply: &[u8]) -> Option<Waiter> {
        if reply.len() < 12 || reply[2] & 0x80 == 0 {
            return None; // not a response
        }
        let id = u16::from_be_bytes([reply[0], reply[1]]);
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match pending.get(&id) {
            Some(waiter) if repeats_question(reply, &waiter.question) => pending.remove(&id),
            _ => None,
        }
    }

    async fn read_replies(self: Arc<Self>) {
        let mut buf = vec![0u8; 65_535];
        loop {
            // ICMP errors (port unreachable) surface as receive errors; the
            // waiting query times out and retries, possibly on another resolver.
            let Ok(len) = self.socket.recv(&mut buf).await else {
                continue;
            };
            if let Some(waiter) = self.take_waiter(&buf[..len]) {
                let _ = waiter.reply.send(decode(&buf[..len]));
            }
        }
    }
}

/// Decodes a reply without its authority section, which nothing Kagami
/// reads needs (a negative answer carries the zone's SOA there): header,
/// questions, answers, and the additional section with its EDNS record,
/// whose extended response code is merged as a full decode would.
pub(crate) fn decode(reply: &[u8]) -> Reply {
    let failed = |e: DecodeError| e.to_string();
    let mut decoder = BinDecoder::new(reply);
    let Header {
        mut metadata,
        counts,
    } = Header::read(&mut decoder).map_err(failed)?;
    let mut queries = Vec::with_capacity(usize::from(counts.queries));
    for _ in 0..counts.queries {
        queries.push(Query::read(&mut decoder).map_err(failed)?);
    }
    let op_code = metadata.op_code;
    let section = |decoder: &mut BinDecoder<'_>, count: u16, additional: bool| {
        Message::read_records(decoder, usize::from(count), additional, op_code).map_err(failed)
    };
    let (answers, _, _) = section(&mut decoder, counts.answers, false)?;
    let mut offset = decoder.index();
    for _ in 0..counts.authorities {
        offset = skip_record(reply, offset).ok_or("authority section cut short")?;
    }
    decoder
        .read_slice(offset - decoder.index())
        .map_err(failed)?;
    let (additionals, edns, signature) = section(&mut decoder, counts.additionals, true)?;
    if let Some(edns) = &edns {
        metadata.merge_response_code(edns.rcode_high());
    }
    let mut message = Message::new(metadata.id, metadata.message_type, metadata.op_code);
    message.metadata = metadata;
    message.queries = queries;
    message.answers = answers;
    message.additionals = additionals;
    message.signature = signature;
    message.edns = edns;
    Ok(message)
}

/// The offset after the resource record at `offset` (RFC 1035 §4.1.3).
fn skip_record(message: &[u8], mut offset: usize) -> Option<usize> {
    loop {
        let len = *message.get(offset)?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                offset += 1;
                break;
            }
            0x00 => offset += 1 + usize::from(len),
            // A compression pointer ends the name.
            0xc0 => {
                offset += 2;
                break;
            }
            _ => return None,
        }
    }
    // type, class, TTL, then the data and its length
    let rdlength = message.get(offset + 8..offset + 10)?;
    let end = offset + 10 + usize::from(u16::from_be_bytes([rdlength[0], rdlength[1]]));
    (end <= message.len()).then_some(end)
}

/// The reply holds one question, the one asked (names compared without case).
pub(crate) fn repeats_question(reply: &[u8], question: &[u8]) -> bool {
    let Some(echoed) = reply.get(12..12 + question.len()) else {
        return false;
    };
    let name_len = question.len() - 4;
    reply[4..6] == [0, 1]
        && echoed[..name_len].eq_ignore_ascii_case(&question[..name_len])
        && echoed[name_len..] == question[name_len..]
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

pub(crate) struct Inner {
    pub(crate) config: EngineConfig,
    channels: Vec<Arc<Channel>>,
    readers: Vec<JoinHandle<()>>,
    pub(crate) in_flight: Semaphore,
    pub(crate) limiter: Option<DefaultDirectRateLimiter>,
    counters: Counters,
    pub(crate) next: AtomicUsize,
}

impl Inner {
    /// Counts a datagram about to be sent.
    pub(crate) fn count_query(&self) {
        Counters::bump(&self.counters.queries);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for reader in &self.readers {
            reader.abort();
        }
    }
}

/// Where one question stands over its attempts.
pub(crate) struct Attempts {
    pub(crate) made: u32,
    server_error: Option<Answer>,
    last_error: DnsError,
}

/// What one reply means for its question.
pub(crate) enum Verdict {
    Done(Answer),
    /// Truncated: ask again over TCP.
    Truncated,
    /// Try the next attempt.
    Again,
}

impl Attempts {
    pub(crate) fn new(inner: &Inner) -> Self {
        Self {
            made: 0,
            server_error: None,
            last_error: DnsError::Timeout {
                attempts: inner.config.attempts.max(1),
            },
        }
    }

    /// Counts a new attempt; false when none is left.
    pub(crate) fn start(&mut self, inner: &Inner) -> bool {
        if self.made >= inner.config.attempts.max(1) {
            return false;
        }
        if self.made > 0 {
            Counters::bump(&inner.counters.retries);
        }
        self.made += 1;
        true
    }

    /// A UDP reply (or a reader that stopped) for the current attempt.
    pub(crate) fn replied(&mut self, inner: &Inner, reply: Reply) -> Verdict {
        match reply {
            Ok(message) => {
                Counters::bump(&inner.counters.answered);
                if message.metadata.truncation {
                    return Verdict::Truncated;
                }
                self.answered(inner, message)
            }
            Err(parse_error) => {
                Counters::bump(&inner.counters.errors);
                self.last_error = DnsError::Malformed(parse_error);
                Verdict::Again
            }
        }
    }

    /// A whole answer. SERVFAIL, REFUSED and FORMERR are tried again (on
    /// the next resolver when there are several) and kept in case no better
    /// answer comes.
    pub(crate) fn answered(&mut self, inner: &Inner, message: Message) -> Verdict {
        let answer = Answer { message };
        match answer.rcode() {
            ResponseCode::ServFail | ResponseCode::Refused | ResponseCode::FormErr => {
                Counters::bump(&inner.counters.errors);
                self.server_error = Some(answer);
                Verdict::Again
            }
            _ => Verdict::Done(answer),
        }
    }

    pub(crate) fn timed_out(&mut self, inner: &Inner) {
        Counters::bump(&inner.counters.timeouts);
        self.last_error = DnsError::Timeout {
            attempts: inner.config.attempts.max(1),
        };
    }

    pub(crate) fn failed(&mut self, error: DnsError) {
        self.last_error = error;
    }

    /// The result once no attempt is left: a server error answer if one
    /// came, else the last error.
    pub(crate) fn finish(self) -> Result<Answer, DnsError> {
        self.server_error.ok_or(self.last_error)
    }
}

/// A cheap-to-clone handle on the resolver client.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
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

    /// The channel of attempt `made` (counted from 1) of a question that
    /// started at `start`: successive attempts move to the next resolver's
    /// sockets.
    fn channel(&self, start: usize, made: u32) -> usize {
        let per_resolver = self.inner.config.sockets_per_resolver.max(1);
        (start + (made as usize - 1) * per_resolver) % self.inner.channels.len()
    }

    /// Waits for the rate limiter, then registers and sends one attempt.
    async fn send(
        &self,
        channel: &Channel,
        question: &Arc<[u8]>,
        reply: oneshot::Sender<Reply>,
        wire: &mut Vec<u8>,
    ) -> Result<u16, DnsError> {
        if let Some(limiter) = &self.inner.limiter {
            limiter.until_ready().await;
        }
        let id = channel.register(question, reply);
        build_query(wire, id, question);
        self.inner.count_query();
        match channel.socket.send(wire).await {
            Ok(_) => Ok(id),
            Err(e) => {
                channel.forget(id);
                Err(e.into())
            }
        }
    }

    /// Asks one question. A reply with SERVFAIL or REFUSED is retried (on the
    /// next resolver when there are several) and returned as an [`Answer`] if no
    /// better one comes; only when nothing usable came back is it an error.
    pub async fn query(&self, name: &DomainName, rtype: RecordType) -> Result<Answer, DnsError> {
        let question = encode_question(name, rtype)?;
        let inner = &*self.inner;
        let _permit = inner
            .in_flight
            .acquire()
            .await
            .map_err(|_| DnsError::NoResolver)?;
        let start = inner.next.fetch_add(1, Ordering::Relaxed);
        let mut attempts = Attempts::new(inner);
        let mut wire = Vec::new();
        while attempts.start(inner) {
            let channel = &inner.channels[self.channel(start, attempts.made)];
            let (tx, reply) = oneshot::channel();
            let id = match self.send(channel, &question, tx, &mut wire).await {
                Ok(id) => id,
                Err(e) => {
                    attempts.failed(e);
                    continue;
                }
            };
            let reply = match timeout(inner.config.timeout, reply).await {
                Err(_) => {
                    channel.forget(id);
                    attempts.timed_out(inner);
                    continue;
                }
                Ok(Err(_)) => {
                    attempts.failed(DnsError::Malformed("reply reader stopped".into()));
                    continue;
                }
                Ok(Ok(reply)) => reply,
            };
            let verdict = match attempts.replied(inner, reply) {
                Verdict::Truncated => {
                    match tcp::query(channel.upstream, &wire, inner.config.timeout).await {
                        Ok(message) => attempts.answered(inner, message),
                        Err(e) => {
                            attempts.failed(e);
                            Verdict::Again
                        }
                    }
                }
                verdict => verdict,
            };
            if let Verdict::Done(answer) = verdict {
                return Ok(answer);
            }
        }
        attempts.finish()
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

/// The question section of `name` / `rtype` / IN (RFC 1035 §4.1.2).
pub(crate) fn encode_question(name: &DomainName, rtype: RecordType) -> Result<Arc<[u8]>, DnsError> {
    let mut out = Vec::with_capacity(name.as_str().len() + 6);
    for label in name.as_str().as_bytes().split(|&b| b == b'.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|&l| (1..=63).contains(&l))
            .ok_or_else(|| DnsError::BadName(name.to_string()))?;
        out.push(len);
        out.extend_from_slice(label);
    }
    out.push(0);
    if out.len() > 255 {
        return Err(DnsError::BadName(name.to_string()));
    }
    out.extend_from_slice(&u16::from(rtype).to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    Ok(out.into())
}

/// A query message: header with recursion desired, the question, and an
/// EDNS OPT record announcing [`EDNS_PAYLOAD`] (RFC 6891 §6.1.2).
pub(crate) fn build_query(wire: &mut Vec<u8>, id: u16, question: &[u8]) {
    wire.clear();
    wire.extend_from_slice(&id.to_be_bytes());
    // flags: RD; one question, no answers, no authority, one additional.
    wire.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1]);
    wire.extend_from_slice(question);
    // root owner, type OPT (41), class = payload size, TTL 0, no options.
    wire.extend_from_slice(&[0, 0, 41]);
    wire.extend_from_slice(&EDNS_PAYLOAD.to_be_bytes());
    wire.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::Name;

    fn name(text: &str) -> DomainName {
        DomainName::parse(text).expect("valid name")
    }

    #[test]
    fn the_query_is_the_message_a_dns_library_reads() {
        let question = encode_question(&name("www.example.jp"), RecordType::AAAA).expect("q");
        let mut wire = Vec::new();
        build_query(&mut wire, 0x1234, &question);
        let message = Message::from_vec(&wire).expect("parses");
        assert_eq!(message.metadata.id, 0x1234);
        assert_eq!(message.metadata.message_type, MessageType::Query);
        assert_eq!(message.metadata.op_code, OpCode::Query);
        assert!(message.metadata.recursion_desired);
        assert_eq!(message.queries.len(), 1);
        assert_eq!(
            message.queries[0].name(),
            &Name::from_ascii("www.example.jp.").expect("name")
        );
        assert_eq!(message.queries[0].query_type(), RecordType::AAAA);
        let edns = message.edns.as_ref().expect("EDNS");
        assert_eq!(edns.max_payload(), EDNS_PAYLOAD);
    }

    #[test]
    fn a_reply_must_repeat_the_question() {
        let question = encode_question(&name("www.example.jp"), RecordType::A).expect("q");
        let mut reply = Vec::new();
        build_query(&mut reply, 7, &question);
        reply[2] |= 0x80;
        assert!(repeats_question(&reply, &question));
        // Servers may echo the name in another case.
        reply[13] = b'W';
        assert!(repeats_question(&reply, &question));
        let other = encode_question(&name("www.example.jp"), RecordType::AAAA).expect("q");
        assert!(!repeats_question(&reply, &other), "another type");
        let longer = encode_question(&name("www.example.jpx"), RecordType::A).expect("q");
        assert!(!repeats_question(&reply, &longer));
        assert!(!repeats_question(&reply[..20], &question), "cut short");
        reply[5] = 2;
        assert!(!repeats_question(&reply, &question), "two questions");
    }

    #[test]
    fn a_reply_decodes_as_a_full_decode_less_its_authority() {
        use hickory_proto::op::{Edns, MessageType};
        use hickory_proto::rr::rdata::{A, CNAME, SOA};
        use hickory_proto::rr::{RData, Record};
        let apex = Name::from_ascii("example.jp.").expect("name");
        let www = Name::from_ascii("www.example.jp.").expect("name");
        let mut reply = Message::new(9, MessageType::Response, OpCode::Query);
        reply.metadata.response_code = ResponseCode::NXDomain;
        reply.add_query(Query::query(www.clone(), RecordType::A));
        reply.add_answer(Record::from_rdata(
            www.clone(),
            300,
            RData::CNAME(CNAME(Name::from_ascii("gone.example.jp.").expect("name"))),
        ));
        reply.add_authority(Record::from_rdata(
            apex.clone(),
            300,
            RData::SOA(SOA::new(
                Name::from_ascii("ns.example.jp.").expect("name"),
                Name::from_ascii("hostmaster.example.jp.").expect("name"),
                1,
                3600,
                600,
                86400,
                300,
            )),
        ));
        reply.add_authority(Record::from_rdata(apex, 60, RData::A(A::new(192, 0, 2, 1))));
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        reply.set_edns(edns);
        let wire = reply.to_vec().expect("encodes");
        let full = Message::from_vec(&wire).expect("full decode");
        let decoded = decode(&wire).expect("decodes");
        assert_eq!(decoded.metadata, full.metadata);
        assert_eq!(decoded.queries, full.queries);
        assert_eq!(decoded.answers, full.answers);
        assert_eq!(decoded.edns, full.edns);
        assert!(decoded.authorities.is_empty() && full.authorities.len() == 2);
        for cut in [20, wire.len() - 12, wire.len() - 1] {
            assert!(decode(&wire[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn names_beyond_the_protocol_limits_are_refused() {
        let long_label = format!("{}.jp", "a".repeat(64));
        if let Ok(name) = DomainName::parse(&long_label) {
            assert!(encode_question(&name, RecordType::A).is_err());
        }
    }
}
