//! TCP connect scan. Many connection attempts in flight (bounded overall and
//! per host), an optional global rate limit, a time-out per host that adapts
//! to the round-trip times seen, and a second pass for every port that timed
//! out, so that a lost SYN or a busy machine does not lose an open port. Local
//! resource errors (file descriptors, ephemeral ports) put the port back in
//! the queue instead of counting it as closed.
//!
//! The attempts run on a few threads of their own (the hosts are split
//! between them), each with its own readiness loop, so that the kernel work
//! of the connection attempts uses every core. An attempt whose answer is
//! already there when `connect` returns (a near host answers at once) is
//! settled without waiting for readiness; only the others are watched. A
//! second `connect` on the same socket reads that answer, and after a
//! refusal it leaves the socket ready for the next attempt (Linux resets a
//! refused socket to unconnected), so a closed port costs two system calls.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use kagami_core::Progress;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use socket2::{Domain, SockAddr, Socket, Type};

#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Connection attempts in flight over all hosts.
    pub concurrency: usize,
    /// Connection attempts in flight to one host (politeness).
    pub per_host: usize,
    /// Connection attempts per second over all hosts; `None` = no limit.
    pub rate: Option<NonZeroU32>,
    /// Longest wait for one connection attempt.
    pub timeout: Duration,
    /// Extra passes over the ports that timed out.
    pub retries: u32,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            concurrency: 1_000,
            per_host: 250,
            rate: None,
            timeout: Duration::from_millis(1_500),
            retries: 1,
        }
    }
}

/// What a port scan found and what it cost.
#[derive(Debug, Clone, Default)]
pub struct PortScan {
    pub open: Vec<SocketAddr>,
    pub probes: u64,
    pub retries: u64,
    /// Ports that never answered, even after the retries (filtered).
    pub timeouts: u64,
    /// Hosts that answered at least once (open or closed port).
    pub hosts_answering: usize,
    pub hosts: usize,
    /// Round-trip time of each host that answered (smoothed).
    pub round_trips: Vec<(IpAddr, Duration)>,
}

impl PortScan {
    fn merge(&mut self, part: Self) {
        self.open.extend(part.open);
        self.probes += part.probes;
        self.retries += part.retries;
        self.timeouts += part.timeouts;
        self.hosts_answering += part.hosts_answering;
        self.round_trips.extend(part.round_trips);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Open(Duration),
    Closed(Duration),
    TimedOut,
    /// No route, host unreachable: nothing will answer on this host.
    Unreachable,
    /// A local shortage (file descriptors, ports): try the same port again.
    Again,
}

fn classify(error: &std::io::Error, elapsed: Duration) -> Outcome {
    match error.kind() {
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset => Outcome::Closed(elapsed),
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => Outcome::Unreachable,
        ErrorKind::TimedOut => Outcome::TimedOut,
        _ => Outcome::Again,
    }
}

/// The outcome of an attempt whose answer has arrived; `None` while the
/// connection is still being set up.
fn settled(stream: &TcpStream, started: Instant) -> Option<Outcome> {
    match stream.take_error() {
        Ok(Some(error)) | Err(error) => Some(classify(&error, started.elapsed())),
        Ok(None) => match stream.peer_addr() {
            Ok(_) => Some(Outcome::Open(started.elapsed())),
            Err(error) if error.kind() == ErrorKind::NotConnected => None,
            Err(error) => Some(classify(&error, started.elapsed())),
        },
    }
}

/// Closes an established connection with RST, so that thousands of
/// scanned connections leave no TIME_WAIT behind.
fn close(socket: socket2::SockRef<'_>) {
    let _ = socket.set_linger(Some(Duration::ZERO));
}

/// A first `connect` from an unconnected socket, then a second one that
/// reads the answer if it is already there.
enum Connect {
    /// Answered; the socket comes back when it can be used again.
    Settled(Outcome, Option<Socket>),
    /// Still waiting for the answer.
    Waiting(Socket),
}

fn connect(socket: Socket, addr: SocketAddr, started: Instant) -> Connect {
    let target = SockAddr::from(addr);
    match socket.connect(&target) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        // Refused before anything was sent (no route, no local port): the
        // socket is still unconnected.
        Err(e) => return Connect::Settled(classify(&e, started.elapsed()), Some(socket)),
    }
    match socket.connect(&target) {
        Ok(()) => {
            close(socket2::SockRef::from(&socket));
            Connect::Settled(Outcome::Open(started.elapsed()), None)
        }
        Err(e) if e.raw_os_error() == Some(libc::EALREADY) => Connect::Waiting(socket),
        Err(e) if e.raw_os_error() == Some(libc::EISCONN) => {
            close(socket2::SockRef::from(&socket));
            Connect::Settled(Outcome::Open(started.elapsed()), None)
        }
        // The answer (a refusal, an ICMP error), and the socket is reset.
        Err(e) => Connect::Settled(classify(&e, started.elapsed()), Some(socket)),
    }
}

/// Scans `ports` on every host; `progress` advances once per port and host.
pub async fn scan_tcp(
    hosts: &[IpAddr],
    ports: &[u16],
    options: &ScanOptions,
    progress: &dyn Progress,
) -> PortScan {
    raise_fd_limit();
    let total = (hosts.len() * ports.len()) as u64;
    progress.start("port scan", Some(total));
    let mut result = PortScan {
        hosts: hosts.len(),
        ..PortScan::default()
    };
    if total == 0 {
        progress.finish();
        return result;
    }
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .clamp(1, MAX_WORKERS)
        .min(hosts.len());
    let shared = Arc::new(Shared {
        done: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        limiter: options
            .rate
            .map(|r| RateLimiter::direct(Quota::per_second(r))),
    });
    // Stops the workers should this future be dropped mid-scan.
    let _stop = StopOnDrop(Arc::clone(&shared));
    let ports: Arc<[u16]> = ports.into();
    let (parts_tx, mut parts) = tokio::sync::mpsc::unbounded_channel();
    for index in 0..workers {
        let worker = Worker {
            hosts: hosts.iter().skip(index).step_by(workers).copied().collect(),
            ports: Arc::clone(&ports),
            window: (options.concurrency / workers).max(1),
            options: options.clone(),
            shared: Arc::clone(&shared),
        };
        let parts_tx = parts_tx.clone();
        let spawned = std::thread::Builder::new()
            .name("kagami-portscan".into())
            .spawn(move || {
                let _ = parts_tx.send(worker.run());
            });
        if let Err(e) = spawned {
            tracing::warn!(
                "port scan thread not started ({e}); that share of hosts is not scanned"
            );
        }
    }
    drop(parts_tx);
    let mut reported = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            part = parts.recv() => match part {
                Some(part) => result.merge(part),
                None => break,
            },
            _ = tick.tick() => {
                let done = shared.done.load(Ordering::Relaxed);
                progress.advance(done - reported);
                reported = done;
            }
        }
    }
    progress.advance(shared.done.load(Ordering::Relaxed) - reported);
    progress.finish();
    result.open.sort();
    result.round_trips.sort();
    result
}

/// Threads of one scan at most (each one loops over its share of hosts).
const MAX_WORKERS: usize = 4;

/// Attempts started in one go before the loop looks at readiness again.
const DISPATCH_BATCH: usize = 256;

struct Shared {
    /// Ports settled so far, for the progress display.
    done: AtomicU64,
    stop: AtomicBool,
    limiter: Option<DefaultDirectRateLimiter>,
}

struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct HostState {
    /// Index of the next port never tried on this host.
    next_port: usize,
    /// Ports to try again, with the number of the attempt.
    again: VecDeque<(u16, u32)>,
    in_flight: usize,
    /// In the round-robin of hosts with work to start.
    queued: bool,
    /// Smoothed round-trip time of answers from this host.
    srtt: Option<Duration>,
    answered: bool,
    unreachable: bool,
}

impl HostState {
    fn observe(&mut self, rtt: Duration) {
        self.answered = true;
        self.srtt = Some(match self.srtt {
            None => rtt,
            Some(s) => (s * 7 + rtt) / 8,
        });
    }

    /// Wait long enough for a slow answer (ten round trips) but not the full
    /// time-out once the host has shown how fast it answers.
    fn timeout(&self, ceiling: Duration) -> Duration {
        match self.srtt {
            Some(srtt) => (srtt * 10 + Duration::from_millis(100)).min(ceiling),
            None => ceiling,
        }
    }

    fn has_work(&self, ports: usize) -> bool {
        self.next_port < ports || !self.again.is_empty()
    }

    /// Ports not settled yet that are not in flight.
    fn waiting(&self, ports: usize) -> u64 {
        (ports - self.next_port + self.again.len()) as u64
    }
}

/// A connection attempt waiting for its answer.
struct Attempt {
    stream: TcpStream,
    host: usize,
    port: u16,
    attempt: u32,
    started: Instant,
}

/// One thread's share of a scan.
struct Worker {
    hosts: Vec<IpAddr>,
    ports: Arc<[u16]>,
    window: usize,
    options: ScanOptions,
    shared: Arc<Shared>,
}

struct Loop<'a> {
    worker: &'a Worker,
    states: Vec<HostState>,
    /// Hosts with work to start and room for another attempt, in turn.
    ready: VecDeque<usize>,
    slots: Vec<Option<Attempt>>,
    generations: Vec<u32>,
    free: Vec<usize>,
    deadlines: BinaryHeap<Reverse<(Instant, usize, u32)>>,
    in_flight: usize,
    /// No new attempt before this moment (rate limit, local shortage).
    paused_until: Option<Instant>,
    backoff: Duration,
    /// Sockets left unconnected by a refusal, for the next attempt.
    spare_v4: Option<Socket>,
    spare_v6: Option<Socket>,
    settled: u64,
    result: PortScan,
}

impl Worker {
    fn run(&self) -> PortScan {
        let mut run = Loop {
            worker: self,
            states: (0..self.hosts.len())
                .map(|_| HostState {
                    queued: true,
                    ..HostState::default()
                })
                .collect(),
            ready: (0..self.hosts.len()).collect(),
            slots: Vec::new(),
            generations: Vec::new(),
            free: Vec::new(),
            deadlines: BinaryHeap::new(),
            in_flight: 0,
            paused_until: None,
            backoff: Duration::ZERO,
            spare_v4: None,
            spare_v6: None,
            settled: 0,
            result: PortScan::default(),
        };
        match Poll::new() {
            Ok(poll) => run.run(poll),
            Err(e) => {
                // Without a readiness queue nothing can be scanned: every
                // port counts as never answered, so coverage says so.
                tracing::warn!("port scan: no readiness queue: {e}");
                run.result.timeouts = (self.hosts.len() * self.ports.len()) as u64;
                run.settled = run.result.timeouts;
            }
        }
        self.shared.done.fetch_add(run.settled, Ordering::Relaxed);
        run.result.hosts_answering = run.states.iter().filter(|h| h.answered).count();
        run.result.round_trips = run
            .states
            .iter()
            .zip(&self.hosts)
            .filter_map(|(state, &ip)| Some((ip, state.srtt?)))
            .collect();
        run.result
    }
}

impl Loop<'_> {
    fn run(&mut self, mut poll: Poll) {
        let mut events = Events::with_capacity(1_024);
        loop {
            if self.worker.shared.stop.load(Ordering::Relaxed) {
                return;
            }
            self.dispatch(&poll);
            self.worker
                .shared
                .done
                .fetch_add(std::mem::take(&mut self.settled), Ordering::Relaxed);
            let now = Instant::now();
            let can_start = !self.ready.is_empty() && self.in_flight < self.worker.window;
            if self.in_flight == 0 && !can_start {
                return;
            }
            let mut wait = self
                .deadlines
                .peek()
                .map(|Reverse((at, ..))| at.saturating_duration_since(now));
            if can_start {
                let until = self
                    .paused_until
                    .map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
                wait = Some(wait.map_or(until, |w| w.min(until)));
            }
            match poll.poll(&mut events, wait) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!("port scan: readiness wait failed: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            for event in &events {
                let slot = event.token().0;
                let Some(attempt) = self.slots.get(slot).and_then(Option::as_ref) else {
                    continue;
                };
                if let Some(outcome) = settled(&attempt.stream, attempt.started) {
                    self.finish_slot(&poll, slot, outcome);
                }
            }
            let now = Instant::now();
            while let Some(&Reverse((at, slot, generation))) = self.deadlines.peek() {
                if at > now {
                    break;
                }
                self.deadlines.pop();
                if self.generations[slot] == generation && self.slots[slot].is_some() {
                    self.finish_slot(&poll, slot, Outcome::TimedOut);
                }
            }
        }
    }

    /// Starts attempts while there is room, work and no pause.
    fn dispatch(&mut self, poll: &Poll) {
        let ports = self.worker.ports.len();
        for _ in 0..DISPATCH_BATCH {
            if self.in_flight >= self.worker.window {
                return;
            }
            if let Some(until) = self.paused_until {
                if Instant::now() < until {
                    return;
                }
                self.paused_until = None;
            }
            let Some(host) = self.ready.pop_front() else {
                return;
            };
            let state = &mut self.states[host];
            state.queued = false;
            if state.unreachable {
                // Nothing will answer: the remaining ports are settled unasked.
                self.settled += state.waiting(ports);
                state.next_port = ports;
                state.again.clear();
                continue;
            }
            if !state.has_work(ports) {
                continue;
            }
            if let Some(limiter) = &self.worker.shared.limiter
                && let Err(not_until) = limiter.check()
            {
                let wait = not_until.wait_time_from(limiter.clock().now());
                self.paused_until = Some(Instant::now() + wait);
                self.requeue_front(host);
                return;
            }
            let (port, attempt) = if state.next_port < ports {
                state.next_port += 1;
                (self.worker.ports[state.next_port - 1], 0)
            } else if let Some(next) = state.again.pop_front() {
                next
            } else {
                continue;
            };
            let limit = if attempt == 0 {
                state.timeout(self.worker.options.timeout)
            } else {
                self.worker.options.timeout * 2
            };
            self.start(poll, host, port, attempt, limit);
            self.requeue(host);
        }
    }

    fn start(&mut self, poll: &Poll, host: usize, port: u16, attempt: u32, limit: Duration) {
        let addr = SocketAddr::new(self.worker.hosts[host], port);
        let spare = if addr.is_ipv4() {
            &mut self.spare_v4
        } else {
            &mut self.spare_v6
        };
        let socket = match spare.take() {
            Some(socket) => socket,
            None => {
                match Socket::new(Domain::for_address(addr), Type::STREAM.nonblocking(), None) {
                    Ok(socket) => socket,
                    Err(error) => {
                        self.record(host, port, attempt, classify(&error, Duration::ZERO));
                        return;
                    }
                }
            }
        };
        let started = Instant::now();
        let socket = match connect(socket, addr, started) {
            Connect::Settled(outcome, reusable) => {
                if let Some(socket) = reusable {
                    *spare = Some(socket);
                }
                self.record(host, port, attempt, outcome);
                return;
            }
            Connect::Waiting(socket) => socket,
        };
        let stream = TcpStream::from_std(std::net::TcpStream::from(socket));
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.generations.push(0);
            self.slots.len() - 1
        });
        let mut attempt_state = Attempt {
            stream,
            host,
            port,
            attempt,
            started,
        };
        if let Err(error) =
            poll.registry()
                .register(&mut attempt_state.stream, Token(slot), Interest::WRITABLE)
        {
            self.free.push(slot);
            let outcome = classify(&error, started.elapsed());
            self.record(host, port, attempt, outcome);
            return;
        }
        self.deadlines
            .push(Reverse((started + limit, slot, self.generations[slot])));
        self.slots[slot] = Some(attempt_state);
        self.states[host].in_flight += 1;
        self.in_flight += 1;
    }

    fn finish_slot(&mut self, poll: &Poll, slot: usize, outcome: Outcome) {
        let Some(mut attempt) = self.slots[slot].take() else {
            return;
        };
        self.generations[slot] = self.generations[slot].wrapping_add(1);
        self.free.push(slot);
        let _ = poll.registry().deregister(&mut attempt.stream);
        if matches!(outcome, Outcome::Open(_)) {
            close(socket2::SockRef::from(&attempt.stream));
        }
        self.states[attempt.host].in_flight -= 1;
        self.in_flight -= 1;
        self.record(attempt.host, attempt.port, attempt.attempt, outcome);
        self.requeue(attempt.host);
    }

    /// Books the outcome of one attempt.
    fn record(&mut self, host: usize, port: u16, attempt: u32, outcome: Outcome) {
        let state = &mut self.states[host];
        if outcome == Outcome::Again {
            // Out of sockets: slow down a little and try the port again.
            state.again.push_front((port, attempt));
            self.backoff =
                (self.backoff + Duration::from_millis(5)).min(Duration::from_millis(200));
            self.paused_until = Some(Instant::now() + self.backoff);
            self.requeue(host);
            return;
        }
        self.backoff = self.backoff.saturating_sub(Duration::from_millis(1));
        self.result.probes += 1;
        match outcome {
            Outcome::Open(rtt) => {
                state.observe(rtt);
                self.result
                    .open
                    .push(SocketAddr::new(self.worker.hosts[host], port));
            }
            Outcome::Closed(rtt) => state.observe(rtt),
            Outcome::Unreachable => state.unreachable = true,
            Outcome::TimedOut if attempt < self.worker.options.retries => {
                self.result.retries += 1;
                state.again.push_back((port, attempt + 1));
                return;
            }
            Outcome::TimedOut => self.result.timeouts += 1,
            Outcome::Again => {}
        }
        self.settled += 1;
    }

    /// Puts a host back in the round-robin if it has work and room.
    fn requeue(&mut self, host: usize) {
        let ports = self.worker.ports.len();
        let state = &mut self.states[host];
        if !state.queued
            && state.has_work(ports)
            && state.in_flight < self.worker.options.per_host.max(1)
        {
            state.queued = true;
            self.ready.push_back(host);
        }
    }

    fn requeue_front(&mut self, host: usize) {
        self.states[host].queued = true;
        self.ready.push_front(host);
    }
}

/// Raises the soft limit of open files to the hard limit; scans need many sockets.
pub fn raise_fd_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1_024)
}
