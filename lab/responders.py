#!/usr/bin/env python3
"""Protocol responders for the Kagami lab.

Mimics of services that Debian does not package (or that the lab must not
run for real), written from the protocol specifications, plus servers that
misbehave on purpose. Python 3 standard library only; one thread per
connection, a bounded number of connections, and every read bounded in size
and time.

  rdp            X.224 Connection Confirm with an RDP Negotiation Response
                 (MS-RDPBCGR 2.2.1.2), as a Windows host requiring NLA
  telnet         IAC negotiation (RFC 854/855) then a login prompt that
                 never accepts a password
  ssh-ubuntu     SSH identification string of Ubuntu 22.04 (RFC 4253 4.2)
  ssh-rhel       SSH identification string of RHEL 8
  ssh-debian-old SSH identification string of Debian 12's sshd before the
                 CVE-2024-6387 fix (openssh 1:9.2p1-2+deb12u2)
  vnc            RFB 3.8 handshake (RFC 6143), VNC authentication that
                 always fails
  mongodb-open   MongoDB 7.0 wire protocol (OP_MSG, legacy OP_QUERY hello),
                 no authentication: listDatabases lists databases
  mongodb-auth   same, with authentication enabled: listDatabases is
                 refused with the server's "Unauthorized" error (code 13)
  elasticsearch  HTTP root document of Elasticsearch 7.17, security off
  mssql          SQL Server 2019 RTM (15.0.2000.5): the PRELOGIN answer
                 (MS-TDS 2.2.6.5, encryption not supported); the login that
                 would follow is not served
  oracle         an Oracle Database 19c listener (Oracle Net TNS): a CONNECT
                 for a service it does not know is refused with ORA-12514
                 and the listener's VSNNUM, as the real listener does
  endless        an endless banner: bytes until the client goes
  silent         accepts, reads, never sends
  tls-close      reads a TLS ClientHello, then closes
  random         4 KiB of random bytes, then closes

Run with --list to print the listeners.
"""

import argparse
import datetime
import json
import logging
import logging.handlers
import os
import signal
import socket
import struct
import sys
import threading
import time

# name, address, port
LISTENERS = [
    ("rdp", "127.10.20.89", 3389),
    ("telnet", "127.10.20.23", 23),
    ("ssh-ubuntu", "127.10.20.222", 22),
    ("ssh-rhel", "127.10.20.223", 22),
    ("ssh-debian-old", "127.10.20.224", 22),
    ("vnc", "127.10.20.59", 5900),
    ("mongodb-open", "127.10.20.17", 27017),
    ("mongodb-auth", "127.10.20.18", 27017),
    ("elasticsearch", "127.10.20.92", 9200),
    ("mssql", "127.10.20.14", 1433),
    ("oracle", "127.10.20.15", 1521),
    ("endless", "127.10.20.250", 7000),
    ("silent", "127.10.20.251", 7001),
    ("tls-close", "127.10.20.252", 443),
    ("random", "127.10.20.253", 7002),
]

MAX_CONNECTIONS = 256  # concurrent, over all listeners
IDLE_TIMEOUT = 30.0  # seconds without a byte from the client
SESSION_MAX = 300.0  # seconds per connection, whatever happens
DRAIN_MAX = 1 << 20  # bytes read and ignored per connection
ENDLESS_CAP = 1 << 30  # bytes sent by the endless banner per connection

log = logging.getLogger("responders")
slots = threading.BoundedSemaphore(MAX_CONNECTIONS)


class Closed(Exception):
    """The client went away, sent too much, or was too slow."""


class Conn:
    """A client connection with bounded, deadline-limited reads."""

    def __init__(self, sock, peer):
        self.sock = sock
        self.peer = "%s:%d" % peer
        self.deadline = time.monotonic() + SESSION_MAX
        self.buf = b""

    def _timeout(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Closed("session time limit")
        return min(IDLE_TIMEOUT, left)

    def _fill(self, limit):
        self.sock.settimeout(self._timeout())
        try:
            chunk = self.sock.recv(min(65536, max(1, limit)))
        except (socket.timeout, OSError) as exc:
            raise Closed(str(exc) or "timeout")
        if not chunk:
            raise Closed("closed by client")
        self.buf += chunk

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill(n - len(self.buf))
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_some(self, limit=4096):
        if not self.buf:
            self._fill(limit)
        data, self.buf = self.buf[:limit], self.buf[limit:]
        return data

    def send(self, data):
        self.sock.settimeout(self._timeout())
        try:
            self.sock.sendall(data)
        except (socket.timeout, OSError) as exc:
            raise Closed(str(exc) or "timeout")

    def drain(self, limit=DRAIN_MAX):
        """Reads and ignores input until the client closes (bounded)."""
        total = 0
        while total < limit:
            total += len(self.read_some(min(65536, limit - total)))
        raise Closed("drain limit")


# --- RDP (MS-RDPBCGR 2.2.1.1 / 2.2.1.2, X.224 = ITU-T X.224 / RFC 1006) ----------

PROTOCOL_RDP, PROTOCOL_SSL, PROTOCOL_HYBRID, PROTOCOL_HYBRID_EX = 0, 1, 2, 8
HYBRID_REQUIRED_BY_SERVER = 0x05
# EXTENDED_CLIENT_DATA_SUPPORTED | DYNVC_GFX_PROTOCOL_SUPPORTED |
# NEGRSP_FLAG_RESERVED | RESTRICTED_ADMIN_MODE_SUPPORTED |
# REDIRECTED_AUTHENTICATION_MODE_SUPPORTED
NEG_RSP_FLAGS = 0x1F


def parse_x224_cr(pdu):
    """Returns requestedProtocols (None when no RDP_NEG_REQ), or raises."""
    if len(pdu) < 11 or pdu[0] != 3:
        raise Closed("not a TPKT")
    x224 = pdu[4:]
    li, code = x224[0], x224[1]
    if code & 0xF0 != 0xE0 or li + 1 > len(x224) or li < 6:
        raise Closed("not an X.224 Connection Request")
    var = x224[7:li + 1]
    # Optional routingToken or cookie ("Cookie: mstshash=...\r\n").
    if b"\r\n" in var:
        var = var[var.index(b"\r\n") + 2:]
    if len(var) >= 8 and var[0] == 0x01 and struct.unpack("<H", var[2:4])[0] == 8:
        return struct.unpack("<I", var[4:8])[0]
    return None


def x224_cc(neg):
    """TPKT + X.224 Connection Confirm (dst-ref 0, src-ref 0x1234) + neg."""
    x224 = bytes([6 + len(neg), 0xD0]) + b"\x00\x00\x12\x34\x00" + neg
    return struct.pack(">BBH", 3, 0, 4 + len(x224)) + x224


def handle_rdp(c):
    hdr = c.read_exact(4)
    if hdr[0] != 3:
        raise Closed("not a TPKT")
    length = struct.unpack(">H", hdr[2:4])[0]
    if not 11 <= length <= 2048:
        raise Closed("bad TPKT length %d" % length)
    requested = parse_x224_cr(hdr + c.read_exact(length - 4))
    # A host with Network Level Authentication required: CredSSP or nothing.
    if requested is not None and requested & PROTOCOL_HYBRID:
        selected = PROTOCOL_HYBRID
        neg = struct.pack("<BBHI", 0x02, NEG_RSP_FLAGS, 8, selected)
        log.info("rdp %s requested=0x%x selected=0x%x", c.peer, requested, selected)
    else:
        neg = struct.pack("<BBHI", 0x03, 0, 8, HYBRID_REQUIRED_BY_SERVER)
        log.info("rdp %s requested=%s failure=HYBRID_REQUIRED_BY_SERVER", c.peer,
                 "none" if requested is None else "0x%x" % requested)
    c.send(x224_cc(neg))
    # The TLS handshake that would follow is not served; input is ignored.
    c.drain(64 * 1024)


# --- SQL Server (MS-TDS) -----------------------------------------------------------

TDS_PRELOGIN, TDS_RESPONSE = 0x12, 0x04


def tds_packet(kind, payload):
    """Type, status end-of-message, length, SPID 0, packet 1, window 0."""
    return struct.pack(">BBHHBB", kind, 0x01, 8 + len(payload), 0, 1, 0) + payload


def prelogin(options):
    """PRELOGIN option tokens (token, offset, length), 0xFF, then the data."""
    offset = 5 * len(options) + 1
    tokens, data = b"", b""
    for token, value in options:
        tokens += struct.pack(">BHH", token, offset, len(value))
        data += value
        offset += len(value)
    return tokens + b"\xff" + data


def handle_mssql(c):
    hdr = c.read_exact(8)
    kind, _status, length = struct.unpack(">BBH", hdr[:4])
    if kind != TDS_PRELOGIN or not 8 < length <= 4096:
        raise Closed("not a PRELOGIN packet")
    c.read_exact(length - 8)
    c.send(tds_packet(TDS_RESPONSE, prelogin([
        (0x00, bytes([15, 0]) + struct.pack(">HH", 2000, 5)),  # 15.0.2000.5
        (0x01, b"\x02"),  # ENCRYPT_NOT_SUP
        (0x02, b"\x00"),  # default instance
        (0x03, b""),
        (0x04, b"\x00"),  # MARS off
    ])))
    log.info("mssql %s answered PRELOGIN", c.peer)
    # A LOGIN7 would come next; nothing here accepts one.
    c.drain(64 * 1024)


# --- Oracle Net listener (TNS) -----------------------------------------------------

TNS_CONNECT, TNS_REFUSE = 1, 4
ORACLE_19C_VSNNUM = 318767104  # 19.0.0.0.0, as 19c listeners report it


def handle_oracle(c):
    hdr = c.read_exact(8)
    length, _checksum, kind = struct.unpack(">HHB", hdr[:5])
    if kind != TNS_CONNECT or not 34 <= length <= 8192:
        raise Closed("not a TNS CONNECT")
    body = c.read_exact(length - 8)
    data_length, data_offset = struct.unpack(">HH", body[16:20])
    connect_data = (hdr + body)[data_offset:data_offset + data_length]
    log.info("oracle %s CONNECT %r", c.peer, connect_data[:200])
    # No service is registered: every request is ORA-12514, refused with the
    # listener's description, user reason 0x22, system reason 0.
    text = ("(DESCRIPTION=(TMP=)(VSNNUM=%d)(ERR=12514)(ERROR_STACK=(ERROR=(CODE=12514)(EMFI=4))))"
            % ORACLE_19C_VSNNUM).encode()
    refuse = struct.pack(">BBH", 0x22, 0x00, len(text)) + text
    c.send(struct.pack(">HHBBH", 8 + len(refuse), 0, TNS_REFUSE, 0, 0) + refuse)


# --- Telnet (RFC 854, RFC 855; options RFC 857, 858, 1091, 1073) -------------------

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
OPT_ECHO, OPT_SGA, OPT_TTYPE, OPT_NAWS, OPT_TSPEED, OPT_XDISPLOC, OPT_NEW_ENVIRON = 1, 3, 24, 31, 32, 35, 39


def skip_negotiation(c, seconds):
    """Reads (and ignores) what the client sends during the next seconds."""
    end = time.monotonic() + seconds
    while len(c.buf) < 4096:
        left = end - time.monotonic()
        if left <= 0:
            break
        c.sock.settimeout(left)
        try:
            chunk = c.sock.recv(4096)
        except socket.timeout:
            break
        except OSError as exc:
            raise Closed(str(exc))
        if not chunk:
            raise Closed("closed by client")
        c.buf += chunk
    # Only complete option commands are dropped; anything else stays for
    # the login prompt.
    while len(c.buf) >= 3 and c.buf[0] == IAC and c.buf[1] in (WILL, WONT, DO, DONT):
        c.buf = c.buf[3:]
    while c.buf[:2] == bytes([IAC, SB]) and bytes([IAC, SE]) in c.buf:
        c.buf = c.buf[c.buf.index(bytes([IAC, SE])) + 2:]
        while len(c.buf) >= 3 and c.buf[0] == IAC and c.buf[1] in (WILL, WONT, DO, DONT):
            c.buf = c.buf[3:]


def telnet_line(c, limit=256):
    """Reads one line of user data, skipping telnet commands (bounded)."""
    line = bytearray()
    while True:
        b = c.read_exact(1)[0]
        if b == IAC:
            cmd = c.read_exact(1)[0]
            if cmd in (WILL, WONT, DO, DONT):
                c.read_exact(1)
            elif cmd == SB:
                skipped = 0
                while skipped < 512:
                    if c.read_exact(1)[0] == IAC and c.read_exact(1)[0] == SE:
                        break
                    skipped += 1
            elif cmd == IAC:
                line.append(IAC)
            continue
        if b in (0, 10) and getattr(c, "after_cr", False):
            c.after_cr = False  # the LF or NUL of a CR LF / CR NUL pair
            continue
        if b in (10, 13):
            c.after_cr = b == 13
            return bytes(line)
        c.after_cr = False
        if len(line) >= limit:
            raise Closed("telnet line too long")
        line.append(b)


def handle_telnet(c):
    # As Linux netkit telnetd: first DO TERMINAL-TYPE, TSPEED, XDISPLOC,
    # NEW-ENVIRON; then, after the client's answers (or a second without
    # any), WILL ECHO, WILL SUPPRESS-GO-AHEAD, DO NAWS and the login prompt.
    c.send(bytes([IAC, DO, OPT_TTYPE, IAC, DO, OPT_TSPEED, IAC, DO, OPT_XDISPLOC, IAC, DO, OPT_NEW_ENVIRON]))
    skip_negotiation(c, 1.0)
    c.send(bytes([IAC, WILL, OPT_ECHO, IAC, WILL, OPT_SGA, IAC, DO, OPT_NAWS]))
    c.send(b"\r\nDebian GNU/Linux 12\r\n\r\n")
    for _ in range(3):
        c.send(b"telnet login: ")
        user = telnet_line(c)
        c.send(b"\r\nPassword: ")
        telnet_line(c)
        log.info("telnet %s login attempt user=%r", c.peer, user[:64])
        time.sleep(1)
        c.send(b"\r\n\r\nLogin incorrect\r\n")
    raise Closed("three failed logins")


# --- SSH identification strings (RFC 4253 section 4.2) -----------------------------

def ssh_banner(banner):
    def handle(c):
        c.send(banner + b"\r\n")
        c.drain(64 * 1024)
    return handle


# --- VNC (RFC 6143) ------------------------------------------------------------------

def handle_vnc(c):
    c.send(b"RFB 003.008\n")
    version = c.read_exact(12)
    if version not in (b"RFB 003.008\n", b"RFB 003.007\n", b"RFB 003.003\n"):
        raise Closed("unsupported client version %r" % version)
    if version == b"RFB 003.003\n":
        c.send(struct.pack(">I", 2))  # 3.3: the server picks VNC authentication
    else:
        c.send(b"\x01\x02")  # one security type: VNC authentication
        if c.read_exact(1) != b"\x02":
            raise Closed("client chose another security type")
    c.send(os.urandom(16))  # challenge
    c.read_exact(16)  # DES response; never right
    reason = b"Authentication failed"
    if version == b"RFB 003.003\n":
        c.send(struct.pack(">I", 1))
    else:
        c.send(struct.pack(">II", 1, len(reason)) + reason)
    log.info("vnc %s authentication refused", c.peer)


# --- BSON (bsonspec.org) ------------------------------------------------------------------

class Int64(int):
    """Encoded as BSON int64."""


class ObjectId(bytes):
    """12 bytes: timestamp, random value, counter."""


def bson_encode(doc):
    out = bytearray()
    for key, value in doc.items():
        name = key.encode() + b"\x00"
        if isinstance(value, bool):
            out += b"\x08" + name + (b"\x01" if value else b"\x00")
        elif isinstance(value, Int64):
            out += b"\x12" + name + struct.pack("<q", value)
        elif isinstance(value, int):
            if -(1 << 31) <= value < (1 << 31):
                out += b"\x10" + name + struct.pack("<i", value)
            else:
                out += b"\x12" + name + struct.pack("<q", value)
        elif isinstance(value, float):
            out += b"\x01" + name + struct.pack("<d", value)
        elif isinstance(value, str):
            s = value.encode() + b"\x00"
            out += b"\x02" + name + struct.pack("<i", len(s)) + s
        elif isinstance(value, dict):
            out += b"\x03" + name + bson_encode(value)
        elif isinstance(value, list):
            out += b"\x04" + name + bson_encode({str(i): v for i, v in enumerate(value)})
        elif isinstance(value, ObjectId):
            out += b"\x07" + name + bytes(value)
        elif isinstance(value, datetime.datetime):
            out += b"\x09" + name + struct.pack("<q", int(value.timestamp() * 1000))
        elif value is None:
            out += b"\x0a" + name
        else:
            raise TypeError("cannot encode %r" % (value,))
    return struct.pack("<i", len(out) + 5) + bytes(out) + b"\x00"


def _cstring(data, pos):
    end = data.index(b"\x00", pos)
    return data[pos:end].decode("utf-8", "replace"), end + 1


FIXED_SIZES = {0x01: 8, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8,
               0x13: 16, 0x7F: 0, 0xFF: 0}


def bson_decode(data, depth=0):
    """Decodes a document; values of types the mimics never read are kept raw."""
    if depth > 20:
        raise ValueError("nesting too deep")
    if len(data) < 5:
        raise ValueError("short document")
    size = struct.unpack("<i", data[:4])[0]
    if size != len(data) or data[-1] != 0:
        raise ValueError("bad document length")
    doc, pos = {}, 4
    while pos < size - 1:
        kind = data[pos]
        key, pos = _cstring(data, pos + 1)
        if kind in (0x02, 0x0D, 0x0E):
            n = struct.unpack("<i", data[pos:pos + 4])[0]
            if n < 1 or pos + 4 + n > size:
                raise ValueError("bad string")
            value = data[pos + 4:pos + 3 + n].decode("utf-8", "replace")
            pos += 4 + n
        elif kind in (0x03, 0x04):
            n = struct.unpack("<i", data[pos:pos + 4])[0]
            if n < 5 or pos + n > size:
                raise ValueError("bad subdocument")
            sub = bson_decode(data[pos:pos + n], depth + 1)
            value = list(sub.values()) if kind == 0x04 else sub
            pos += n
        elif kind == 0x05:
            n = struct.unpack("<i", data[pos:pos + 4])[0]
            if n < 0 or pos + 5 + n > size:
                raise ValueError("bad binary")
            value = data[pos + 5:pos + 5 + n]
            pos += 5 + n
        elif kind == 0x0B:
            pattern, pos = _cstring(data, pos)
            _, pos = _cstring(data, pos)
            value = pattern
        elif kind in FIXED_SIZES:
            n = FIXED_SIZES[kind]
            raw = data[pos:pos + n]
            value = {0x01: lambda r: struct.unpack("<d", r)[0],
                     0x08: lambda r: r != b"\x00",
                     0x10: lambda r: struct.unpack("<i", r)[0],
                     0x12: lambda r: struct.unpack("<q", r)[0]}.get(kind, lambda r: r)(raw)
            pos += n
        else:
            raise ValueError("unsupported BSON type 0x%02x" % kind)
        doc[key] = value
    return doc


# --- MongoDB wire protocol (OP_MSG 2013, OP_QUERY 2004, OP_REPLY 1) --------------------

OP_REPLY, OP_QUERY, OP_MSG = 1, 2004, 2013
MONGO_MAX_MESSAGE = 1 << 20  # the mimics accept requests of at most 1 MiB
MONGO_VERSION = "7.0.14"
_counter_lock = threading.Lock()
_counters = {"request": 0, "connection": 0}


def _next(name):
    with _counter_lock:
        _counters[name] += 1
        return _counters[name]


def new_process_id():
    return ObjectId(struct.pack(">I", int(time.time())) + os.urandom(5) + os.urandom(3))


def hello_reply(command, request, connection_id, process_id):
    doc = {}
    if request.get("helloOk") is True:
        doc["helloOk"] = True
    if command == "hello":
        doc["isWritablePrimary"] = True
    else:
        doc["ismaster"] = True
    doc.update({
        "topologyVersion": {"processId": process_id, "counter": Int64(0)},
        "maxBsonObjectSize": 16777216,
        "maxMessageSizeBytes": 48000000,
        "maxWriteBatchSize": 100000,
        "localTime": datetime.datetime.now(datetime.timezone.utc),
        "logicalSessionTimeoutMinutes": 30,
        "connectionId": connection_id,
        "minWireVersion": 0,
        "maxWireVersion": 21,
        "readOnly": False,
        "ok": 1.0,
    })
    return doc


DATABASES = [  # name, sizeOnDisk
    ("admin", 40960),
    ("config", 110592),
    ("crm", 8388608),
    ("local", 73728),
    ("shop", 2523136),
]


def list_databases_reply(request):
    if request.get("nameOnly") is True:
        dbs = [{"name": n} for n, _ in DATABASES]
    else:
        dbs = [{"name": n, "sizeOnDisk": Int64(s), "empty": False} for n, s in DATABASES]
    total = sum(s for _, s in DATABASES)
    doc = {"databases": dbs, "totalSize": Int64(total), "totalSizeMb": Int64(total >> 20), "ok": 1.0}
    if request.get("nameOnly") is True:
        del doc["totalSize"], doc["totalSizeMb"]
    return doc


def build_info_reply():
    return {
        "version": MONGO_VERSION,
        "gitVersion": "ce59cfc6a3c5e5c067dca0d30697edd68d4f5188",
        "modules": [],
        "allocator": "tcmalloc",
        "javascriptEngine": "mozjs",
        "sysInfo": "deprecated",
        "versionArray": [7, 0, 14, 0],
        "bits": 64,
        "debug": False,
        "maxBsonObjectSize": 16777216,
        "storageEngines": ["devnull", "wiredTiger"],
        "ok": 1.0,
    }


def error_doc(errmsg, code, code_name):
    return {"ok": 0.0, "errmsg": errmsg, "code": code, "codeName": code_name}


# Commands a mongod with authorization enabled runs for an unauthenticated
# client.
PRE_AUTH_COMMANDS = {"hello", "ismaster", "ping", "buildinfo", "saslstart", "saslcontinue",
                     "authenticate", "logout", "endsessions", "getnonce"}


def mongo_command(request, auth_required, connection_id, process_id):
    if not request:
        return error_doc("no command given", 59, "CommandNotFound")
    command = next(iter(request))
    lower = command.lower()
    if auth_required and lower not in PRE_AUTH_COMMANDS:
        return error_doc("command %s requires authentication" % command, 13, "Unauthorized")
    if lower in ("hello", "ismaster"):
        return hello_reply("hello" if lower == "hello" else "isMaster", request, connection_id, process_id)
    if lower == "ping":
        return {"ok": 1.0}
    if lower == "buildinfo":
        return build_info_reply()
    if lower in ("saslstart", "saslcontinue", "authenticate"):
        return error_doc("Authentication failed.", 18, "AuthenticationFailed")
    if lower in ("endsessions", "logout"):
        return {"ok": 1.0}
    if lower == "listdatabases":
        return list_databases_reply(request)
    return error_doc("no such command: '%s'" % command, 59, "CommandNotFound")


def mongo_message(op_code, response_to, payload):
    request_id = _next("request")
    return struct.pack("<iiii", 16 + len(payload), request_id, response_to, op_code) + payload


def parse_op_msg(body):
    flags = struct.unpack("<I", body[:4])[0]
    if flags & 0xFFFC & 0xFFFF:
        raise Closed("unknown required OP_MSG flag bits 0x%x" % flags)
    end = len(body) - (4 if flags & 1 else 0)
    pos, command = 4, None
    while pos < end:
        kind = body[pos]
        pos += 1
        size = struct.unpack("<i", body[pos:pos + 4])[0]
        if size < 5 or pos + size > end:
            raise Closed("bad OP_MSG section")
        if kind == 0:
            command = bson_decode(body[pos:pos + size])
        elif kind != 1:
            raise Closed("unknown OP_MSG section kind %d" % kind)
        pos += size
    if command is None:
        raise Closed("OP_MSG without a body section")
    return flags, command


def parse_op_query(body):
    collection, pos = _cstring(body, 4)  # after the int32 flags
    pos += 8  # numberToSkip, numberToReturn
    size = struct.unpack("<i", body[pos:pos + 4])[0]
    query = bson_decode(body[pos:pos + size])
    if "$query" in query and isinstance(query["$query"], dict):
        query = query["$query"]
    return collection, query


def mongo_handler(auth_required):
    process_id = new_process_id()  # one per server, as each mongod has its own

    def handle(c):
        connection_id = _next("connection")
        for _ in range(10000):
            header = c.read_exact(16)
            length, request_id, _response_to, op_code = struct.unpack("<iiii", header)
            if not 16 < length <= MONGO_MAX_MESSAGE:
                raise Closed("bad message length %d" % length)
            body = c.read_exact(length - 16)
            try:
                if op_code == OP_MSG:
                    flags, request = parse_op_msg(body)
                    reply = mongo_command(request, auth_required, connection_id, process_id)
                    log.info("mongodb %s OP_MSG %s ok=%s", c.peer, next(iter(request), "-"), reply["ok"])
                    if flags & 2:  # moreToCome: the client expects no reply
                        continue
                    c.send(mongo_message(OP_MSG, request_id, b"\x00\x00\x00\x00\x00" + bson_encode(reply)))
                elif op_code == OP_QUERY:
                    collection, query = parse_op_query(body)
                    command = next(iter(query), "")
                    if collection.endswith(".$cmd") and command.lower() in ("ismaster", "hello"):
                        reply = hello_reply("hello" if command.lower() == "hello" else "isMaster",
                                            query, connection_id, process_id)
                    else:
                        reply = error_doc(
                            "Unsupported OP_QUERY command: %s. The client driver may require an upgrade. "
                            "For more details see https://dochub.mongodb.org/core/legacy-opcode-removal"
                            % command, 352, "UnsupportedOpQueryCommand")
                    log.info("mongodb %s OP_QUERY %s %s ok=%s", c.peer, collection, command, reply["ok"])
                    payload = struct.pack("<iqii", 0, 0, 0, 1) + bson_encode(reply)
                    c.send(mongo_message(OP_REPLY, request_id, payload))
                else:
                    raise Closed("unsupported opCode %d" % op_code)
            except (ValueError, IndexError, struct.error) as exc:
                raise Closed("malformed message: %s" % exc)
        raise Closed("message limit")
    return handle


# --- Elasticsearch 7.17 HTTP API ----------------------------------------------------------

ES_VERSION = "7.17.3"
ES_BUILD_HASH = "5ad023604c8d7416c9eb6c0eadb62b14e766caff"
ES_ROOT = {
    "name": "es-node-1",
    "cluster_name": "kagami-lab",
    "cluster_uuid": "jX3kY7TnQ5mV0rA2bC8dEw",
    "version": {
        "number": ES_VERSION,
        "build_flavor": "default",
        "build_type": "deb",
        "build_hash": ES_BUILD_HASH,
        "build_date": "2022-04-19T08:11:19.070913226Z",
        "build_snapshot": False,
        "lucene_version": "8.11.1",
        "minimum_wire_compatibility_version": "6.8.0",
        "minimum_index_compatibility_version": "6.0.0-beta1",
    },
    "tagline": "You Know, for Search",
}
ES_INDICES = [  # index, docs.count, store.size
    ("customers", 12873, "4.1mb"),
    ("orders-2024", 48211, "17.9mb"),
    (".geoip_databases", 41, "39.2mb"),
]
ES_SECURITY_WARNING = (
    '299 Elasticsearch-%s-%s "Elasticsearch built-in security features are not enabled. '
    "Without authentication, your cluster could be accessible to anyone. See "
    "https://www.elastic.co/guide/en/elasticsearch/reference/7.17/security-minimal-setup.html "
    'to enable security."' % (ES_VERSION, ES_BUILD_HASH))


def es_json(doc, pretty):
    if pretty:
        return (json.dumps(doc, indent=2, separators=(",", " : ")) + "\n").encode()
    return json.dumps(doc, separators=(",", ":")).encode()


def es_route(method, target):
    path, _, query = target.partition("?")
    params = dict(p.partition("=")[::2] for p in query.split("&") if p)
    pretty = "pretty" in params
    if method not in ("GET", "HEAD"):
        return 405, es_json({"error": "Incorrect HTTP method for uri [%s] and method [%s], allowed: [GET, HEAD]"
                                      % (target, method), "status": 405}, pretty), ES_JSON
    if path in ("/", ""):
        # The root document is pretty-printed even without ?pretty.
        return 200, es_json(ES_ROOT, True), ES_JSON
    if path == "/_cluster/health":
        return 200, es_json({
            "cluster_name": ES_ROOT["cluster_name"], "status": "yellow", "timed_out": False,
            "number_of_nodes": 1, "number_of_data_nodes": 1, "active_primary_shards": 3,
            "active_shards": 3, "relocating_shards": 0, "initializing_shards": 0,
            "unassigned_shards": 2, "delayed_unassigned_shards": 0, "number_of_pending_tasks": 0,
            "number_of_in_flight_fetch": 0, "task_max_waiting_in_queue_millis": 0,
            "active_shards_percent_as_number": 60.0}, pretty), ES_JSON
    if path == "/_cat/indices":
        if params.get("format") == "json":
            rows = [{"health": "yellow", "status": "open", "index": i, "uuid": "lab%019d" % n,
                     "pri": "1", "rep": "1", "docs.count": str(d), "docs.deleted": "0",
                     "store.size": s, "pri.store.size": s} for n, (i, d, s) in enumerate(ES_INDICES)]
            return 200, es_json(rows, pretty), ES_JSON
        lines = ["yellow open %-17s lab%019d 1 1 %6d 0 %6s %6s" % (i, n, d, s, s)
                 for n, (i, d, s) in enumerate(ES_INDICES)]
        return 200, ("\n".join(lines) + "\n").encode(), "text/plain; charset=UTF-8"
    index = path.strip("/").split("/")[0]
    err = {"type": "index_not_found_exception", "reason": "no such index [%s]" % index,
           "resource.type": "index_or_alias", "resource.id": index, "index_uuid": "_na_", "index": index}
    return 404, es_json({"error": dict(root_cause=[err], **err), "status": 404}, pretty), ES_JSON


ES_JSON = "application/json; charset=UTF-8"
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


def handle_elasticsearch(c):
    for _ in range(100):  # requests per connection (keep-alive)
        while b"\r\n\r\n" not in c.buf:
            if len(c.buf) > 16384:
                raise Closed("request head too large")
            c._fill(16384)
        head, _, c.buf = c.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        try:
            length = int(headers.get("content-length", "0") or 0)
        except ValueError:
            raise Closed("bad content-length")
        if not 0 <= length <= 65536:
            raise Closed("request body too large")
        if length:
            c.read_exact(length)
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            status, body, ctype = 400, b'{"error":"bad request","status":400}', ES_JSON
            method = "GET"
        else:
            method = parts[0]
            status, body, ctype = es_route(method, parts[1])
        log.info("elasticsearch %s %s -> %d", c.peer, lines[0][:200], status)
        version = "HTTP/1.0" if parts[-1] == "HTTP/1.0" else "HTTP/1.1"
        out = ["%s %d %s" % (version, status, REASONS[status]),
               "X-elastic-product: Elasticsearch",
               "Warning: " + ES_SECURITY_WARNING,
               "content-type: " + ctype,
               "content-length: %d" % len(body)]
        c.send(("\r\n".join(out) + "\r\n\r\n").encode() + (b"" if method == "HEAD" else body))
        if headers.get("connection", "").lower() == "close" or parts[-1] == "HTTP/1.0":
            return
    raise Closed("request limit")


# --- bad input ---------------------------------------------------------------------------------

def handle_endless(c):
    """An identification line that never ends: no CR or LF, ever."""
    c.send(b"220 ")
    chunk = bytes(range(0x41, 0x5B)) * 2520  # 'A'..'Z' repeated, about 64 KiB
    sent = 4
    while sent < ENDLESS_CAP:
        c.deadline = time.monotonic() + SESSION_MAX  # a reading client is progress
        c.send(chunk)
        sent += len(chunk)
    raise Closed("endless banner cap")


def handle_silent(c):
    c.drain()


def handle_tls_close(c):
    header = c.read_exact(5)
    if header[0] == 0x16:
        length = struct.unpack(">H", header[3:5])[0]
        if length <= 16384 + 2048:
            c.read_exact(length)
            log.info("tls-close %s read a %d-byte handshake record", c.peer, length)
    raise Closed("closing after the ClientHello")


def handle_random(c):
    c.send(os.urandom(4096))
    try:
        c.sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


HANDLERS = {
    "rdp": handle_rdp,
    "mssql": handle_mssql,
    "oracle": handle_oracle,
    "telnet": handle_telnet,
    "ssh-ubuntu": ssh_banner(b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10"),
    "ssh-rhel": ssh_banner(b"SSH-2.0-OpenSSH_8.0"),
    "ssh-debian-old": ssh_banner(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2"),
    "vnc": handle_vnc,
    "mongodb-open": mongo_handler(auth_required=False),
    "mongodb-auth": mongo_handler(auth_required=True),
    "elasticsearch": handle_elasticsearch,
    "endless": handle_endless,
    "silent": handle_silent,
    "tls-close": handle_tls_close,
    "random": handle_random,
}


# --- quick probes (lab/services/responders status) ------------------------------------------------

def _probe_recv(s, n, deadline=2.0):
    s.settimeout(deadline)
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def probe(name, addr, port):
    """A minimal protocol exchange; True when the listener answers as it should."""
    with socket.create_connection((addr, port), timeout=2) as s:
        if name == "rdp":
            cr = b"\x0e\xe0\x00\x00\x00\x00\x00" + struct.pack("<BBHI", 1, 0, 8, 3)
            s.sendall(struct.pack(">BBH", 3, 0, 4 + len(cr)) + cr)
            r = _probe_recv(s, 19)
            return r[:2] == b"\x03\x00" and r[5] == 0xD0 and r[11] == 0x02
        if name == "telnet":
            return _probe_recv(s, 3)[:1] == bytes([IAC])
        if name.startswith("ssh-"):
            return _probe_recv(s, 8) == b"SSH-2.0-"
        if name == "vnc":
            return _probe_recv(s, 12) == b"RFB 003.008\n"
        if name.startswith("mongodb-"):
            msg = b"\x00\x00\x00\x00\x00" + bson_encode({"hello": 1, "$db": "admin"})
            s.sendall(struct.pack("<iiii", 16 + len(msg), 1, 0, OP_MSG) + msg)
            r = _probe_recv(s, 16)
            return len(r) == 16 and struct.unpack("<i", r[12:16])[0] == OP_MSG
        if name == "elasticsearch":
            s.sendall(b"GET / HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
            return _probe_recv(s, 15) == b"HTTP/1.1 200 OK"
        if name == "mssql":
            s.sendall(tds_packet(TDS_PRELOGIN, prelogin([(0x00, bytes(6)), (0x01, b"\x02")])))
            return _probe_recv(s, 8)[:2] == bytes([TDS_RESPONSE, 0x01])
        if name == "oracle":
            data = b"(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=status)))"
            connect = struct.pack(">HHHHHHHHHHIBB", 314, 300, 0, 8192, 32767, 0x7F08, 0, 0x0100,
                                  len(data), 58, 0, 0x41, 0x41).ljust(50, b"\0") + data
            s.sendall(struct.pack(">HHBBH", 8 + len(connect), 0, TNS_CONNECT, 0, 0) + connect)
            return _probe_recv(s, 8)[4] == TNS_REFUSE
        if name == "endless":
            return _probe_recv(s, 4096).startswith(b"220 ")
        if name == "random":
            return len(_probe_recv(s, 4096)) == 4096
        if name == "tls-close":
            s.sendall(b"\x16\x03\x01\x00\x04\x01\x00\x00\x00")
            return _probe_recv(s, 1) == b""
        if name == "silent":
            try:
                return _probe_recv(s, 1, deadline=0.3) == b"" and False
            except socket.timeout:
                return True
    return False


def check_all():
    ok = True
    for name, addr, port in LISTENERS:
        try:
            up = probe(name, addr, port)
        except (OSError, IndexError, struct.error):
            up = False
        ok = ok and up
        print("%s %s:%d %s" % (name, addr, port, "up" if up else "DOWN"))
    return 0 if ok else 1


# --- server -----------------------------------------------------------------------------------

def serve_connection(name, sock, peer):
    c = Conn(sock, peer)
    try:
        HANDLERS[name](c)
    except Closed as exc:
        log.debug("%s %s closed: %s", name, c.peer, exc)
    except Exception:  # a bug must not stop the listener
        log.exception("%s %s handler error", name, c.peer)
    finally:
        try:
            sock.close()
        except OSError:
            pass
        slots.release()


def accept_loop(name, lsock):
    while True:
        try:
            sock, peer = lsock.accept()
        except OSError:
            return
        if not slots.acquire(blocking=False):
            log.warning("%s: connection limit reached, closing %s:%d", name, *peer)
            sock.close()
            continue
        threading.Thread(target=serve_connection, args=(name, sock, peer), daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", action="store_true", help="print the listeners and exit")
    ap.add_argument("--check", action="store_true", help="probe every listener, one line each")
    ap.add_argument("--log", help="connection log file")
    ap.add_argument("--pidfile", help="written once every listener is bound")
    args = ap.parse_args()
    if args.list:
        for name, addr, port in LISTENERS:
            print(name, addr, port)
        return 0
    if args.check:
        return check_all()
    if not args.log:
        ap.error("--log is required")

    handler = logging.handlers.RotatingFileHandler(args.log, maxBytes=10 << 20, backupCount=1)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    sockets = []
    for name, addr, port in LISTENERS:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((addr, port))
        except OSError as exc:
            print("responders.py: cannot bind %s:%d (%s): %s" % (addr, port, name, exc), file=sys.stderr)
            log.error("cannot bind %s:%d (%s): %s", addr, port, name, exc)
            return 1
        s.listen(64)
        sockets.append((name, s))
        log.info("listening on %s:%d (%s)", addr, port, name)

    def on_signal(signum, _frame):
        log.info("signal %d, stopping", signum)
        for _, s in sockets:
            s.close()
        handler.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    for name, s in sockets:
        threading.Thread(target=accept_loop, args=(name, s), daemon=True).start()
    if args.pidfile:
        tmp = args.pidfile + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % os.getpid())
        os.replace(tmp, args.pidfile)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
