//! Many questions of one type in one run ([`Engine::query_each`]). The run
//! has sockets of its own, one per resolver, and one loop that sends, reads
//! the replies and keeps the deadlines: no task, timer or channel per
//! question, and no hand-over between threads. A run on the thread that
//! drives a multi-threaded runtime (the scan's own) waits for its sockets
//! in place, with `poll(2)`: no other thread wakes for a reply. Elsewhere
//! the sockets are handed to the runtime's event loop only while the run
//! waits for them, so replies that come while it is busy wake no other
//! thread.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use kagami_core::DomainName;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::time::{Duration, Instant};

use crate::answer::Answer;
use crate::engine::{
    Attempts, Engine, Verdict, build_query, decode, encode_question, repeats_question,
};
use crate::error::DnsError;
use crate::tcp;

/// Datagrams read from one socket before the loop sends again.
const READ_BURST: usize = 64;

/// Longest wait in place before the run lets the rest of its task (an
/// interruption, a report being written) go on.
const IN_PLACE_WAIT: Duration = Duration::from_millis(50);

impl Engine {
    /// Asks `rtype` of every name, as many at once as the engine allows, and
    /// hands each name with its result to `each` as soon as it is known (in
    /// no particular order). Results, retries and counters are those of
    /// [`Engine::query`].
    pub async fn query_each<F>(
        &self,
        names: impl IntoIterator<Item = DomainName>,
        rtype: RecordType,
        mut each: F,
    ) where
        F: FnMut(DomainName, Result<Answer, DnsError>),
    {
        self.query_each_then(
            names.into_iter().map(|name| (name, rtype)),
            |name, _, result| {
                each(name, result);
                None
            },
        )
        .await;
    }

    /// Like [`Engine::query_each`] for questions of any type, where `each`
    /// may ask one more question on the strength of an answer (the AAAA of
    /// a name whose A exists): it goes out in the same run, before the
    /// questions still waiting, so that no second run has to start.
    pub async fn query_each_then<F>(
        &self,
        questions: impl IntoIterator<Item = (DomainName, RecordType)>,
        mut each: F,
    ) where
        F: FnMut(
            DomainName,
            RecordType,
            Result<Answer, DnsError>,
        ) -> Option<(DomainName, RecordType)>,
    {
        let inner = &*self.inner;
        let mut questions = questions.into_iter().peekable();
        let mut follow_ups: VecDeque<(DomainName, RecordType)> = VecDeque::new();
        let mut batch = match Batch::open(self) {
            Ok(batch) => batch,
            Err(e) => {
                // Follow-ups of failed questions are failed alike.
                let error = DnsError::from(e);
                for (name, rtype) in questions {
                    let mut next = each(name, rtype, Err(error.clone()));
                    while let Some((name, rtype)) = next {
                        next = each(name, rtype, Err(error.clone()));
                    }
                }
                return;
            }
        };
        let mut buf = vec![0u8; 65_535];
        // Not a task: the future a runtime's own thread drives (`block_on`),
        // which blocks no worker by waiting. Workers run everything else.
        let in_place = tokio::task::try_id().is_none()
            && Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
        let wake = tokio::time::sleep(inner.config.timeout);
        tokio::pin!(wake);
        loop {
            // Start questions while there is room, follow-ups first.
            let mut want_permit = false;
            while batch.active < inner.config.max_in_flight.max(1)
                && (!follow_ups.is_empty() || questions.peek().is_some())
            {
                let Ok(permit) = inner.in_flight.try_acquire() else {
                    want_permit = true;
                    break;
                };
                let Some((name, rtype)) = follow_ups.pop_front().or_else(|| questions.next())
                else {
                    break;
                };
                match encode_question(&name, rtype) {
                    Ok(question) => {
                        // Given back when the question is done (Batch::finish).
                        permit.forget();
                        batch.start(name, rtype, question).await;
                    }
                    Err(e) => follow_ups.extend(each(name, rtype, Err(e))),
                }
            }
            // Take in what has come.
            let (read, drained) = batch.read(&mut buf).await;
            // A reply still queued in a socket came in time, however late
            // this loop reads it: deadlines count once the queues are empty.
            if drained {
                batch.expire().await;
            }
            for (name, rtype, result) in batch.finished.drain(..) {
                follow_ups.extend(each(name, rtype, result));
            }
            if batch.active == 0 && follow_ups.is_empty() && questions.peek().is_none() {
                return;
            }
            // New follow-ups go out at once when there is room for them.
            let room = batch.active < inner.config.max_in_flight.max(1) && !want_permit;
            if read > 0 || (room && !follow_ups.is_empty()) {
                continue;
            }
            // Nothing new: wait for a reply, a deadline or a permit.
            let deadline = batch.deadlines.front().map(|&(at, ..)| at);
            if in_place && !want_permit && batch.over_tcp.is_empty() {
                batch.wait_in_place(deadline);
                tokio::task::yield_now().await;
                continue;
            }
            if let Some(at) = deadline {
                wake.as_mut().reset(at);
            }
            let watched = batch.watch();
            let outcome = tokio::select! {
                () = any_readable(&watched) => None,
                Some(done) = batch.over_tcp.next(), if !batch.over_tcp.is_empty() => Some(done),
                _ = inner.in_flight.acquire(), if want_permit => None,
                () = &mut wake, if !batch.deadlines.is_empty() => None,
            };
            batch.unwatch(watched);
            if let Some((slot, attempt, result)) = outcome {
                batch.tcp_answered(slot, attempt, result).await;
            }
        }
    }
}

/// Waits until one of `sockets` has something to read (forever if none).
async fn any_readable(sockets: &[Option<tokio::net::UdpSocket>]) {
    let mut waits: FuturesUnordered<_> = sockets
        .iter()
        .flatten()
        .map(tokio::net::UdpSocket::readable)
        .collect();
    if waits.is_empty() {
        std::future::pending::<()>().await;
    }
    let _ = waits.next().await;
}

/// A connected, non-blocking UDP socket to `upstream` with a large receive
/// queue (a burst of replies must not overflow it).
fn socket_to(upstream: SocketAddr) -> std::io::Result<UdpSocket> {
    let local: SocketAddr = match upstream.ip() {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local)?;
    // Best effort: the kernel may cap it.
    let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(4 << 20);
    socket.connect(upstream)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// One question of a run.
struct Question {
    name: DomainName,
    rtype: RecordType,
    question: Arc<[u8]>,
    start: usize,
    attempts: Attempts,
    stage: Stage,
}

/// What the current attempt of a question waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Nothing to wait for yet or any more.
    Idle,
    /// The UDP reply on this socket to this message id.
    Udp(usize, u16),
    /// The TCP exchange after a truncated reply.
    Tcp,
}

type TcpRetry = Pin<Box<dyn Future<Output = (usize, u32, Result<Message, DnsError>)> + Send>>;

/// The questions of one run.
struct Batch<'a> {
    engine: &'a Engine,
    /// One socket per resolver, in the order of the resolvers (`None`: lost,
    /// as the event loop could not take it).
    sockets: Vec<Option<UdpSocket>>,
    /// The question (slot and attempt) each socket and message id waits for.
    pending: HashMap<(usize, u16), (usize, u32)>,
    slots: Vec<Option<Question>>,
    free: Vec<usize>,
    /// When each attempt gives up, in the order they were sent (one time-out
    /// for all, so the order is also the order of the deadlines).
    deadlines: VecDeque<(Instant, usize, u32)>,
    over_tcp: FuturesUnordered<TcpRetry>,
    wire: Vec<u8>,
    /// Questions started and not finished.
    active: usize,
    /// Questions finished, for the caller.
    finished: Vec<(DomainName, RecordType, Result<Answer, DnsError>)>,
}

impl<'a> Batch<'a> {
    fn open(engine: &'a Engine) -> std::io::Result<Self> {
        let sockets = engine
            .inner
            .config
            .resolvers
            .iter()
            .map(|&upstream| socket_to(upstream).map(Some))
            .collect::<std::io::Result<_>>()?;
        Ok(Self {
            engine,
            sockets,
            pending: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            deadlines: VecDeque::new(),
            over_tcp: FuturesUnordered::new(),
            wire: Vec::new(),
            active: 0,
            finished: Vec::new(),
        })
    }

    async fn start(&mut self, name: DomainName, rtype: RecordType, question: Arc<[u8]>) {
        let inner = &*self.engine.inner;
        let question = Question {
            name,
            rtype,
            question,
            start: inner.next.fetch_add(1, Ordering::Relaxed),
            attempts: Attempts::new(inner),
            stage: Stage::Idle,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(question);
                slot
            }
            None => {
                self.slots.push(Some(question));
                self.slots.len() - 1
            }
        };
        self.active += 1;
        self.next_attempt(slot).await;
    }

    /// The question in `slot` if its attempt `attempt` waits in a stage
    /// that `stage` accepts; the stage is then over.
    fn waiting(
        &mut self,
        slot: usize,
        attempt: u32,
        stage: impl Fn(Stage) -> bool,
    ) -> Option<(&mut Question, Stage)> {
        let question = self
            .slots
            .get_mut(slot)?
            .as_mut()
            .filter(|q| q.attempts.made == attempt && stage(q.stage))?;
        let was = std::mem::replace(&mut question.stage, Stage::Idle);
        Some((question, was))
    }

    /// Sends the next attempt of the question in `slot` (successive attempts
    /// move to the next resolver), or finishes it when none is left.
    async fn next_attempt(&mut self, slot: usize) {
        let inner = &*self.engine.inner;
        loop {
            let Some(question) = self.slots[slot].as_mut() else {
                return;
            };
            if !question.attempts.start(inner) {
                self.finish(slot, None);
                return;
            }
            let made = question.attempts.made;
            let socket = (question.start + made as usize - 1) % self.sockets.len();
            if let Some(limiter) = &inner.limiter {
                limiter.until_ready().await;
            }
            let id = loop {
                let id = rand::random::<u16>();
                if !self.pending.contains_key(&(socket, id)) {
                    break id;
                }
            };
            build_query(&mut self.wire, id, &question.question);
            inner.count_query();
            match send(self.sockets[socket].as_ref(), &self.wire).await {
                Ok(()) => {
                    question.stage = Stage::Udp(socket, id);
                    self.pending.insert((socket, id), (slot, made));
                    self.deadlines
                        .push_back((Instant::now() + inner.config.timeout, slot, made));
                    return;
                }
                Err(e) => question.attempts.failed(e.into()),
            }
        }
    }

    /// The question in `slot` is done: with `answer`, or else with what
    /// its attempts came to.
    fn finish(&mut self, slot: usize, answer: Option<Answer>) {
        let Some(question) = self.slots[slot].take() else {
            return;
        };
        self.free.push(slot);
        self.active -= 1;
        self.engine.inner.in_flight.add_permits(1);
        let result = match answer {
            Some(answer) => Ok(answer),
            None => question.attempts.finish(),
        };
        self.finished.push((question.name, question.rtype, result));
    }

    /// A datagram from `socket`: the reply to the attempt that waits for its
    /// id, if it repeats that attempt's question.
    async fn received(&mut self, socket: usize, reply: &[u8]) {
        let inner = &*self.engine.inner;
        if reply.len() < 12 || reply[2] & 0x80 == 0 {
            return; // not a response
        }
        let id = u16::from_be_bytes([reply[0], reply[1]]);
        let Some(&(slot, attempt)) = self.pending.get(&(socket, id)) else {
            return; // late or stray
        };
        let asked = self.slots[slot]
            .as_ref()
            .is_some_and(|q| repeats_question(reply, &q.question));
        if !asked {
            return; // not the reply to this question
        }
        self.pending.remove(&(socket, id));
        let Some((question, _)) = self.waiting(slot, attempt, |s| s == Stage::Udp(socket, id))
        else {
            return;
        };
        match question.attempts.replied(inner, decode(reply)) {
            Verdict::Done(answer) => self.finish(slot, Some(answer)),
            Verdict::Again => self.next_attempt(slot).await,
            Verdict::Truncated => {
                // The TCP exchange has a time-out of its own.
                question.stage = Stage::Tcp;
                let upstream = inner.config.resolvers[socket];
                let limit = inner.config.timeout;
                let mut wire = Vec::new();
                build_query(&mut wire, id, &question.question);
                self.over_tcp.push(Box::pin(async move {
                    (slot, attempt, tcp::query(upstream, &wire, limit).await)
                }));
            }
        }
    }

    async fn tcp_answered(&mut self, slot: usize, attempt: u32, result: Result<Message, DnsError>) {
        let inner = &*self.engine.inner;
        let Some((question, _)) = self.waiting(slot, attempt, |s| s == Stage::Tcp) else {
            return;
        };
        let verdict = match result {
            Ok(message) => question.attempts.answered(inner, message),
            Err(e) => {
                question.attempts.failed(e);
                Verdict::Again
            }
        };
        match verdict {
            Verdict::Done(answer) => self.finish(slot, Some(answer)),
            _ => self.next_attempt(slot).await,
        }
    }

    /// Gives up the attempts whose deadline has passed.
    async fn expire(&mut self) {
        let inner = &*self.engine.inner;
        let now = Instant::now();
        while let Some(&(at, slot, attempt)) = self.deadlines.front() {
            if at > now {
                break;
            }
            self.deadlines.pop_front();
            let Some((question, stage)) =
                self.waiting(slot, attempt, |s| matches!(s, Stage::Udp(..)))
            else {
                continue;
            };
            question.attempts.timed_out(inner);
            if let Stage::Udp(socket, id) = stage {
                self.pending.remove(&(socket, id));
            }
            self.next_attempt(slot).await;
        }
    }

    /// Waits on this thread until a socket has something to read or
    /// `until` passes, at most [`IN_PLACE_WAIT`].
    fn wait_in_place(&self, until: Option<Instant>) {
        let limit = until.map_or(IN_PLACE_WAIT, |at| {
            at.saturating_duration_since(Instant::now())
                .min(IN_PLACE_WAIT)
        });
        let mut watched: Vec<PollFd<'_>> = self
            .sockets
            .iter()
            .flatten()
            .map(|socket| PollFd::new(socket.as_fd(), PollFlags::POLLIN))
            .collect();
        if watched.is_empty() {
            std::thread::sleep(limit);
            return;
        }
        // Rounded up: a wait rounded down to 0 ms would spin until the deadline.
        let ms = u16::try_from(limit.as_millis() + 1).unwrap_or(u16::MAX);
        // An error (EINTR) is a wake-up like any other: the loop reads and
        // waits again.
        let _ = poll(&mut watched, PollTimeout::from(ms));
    }

    /// Hands the sockets to the event loop for a wait.
    fn watch(&mut self) -> Vec<Option<tokio::net::UdpSocket>> {
        self.sockets
            .drain(..)
            .map(|socket| socket.and_then(|s| tokio::net::UdpSocket::from_std(s).ok()))
            .collect()
    }

    /// Takes the sockets back from the event loop after a wait; one it
    /// cannot give back is replaced by a new one (its replies are lost, its
    /// questions time out and go to the next attempt).
    fn unwatch(&mut self, watched: Vec<Option<tokio::net::UdpSocket>>) {
        let resolvers = &self.engine.inner.config.resolvers;
        self.sockets = watched
            .into_iter()
            .zip(resolvers)
            .map(|(socket, &upstream)| {
                socket
                    .and_then(|s| s.into_std().ok())
                    .or_else(|| socket_to(upstream).ok())
            })
            .collect();
    }

    /// Reads what has arrived, a burst from each socket. The number of
    /// datagrams read, and whether every socket was read empty.
    async fn read(&mut self, buf: &mut [u8]) -> (usize, bool) {
        let mut read = 0;
        let mut drained = true;
        for socket in 0..self.sockets.len() {
            let mut empty = false;
            for _ in 0..READ_BURST {
                let Some(udp) = &self.sockets[socket] else {
                    empty = true;
                    break;
                };
                let len = match udp.recv(buf) {
                    Ok(len) => len,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        empty = true;
                        break;
                    }
                    // ICMP errors (port unreachable) surface here; the
                    // question times out and goes to the next resolver.
                    Err(_) => continue,
                };
                read += 1;
                self.received(socket, &buf[..len]).await;
            }
            drained &= empty;
        }
        (read, drained)
    }
}

impl Drop for Batch<'_> {
    /// A run stopped half-way gives back the permits of its unfinished
    /// questions.
    fn drop(&mut self) {
        let unfinished = self.slots.iter().flatten().count();
        self.engine.inner.in_flight.add_permits(unfinished);
    }
}

/// Sends one datagram; a full send queue is waited out.
async fn send(socket: Option<&UdpSocket>, wire: &[u8]) -> std::io::Result<()> {
    let socket = socket.ok_or_else(|| std::io::Error::other("socket lost"))?;
    loop {
        match socket.send(wire) {
            Ok(_) => return Ok(()),
            // Rare for UDP: the kernel's send queue is full for a moment.
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err(e) => return Err(e),
        }
    }
}
