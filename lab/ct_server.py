#!/usr/bin/env python3
"""Certificate-transparency search mimic for the Kagami lab.

Answers like crt.sh's search endpoint, `GET /?q=%25.DOMAIN&output=json`, from
files lab/ct/<DOMAIN>.json (a JSON array in crt.sh's own format). An unknown
domain yields `[]` with status 200, as crt.sh does. Python 3 standard library
only; one thread per connection.

Fault routes take the same query string:
  /garbage/?q=...  200, an HTML body that is not JSON
  /huge/?q=...     200, an endless JSON array (server side capped at 1 GiB)
  /slow/?q=...     200, headers, then one body byte every 2 s for at most 120 s
  /error/?q=...    502, an nginx-style "Bad Gateway" HTML page
"""

import argparse
import html
import json
import logging
import logging.handlers
import os
import re
import signal
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HUGE_CAP_BYTES = 1 << 30
SLOW_INTERVAL_SECONDS = 2.0
SLOW_MAX_SECONDS = 120.0
DOMAIN_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")

log = logging.getLogger("ct-server")


def domain_from_query(q):
    """crt.sh takes a LIKE pattern: '%.example.test' or a plain name."""
    q = q.strip().lower().rstrip(".")
    for prefix in ("%.", "%", "*."):
        if q.startswith(prefix):
            q = q[len(prefix):]
            break
    if len(q) > 253 or not DOMAIN_RE.match(q):
        return None
    return q


class Handler(BaseHTTPRequestHandler):
    server_version = "nginx"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle read timeout per connection

    # -- plumbing -------------------------------------------------------
    def setup(self):
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()

    def log_message(self, fmt, *args):
        log.info("%s %s %s", self.server.label, self.client_address[0], fmt % args)

    def send_body(self, status, ctype, body, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def load_entries(self, domain):
        if domain is None:
            return []
        path = os.path.join(self.server.ct_dir, domain + ".json")
        try:
            with open(path, "rb") as f:
                data = json.load(f)
        except FileNotFoundError:
            return []
        if not isinstance(data, list):
            raise ValueError("%s: not a JSON array" % path)
        return data

    # -- routes ---------------------------------------------------------
    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        parts = urlsplit(self.path)
        params = parse_qs(parts.query, keep_blank_values=True)
        q = params.get("q", params.get("Identity", params.get("identity", [None])))[0]
        output = params.get("output", [""])[0].lower()
        route = parts.path.rstrip("/") or "/"
        domain = domain_from_query(q) if q is not None else None
        log.info(
            "%s %s route=%s q=%r domain=%s",
            self.server.label, self.client_address[0], route, q, domain,
        )
        try:
            if route == "/":
                self.route_search(q, domain, output)
            elif route == "/garbage":
                self.route_garbage(q)
            elif route == "/huge":
                self.route_huge(domain)
            elif route == "/slow":
                self.route_slow(domain)
            elif route == "/error":
                self.route_error()
            else:
                self.send_body(404, "text/html; charset=UTF-8",
                               b"<html><body><h1>404 Not Found</h1></body></html>\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError) as exc:
            log.info("%s %s client went away: %s", self.server.label, self.client_address[0], exc)
            self.close_connection = True

    def route_search(self, q, domain, output):
        if q is None:
            body = (
                "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\">\n"
                "<HTML><HEAD><TITLE>crt.sh | Certificate Search</TITLE></HEAD>\n"
                "<BODY><H1>Certificate Search (lab mimic)</H1>\n"
                "<P>Use ?q=%25.DOMAIN&amp;output=json</P></BODY></HTML>\n"
            ).encode()
            self.send_body(200, "text/html; charset=UTF-8", body)
            return
        entries = self.load_entries(domain)
        if output == "json":
            body = json.dumps(entries, separators=(",", ":"), ensure_ascii=False).encode()
            self.send_body(200, "application/json", body)
            return
        rows = "".join(
            "<TR><TD>%s</TD><TD>%s</TD><TD>%s</TD><TD>%s</TD></TR>\n"
            % (e.get("id"), html.escape(e.get("not_before", "")),
               html.escape(e.get("common_name", "")),
               html.escape(e.get("name_value", "")).replace("\n", "<BR>"))
            for e in entries
        )
        body = (
            "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\">\n"
            "<HTML><HEAD><TITLE>crt.sh | %s</TITLE></HEAD><BODY>\n"
            "<TABLE>\n<TR><TH>crt.sh ID</TH><TH>Not Before</TH><TH>Common Name</TH>"
            "<TH>Matching Identities</TH></TR>\n%s</TABLE></BODY></HTML>\n"
            % (html.escape(q), rows)
        ).encode()
        self.send_body(200, "text/html; charset=UTF-8", body)

    def route_garbage(self, q):
        body = (
            "<!DOCTYPE html>\n<html><head><title>crt.sh | Maintenance</title></head>\n"
            "<body><h1>Down for maintenance</h1>\n<p>Your query (%s) could not be "
            "answered right now. Please try again later.</p></body></html>\n"
            % html.escape(q or "")
        ).encode()
        self.send_body(200, "text/html; charset=UTF-8", body)

    def route_error(self):
        body = (
            b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
            b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
            b"</body>\r\n</html>\r\n"
        )
        self.send_body(502, "text/html", body)

    def start_unframed(self, ctype):
        """Headers for a body delimited by closing the connection."""
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()

    def route_huge(self, domain):
        self.start_unframed("application/json")
        if self.command == "HEAD":
            return
        domain = domain or "huge.test"
        # One block of entries, built once and sent again and again: the
        # cap is reached at memory speed, so a client's size limit (not its
        # time limit) is what ends the answer even on a busy machine.
        parts = []
        for n in range(1, 1025):
            parts.append(json.dumps({
                "issuer_ca_id": 295815,
                "issuer_name": "C=US, O=Let's Encrypt, CN=R11",
                "common_name": "h%09d.%s" % (n, domain),
                "name_value": "h%09d.%s" % (n, domain),
                "id": 10000000000 + n,
                "entry_timestamp": "2025-01-01T00:00:00.000",
                "not_before": "2025-01-01T00:00:00",
                "not_after": "2025-04-01T23:59:59",
                "serial_number": "%036x" % n,
                "result_count": 1,
            }, separators=(",", ":")))
        block = (",".join(parts) + ",").encode()
        self.wfile.write(b"[")
        sent = 1
        while sent < HUGE_CAP_BYTES:
            data = block[: HUGE_CAP_BYTES - sent]
            self.wfile.write(data)
            sent += len(data)
        log.info("%s %s huge: cap of %d bytes reached", self.server.label,
                 self.client_address[0], HUGE_CAP_BYTES)

    def route_slow(self, domain):
        entries = self.load_entries(domain)
        if not entries:
            entries = [{
                "issuer_ca_id": 295815,
                "issuer_name": "C=US, O=Let's Encrypt, CN=R11",
                "common_name": "slow.%s" % (domain or "slow.test"),
                "name_value": "slow.%s" % (domain or "slow.test"),
                "id": 9000000001,
                "entry_timestamp": "2025-01-01T00:00:00.000",
                "not_before": "2025-01-01T00:00:00",
                "not_after": "2025-04-01T23:59:59",
                "serial_number": "0123456789abcdef0123456789abcdef0123",
                "result_count": 1,
            }]
        body = json.dumps(entries, separators=(",", ":")).encode()
        self.start_unframed("application/json")
        if self.command == "HEAD":
            return
        deadline = time.monotonic() + SLOW_MAX_SECONDS
        for i in range(len(body)):
            if self.server.stopping.is_set() or time.monotonic() >= deadline:
                break
            self.wfile.write(body[i:i + 1])
            self.wfile.flush()
            time.sleep(SLOW_INTERVAL_SECONDS)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        log.info("%s %s connection error: %r", self.label, client_address[0], exc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--addr", default="127.10.0.80")
    ap.add_argument("--http-port", type=int, default=80)
    ap.add_argument("--https-port", type=int, default=443)
    ap.add_argument("--cert", required=True, help="PEM server certificate (chain)")
    ap.add_argument("--key", required=True, help="PEM private key")
    ap.add_argument("--ct-dir", required=True, help="directory of <domain>.json files")
    ap.add_argument("--log", required=True, help="request log file")
    ap.add_argument("--pidfile", help="written once both ports are bound")
    args = ap.parse_args()

    handler = logging.handlers.RotatingFileHandler(args.log, maxBytes=10 << 20, backupCount=1)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    stopping = threading.Event()
    servers = []
    try:
        plain = Server((args.addr, args.http_port), Handler)
        plain.label = "http"
        servers.append(plain)

        tls = Server((args.addr, args.https_port), Handler)
        tls.label = "https"
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.cert, args.key)
        # The handshake runs in the connection's thread, not in accept().
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True, do_handshake_on_connect=False)
        servers.append(tls)
    except (OSError, ssl.SSLError) as exc:
        log.error("cannot start: %s", exc)
        print("ct_server.py: cannot start: %s" % exc, file=sys.stderr)
        return 1

    for s in servers:
        s.ct_dir = args.ct_dir
        s.stopping = stopping
        log.info("listening on %s:%d (%s)", s.server_address[0], s.server_address[1], s.label)

    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True)
               for s in servers]
    for t in threads:
        t.start()

    def on_signal(signum, _frame):
        log.info("signal %d, stopping", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if args.pidfile:
        tmp = args.pidfile + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % os.getpid())
        os.replace(tmp, args.pidfile)

    while not stopping.is_set():
        stopping.wait(1.0)
    for s in servers:
        s.shutdown()
        s.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
