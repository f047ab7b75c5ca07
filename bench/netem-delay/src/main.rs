//! Fixed-delay packet emulator for the port-scan benchmark.
//!
//! The benchmark machine's kernel has no `sch_netem`, so bench/netem-setup
//! sends every packet crossing the namespace's veth (both directions) to
//! NFQUEUE with iptables, and this program holds each packet for a fixed time
//! before letting it through. The delay is constant, so packets leave in the
//! order they arrived and one batch verdict ("accept every packet up to id N")
//! releases all that are due. Loss is done by iptables before the queue
//! (`-m statistic --mode random`).
//!
//! Usage: netem-delay --queue N --delay-ms MS [--maxlen N] [--pidfile FILE]
//!
//! Talks nfnetlink_queue over a raw netlink socket (only the libc crate).
//! Prints a line of statistics to standard error every 10 s while packets
//! flow: packets released, largest queue depth, latest release after the due
//! time, receive-buffer overruns.

use std::collections::VecDeque;
use std::io;
use std::mem;
use std::time::{Duration, Instant};

const NETLINK_NETFILTER: i32 = 12;
const NFNL_SUBSYS_QUEUE: u16 = 3;
const NFQNL_MSG_PACKET: u16 = 0;
const NFQNL_MSG_CONFIG: u16 = 2;
const NFQNL_MSG_VERDICT_BATCH: u16 = 3;
const NFQA_PACKET_HDR: u16 = 1;
const NFQA_VERDICT_HDR: u16 = 2;
const NFQA_CFG_CMD: u16 = 1;
const NFQA_CFG_PARAMS: u16 = 2;
const NFQA_CFG_QUEUE_MAXLEN: u16 = 3;
const NFQNL_CFG_CMD_BIND: u8 = 1;
const NFQNL_COPY_META: u8 = 1;
const NF_ACCEPT: u32 = 1;
const NLMSG_ERROR: u16 = 2;

struct Args {
    queue: u16,
    delay: Duration,
    maxlen: u32,
    pidfile: Option<String>,
}

fn usage() -> ! {
    eprintln!("usage: netem-delay --queue N --delay-ms MS [--maxlen N] [--pidfile FILE]");
    std::process::exit(64);
}

fn parse_args() -> Args {
    let mut args = Args {
        queue: 0,
        delay: Duration::from_millis(15),
        maxlen: 100_000,
        pidfile: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--queue" => args.queue = value.parse().unwrap_or_else(|_| usage()),
            "--delay-ms" => {
                let ms: f64 = value.parse().unwrap_or_else(|_| usage());
                args.delay = Duration::from_secs_f64(ms / 1000.0);
            }
            "--maxlen" => args.maxlen = value.parse().unwrap_or_else(|_| usage()),
            "--pidfile" => args.pidfile = Some(value),
            _ => usage(),
        }
    }
    args
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// One netlink message: header, nfgenmsg, then attributes.
struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    fn new(kind: u16, flags: u16, queue: u16) -> Self {
        let mut buf = vec![0u8; 16];
        buf[4..6].copy_from_slice(&((NFNL_SUBSYS_QUEUE << 8) | kind).to_ne_bytes());
        buf[6..8].copy_from_slice(&(libc::NLM_F_REQUEST as u16 | flags).to_ne_bytes());
        // nfgenmsg: family AF_UNSPEC, version 0, queue number (big endian)
        buf.extend_from_slice(&[libc::AF_UNSPEC as u8, 0]);
        buf.extend_from_slice(&queue.to_be_bytes());
        Msg { buf }
    }

    fn attr(mut self, kind: u16, payload: &[u8]) -> Self {
        let len = 4 + payload.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

fn check(ret: isize, what: &str) -> io::Result<usize> {
    if ret < 0 {
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("{what}: {e}")))
    } else {
        Ok(ret as usize)
    }
}

fn send(fd: i32, msg: &[u8]) -> io::Result<()> {
    let mut addr: libc::sockaddr_nl = unsafe { mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    let ret = unsafe {
        libc::sendto(
            fd,
            msg.as_ptr().cast(),
            msg.len(),
            0,
            (&addr as *const libc::sockaddr_nl).cast(),
            mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    check(ret, "send").map(|_| ())
}

fn open(queue: u16, maxlen: u32) -> io::Result<i32> {
    let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW, NETLINK_NETFILTER) };
    check(fd as isize, "socket(AF_NETLINK)")?;
    let size: i32 = 64 << 20;
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const i32).cast(),
            4,
        );
    }
    let mut addr: libc::sockaddr_nl = unsafe { mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    let ret = unsafe {
        libc::bind(
            fd,
            (&addr as *const libc::sockaddr_nl).cast(),
            mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    check(ret as isize, "bind")?;
    let mut params = 0u32.to_be_bytes().to_vec(); // copy range: metadata only
    params.push(NFQNL_COPY_META);
    let cmd = [NFQNL_CFG_CMD_BIND, 0, 0, libc::AF_INET as u8];
    let msg = Msg::new(NFQNL_MSG_CONFIG, libc::NLM_F_ACK as u16, queue)
        .attr(NFQA_CFG_CMD, &cmd)
        .attr(NFQA_CFG_PARAMS, &params)
        .attr(NFQA_CFG_QUEUE_MAXLEN, &maxlen.to_be_bytes())
        .finish();
    send(fd, &msg)?;
    let mut buf = vec![0u8; 8192];
    let n = check(
        unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) },
        "recv ack",
    )?;
    if n >= 20 && u16::from_ne_bytes([buf[4], buf[5]]) == NLMSG_ERROR {
        let err = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
        if err != 0 {
            return Err(io::Error::new(
                io::Error::from_raw_os_error(-err).kind(),
                format!(
                    "binding queue {queue}: {}",
                    io::Error::from_raw_os_error(-err)
                ),
            ));
        }
    }
    Ok(fd)
}

fn main() {
    let args = parse_args();
    let fd = match open(args.queue, args.maxlen) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("netem-delay: {e}");
            std::process::exit(1);
        }
    };
    if let Some(path) = &args.pidfile {
        let tmp = format!("{path}.tmp");
        if std::fs::write(&tmp, format!("{}\n", std::process::id())).is_err()
            || std::fs::rename(&tmp, path).is_err()
        {
            eprintln!("netem-delay: cannot write {path}");
            std::process::exit(1);
        }
    }
    eprintln!(
        "netem-delay: queue {} delay {:?} maxlen {}",
        args.queue, args.delay, args.maxlen
    );

    let mut pending: VecDeque<(Instant, u32)> = VecDeque::with_capacity(1 << 16);
    let mut buf = vec![0u8; 256 * 1024];
    let (mut released, mut overruns, mut max_depth) = (0u64, 0u64, 0usize);
    let mut max_late = Duration::ZERO;
    let mut last_report = Instant::now();
    let mut reported_released = 0u64;
    loop {
        // Everything that has arrived.
        loop {
            let n =
                unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) => break,
                    Some(libc::ENOBUFS) => {
                        overruns += 1;
                        continue;
                    }
                    Some(libc::EINTR) => continue,
                    _ => {
                        eprintln!("netem-delay: recv: {e}");
                        std::process::exit(1);
                    }
                }
            }
            let now = Instant::now();
            let n = n as usize;
            let mut off = 0;
            while off + 20 <= n {
                let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap()) as usize;
                let kind = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
                if len < 16 || off + len > n {
                    break;
                }
                if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET {
                    let mut a = off + 20;
                    while a + 4 <= off + len {
                        let alen = u16::from_ne_bytes([buf[a], buf[a + 1]]) as usize;
                        let atype = u16::from_ne_bytes([buf[a + 2], buf[a + 3]]) & 0x7fff;
                        if alen < 4 {
                            break;
                        }
                        if atype == NFQA_PACKET_HDR && a + 8 <= off + len {
                            let id = u32::from_be_bytes(buf[a + 4..a + 8].try_into().unwrap());
                            pending.push_back((now, id));
                            break;
                        }
                        a += align4(alen);
                    }
                }
                off += align4(len);
            }
        }
        max_depth = max_depth.max(pending.len());

        // Release what is due, in one batch verdict.
        let now = Instant::now();
        let mut last = None;
        while let Some(&(arrived, id)) = pending.front() {
            let due = arrived + args.delay;
            if due > now {
                break;
            }
            max_late = max_late.max(now - due);
            last = Some(id);
            released += 1;
            pending.pop_front();
        }
        if let Some(id) = last {
            let mut verdict = NF_ACCEPT.to_be_bytes().to_vec();
            verdict.extend_from_slice(&id.to_be_bytes());
            let msg = Msg::new(NFQNL_MSG_VERDICT_BATCH, 0, args.queue)
                .attr(NFQA_VERDICT_HDR, &verdict)
                .finish();
            if let Err(e) = send(fd, &msg) {
                eprintln!("netem-delay: verdict: {e}");
            }
        }

        if last_report.elapsed() >= Duration::from_secs(10) {
            if released != reported_released {
                eprintln!(
                    "netem-delay: released {released} packets; largest queue {max_depth}; \
                     latest release {:.2} ms after due; {overruns} receive overruns",
                    max_late.as_secs_f64() * 1000.0
                );
                reported_released = released;
            }
            last_report = Instant::now();
        }

        // Sleep until the next packet is due or one arrives.
        let wait = pending
            .front()
            .map(|&(arrived, _)| (arrived + args.delay).saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(1));
        let ts = libc::timespec {
            tv_sec: wait.as_secs() as libc::time_t,
            tv_nsec: wait.subsec_nanos() as libc::c_long,
        };
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        unsafe {
            libc::ppoll(&mut pfd, 1, &ts, std::ptr::null());
        }
    }
}
