#!/usr/bin/env python3
"""DNS fault injector for the Kagami lab (Python 3 standard library only).

Listens on UDP and TCP port 53 of three addresses, each producing one fault
that a real name server does not emit on request:

  malformed  (default 127.10.0.55): a reply with the query's ID and the QR bit,
             ANCOUNT=1, but the answer record is cut off in the middle
             (7 of its 14 bytes are present).
  timeout    (default 127.10.0.56): reads queries and never answers.
  servfail   (default 127.10.0.57): a well-formed SERVFAIL echoing the ID,
             opcode, RD bit and question.

Over TCP the same replies are framed with the usual two-byte length prefix
(RFC 1035 section 4.2.2); the length matches the bytes actually sent.
"""

import argparse
import logging
import logging.handlers
import os
import signal
import socket
import struct
import sys
import threading
import time

MAX_TCP_CONNECTIONS = 256
TCP_IDLE_SECONDS = 30
BLACKHOLE_HOLD_SECONDS = 120

log = logging.getLogger("dns-faults")


def parse_question(msg):
    """Returns (qname_text, question_bytes) or (None, b"") when unparsable."""
    if len(msg) < 12:
        return None, b""
    qdcount = struct.unpack("!H", msg[4:6])[0]
    if qdcount < 1:
        return None, b""
    pos = 12
    labels = []
    while True:
        if pos >= len(msg):
            return None, b""
        length = msg[pos]
        if length == 0:
            pos += 1
            break
        if length & 0xC0:  # compression is not valid in a query's first name
            return None, b""
        label = msg[pos + 1 : pos + 1 + length]
        if len(label) != length:
            return None, b""
        labels.append(label.decode("ascii", "replace"))
        pos += 1 + length
    if pos + 4 > len(msg):
        return None, b""
    qtype = struct.unpack("!H", msg[pos : pos + 2])[0]
    name = ".".join(labels) + "."
    return "%s type%d" % (name, qtype), msg[12 : pos + 4]


def reply_flags(query, rcode=0, aa=True):
    flags_in = struct.unpack("!H", query[2:4])[0] if len(query) >= 4 else 0
    opcode = flags_in & 0x7800
    rd = flags_in & 0x0100
    return 0x8000 | opcode | (0x0400 if aa else 0) | rd | rcode


def malformed_reply(query):
    if len(query) < 2:
        return None
    _, question = parse_question(query)
    header = query[0:2] + struct.pack(
        "!HHHHH", reply_flags(query), 1 if question else 0, 1, 0, 0
    )
    # A complete record would be: name pointer to the question (2 bytes),
    # TYPE A, CLASS IN, TTL 60, RDLENGTH 4, RDATA 127.10.0.55 (14 bytes).
    record = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([127, 10, 0, 55])
    return header + question + record[:7]


def servfail_reply(query):
    if len(query) < 2:
        return None
    _, question = parse_question(query)
    header = query[0:2] + struct.pack(
        "!HHHHH", reply_flags(query, rcode=2, aa=False), 1 if question else 0, 0, 0, 0
    )
    return header + question


MODES = {
    "malformed": malformed_reply,
    "timeout": None,
    "servfail": servfail_reply,
}


def serve_udp(sock, mode, stop):
    build = MODES[mode]
    while not stop.is_set():
        try:
            data, peer = sock.recvfrom(65535)
        except socket.timeout:
            continue
        except OSError:
            if stop.is_set():
                return
            continue
        qname, _ = parse_question(data)
        log.info("udp %s %s from %s:%d %s", sock.getsockname()[0], mode, peer[0], peer[1], qname)
        if build is None:
            continue
        reply = build(data)
        if reply is not None:
            try:
                sock.sendto(reply, peer)
            except OSError as exc:
                log.warning("udp send failed: %s", exc)


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def handle_tcp(conn, peer, local, mode, slots):
    build = MODES[mode]
    try:
        if build is None:
            # Read and discard until the client gives up, holding the
            # connection open for at most BLACKHOLE_HOLD_SECONDS.
            deadline = time.monotonic() + BLACKHOLE_HOLD_SECONDS
            conn.settimeout(1.0)
            while time.monotonic() < deadline:
                try:
                    data = conn.recv(4096)
                except socket.timeout:
                    continue
                if not data:
                    break
                log.info("tcp %s %s from %s:%d %d bytes", local, mode, peer[0], peer[1], len(data))
            return
        conn.settimeout(TCP_IDLE_SECONDS)
        while True:
            prefix = recv_exact(conn, 2)
            if prefix is None:
                return
            (length,) = struct.unpack("!H", prefix)
            query = recv_exact(conn, length)
            if query is None:
                return
            qname, _ = parse_question(query)
            log.info("tcp %s %s from %s:%d %s", local, mode, peer[0], peer[1], qname)
            reply = build(query)
            if reply is None:
                return
            conn.sendall(struct.pack("!H", len(reply)) + reply)
    except (socket.timeout, OSError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass
        slots.release()


def serve_tcp(lsock, mode, stop, slots):
    local = lsock.getsockname()[0]
    while not stop.is_set():
        try:
            conn, peer = lsock.accept()
        except socket.timeout:
            continue
        except OSError:
            if stop.is_set():
                return
            continue
        if not slots.acquire(blocking=False):
            log.warning("tcp %s: too many connections, closing one from %s", local, peer[0])
            conn.close()
            continue
        t = threading.Thread(
            target=handle_tcp, args=(conn, peer, local, mode, slots), daemon=True
        )
        t.start()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--malformed", default="127.10.0.55")
    ap.add_argument("--timeout", default="127.10.0.56")
    ap.add_argument("--servfail", default="127.10.0.57")
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--log", required=True, help="log file")
    ap.add_argument("--pidfile", help="written once every socket is bound")
    args = ap.parse_args()

    handler = logging.handlers.RotatingFileHandler(args.log, maxBytes=10 << 20, backupCount=1)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    stop = threading.Event()
    slots = threading.BoundedSemaphore(MAX_TCP_CONNECTIONS)
    threads = []
    for mode, addr in (("malformed", args.malformed), ("timeout", args.timeout), ("servfail", args.servfail)):
        try:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind((addr, args.port))
            u.settimeout(0.5)
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            t.bind((addr, args.port))
            t.listen(64)
            t.settimeout(0.5)
        except OSError as exc:
            log.error("cannot bind %s:%d: %s", addr, args.port, exc)
            print("dns_faults.py: cannot bind %s:%d: %s" % (addr, args.port, exc), file=sys.stderr)
            return 1
        threads.append(threading.Thread(target=serve_udp, args=(u, mode, stop), daemon=True))
        threads.append(threading.Thread(target=serve_tcp, args=(t, mode, stop, slots), daemon=True))
        log.info("listening on %s:%d udp+tcp (%s)", addr, args.port, mode)

    def on_signal(signum, _frame):
        log.info("signal %d, stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    for th in threads:
        th.start()
    if args.pidfile:
        tmp = args.pidfile + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % os.getpid())
        os.replace(tmp, args.pidfile)
    while not stop.is_set():
        stop.wait(1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
