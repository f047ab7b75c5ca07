//! TCP connect scan. Many connections in flight (bounded overall and per
//! host), an optional global rate limit, a time-out per host that adapts to the
//! round-trip times seen, and a second pass for every port that timed out, so
//! that a lost SYN or a busy machine does not lose an open port. Local
//! resource errors (file descriptors, ephemeral ports) put the port back in
//! the queue instead of counting it as closed.

use std::collections::{HashMap, VecDeque};
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use kagami_core::Progress;
use tokio::net::TcpSocket;
use tokio::sync::Semaphore;

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
}

enum Outcome {
    Open(Duration),
    Closed(Duration),
    TimedOut,
    /// No route, host unreachable: nothing will answer on this host.
    Unreachable,
    /// A local shortage (file descriptors, ports): try the same port again.
    Again,
}

#[derive(Default)]
struct HostState {
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
}

async fn connect(addr: SocketAddr, limit: Duration) -> Outcome {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    };
    let Ok(socket) = socket else {
        return Outcome::Again;
    };
    // Close with RST: no TIME_WAIT pile-up over thousands of connections.
    let _ = socket2::SockRef::from(&socket).set_linger(Some(Duration::ZERO));
    let started = Instant::now();
    match tokio::time::timeout(limit, socket.connect(addr)).await {
        Ok(Ok(_stream)) => Outcome::Open(started.elapsed()),
        Ok(Err(e)) => match e.kind() {
            ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset => {
                Outcome::Closed(started.elapsed())
            }
            ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => Outcome::Unreachable,
            ErrorKind::TimedOut => Outcome::TimedOut,
            _ => Outcome::Again,
        },
        Err(_) => Outcome::TimedOut,
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
    let states: Arc<Mutex<HashMap<IpAddr, HostState>>> = Arc::default();
    let per_host: HashMap<IpAddr, Arc<Semaphore>> = hosts
        .iter()
        .map(|&ip| (ip, Arc::new(Semaphore::new(options.per_host.max(1)))))
        .collect();
    let limiter: Option<DefaultDirectRateLimiter> = options
        .rate
        .map(|r| RateLimiter::direct(Quota::per_second(r)));
    let window = options.concurrency.max(1);

    // Ports in the outer loop: consecutive attempts go to different hosts.
    let mut queue: VecDeque<(SocketAddr, u32)> = ports
        .iter()
        .flat_map(|&port| hosts.iter().map(move |&ip| (SocketAddr::new(ip, port), 0)))
        .collect();
    let mut result = PortScan {
        hosts: hosts.len(),
        ..PortScan::default()
    };
    let mut in_flight = FuturesUnordered::new();
    let mut backoff = Duration::ZERO;

    loop {
        while in_flight.len() < window {
            let Some((addr, attempt)) = queue.pop_front() else {
                break;
            };
            let skip = states
                .lock()
                .map(|s| s.get(&addr.ip()).is_some_and(|h| h.unreachable))
                .unwrap_or(false);
            if skip {
                progress.advance(1);
                continue;
            }
            let limit = if attempt == 0 {
                states
                    .lock()
                    .map(|s| {
                        s.get(&addr.ip())
                            .map_or(options.timeout, |h| h.timeout(options.timeout))
                    })
                    .unwrap_or(options.timeout)
            } else {
                options.timeout * 2
            };
            let semaphore = per_host.get(&addr.ip()).cloned();
            let limiter = limiter.as_ref();
            let pause = backoff;
            in_flight.push(async move {
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                let _permit = match &semaphore {
                    Some(s) => s.acquire().await.ok(),
                    None => None,
                };
                if let Some(limiter) = limiter {
                    limiter.until_ready().await;
                }
                (addr, attempt, connect(addr, limit).await)
            });
        }
        let Some((addr, attempt, outcome)) = in_flight.next().await else {
            break;
        };
        result.probes += 1;
        let mut states = states.lock().unwrap_or_else(|e| e.into_inner());
        let host = states.entry(addr.ip()).or_default();
        match outcome {
            Outcome::Open(rtt) => {
                host.observe(rtt);
                result.open.push(addr);
                progress.advance(1);
            }
            Outcome::Closed(rtt) => {
                host.observe(rtt);
                progress.advance(1);
            }
            Outcome::Unreachable => {
                host.unreachable = true;
                progress.advance(1);
            }
            Outcome::TimedOut if attempt < options.retries => {
                result.retries += 1;
                queue.push_back((addr, attempt + 1));
            }
            Outcome::TimedOut => {
                result.timeouts += 1;
                progress.advance(1);
            }
            Outcome::Again => {
                // Out of sockets: slow down a little and try the port again.
                result.probes -= 1;
                backoff = (backoff + Duration::from_millis(5)).min(Duration::from_millis(200));
                queue.push_front((addr, attempt));
                continue;
            }
        }
        backoff = backoff.saturating_sub(Duration::from_millis(1));
    }
    progress.finish();
    result.open.sort();
    result.hosts_answering = states
        .lock()
        .map(|s| s.values().filter(|h| h.answered).count())
        .unwrap_or(0);
    result
}

/// Raises the soft limit of open files to the hard limit; scans need many sockets.
pub fn raise_fd_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1_024)
}
