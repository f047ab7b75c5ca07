#!/usr/bin/env python3
"""Web mimics for the Kagami lab (web.test).

Appliances that no Debian package provides, answering the requests a web
scanner makes the way the real products do (paths, status codes, headers,
cookies, page markers; sources in lab/README.md), and web servers that
misbehave on purpose. Python 3 standard library only; one thread per
connection, a bounded number of connections, every read bounded in size
and time; one request per connection (answers carry Connection: close).

  fortigate      FortiGate SSL-VPN portal (FortiOS 7.x), HTTPS
  asa            Cisco ASA WebVPN (AnyConnect) portal, HTTPS
  sophos         Sophos Firewall (SFOS) user portal, HTTPS
  iis85          Microsoft IIS 8.5 (Windows Server 2012 R2): welcome page,
                 detailed 404, directory browsing on /aspnet_client/
  iis10          Microsoft IIS 10.0: welcome page, 404
  huge           200 with an endless chunked body
  gzip-bomb      200 with a gzip body that inflates to 256 MiB
  slow           200, headers at once, then one body byte per second
  redirect-loop  redirects in a circle
  bad-headers    malformed header lines
  bad-utf8       invalid UTF-8 in the title, body and a cookie
  http09         GET / in HTTP/1.0, every other path an HTTP/0.9 answer
                 (the body alone, no status line)

Run with --list to print the listeners.
"""

import argparse
import datetime
import logging
import logging.handlers
import os
import pathlib
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import zlib

# name, address, port, TLS
LISTENERS = [
    ("fortigate", "127.10.40.50", 443, True),
    ("asa", "127.10.40.51", 443, True),
    ("sophos", "127.10.40.52", 443, True),
    ("iis85", "127.10.40.53", 80, False),
    ("iis10", "127.10.40.54", 80, False),
    ("huge", "127.10.40.60", 80, False),
    ("gzip-bomb", "127.10.40.61", 80, False),
    ("slow", "127.10.40.62", 80, False),
    ("redirect-loop", "127.10.40.63", 80, False),
    ("bad-headers", "127.10.40.64", 80, False),
    ("bad-utf8", "127.10.40.65", 80, False),
    ("http09", "127.10.40.66", 80, False),
]

MAX_CONNECTIONS = 256  # concurrent, over all listeners
IDLE_TIMEOUT = 30.0  # seconds without a byte from the client
HEAD_MAX = 16384  # bytes of request head read at most
ENDLESS_CAP = 1 << 30  # bytes of endless body sent per connection
SLOW_MAX = 120  # seconds a slow body drips at most
BOMB_SIZE = 256 << 20  # bytes the gzip bomb inflates to

log = logging.getLogger("web-responders")
slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
bomb_ready = threading.Event()
bomb = []


class Closed(Exception):
    """The client went away, sent too much, or was too slow."""


def http_date():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


def read_request(sock):
    """The request line and headers (lower-case names) of one request."""
    data = b""
    while b"\r\n\r\n" not in data and b"\n\n" not in data:
        if len(data) > HEAD_MAX:
            raise Closed("request head too large")
        try:
            chunk = sock.recv(4096)
        except (socket.timeout, OSError) as exc:
            raise Closed(str(exc) or "timeout")
        if not chunk:
            raise Closed("closed by client")
        data += chunk
    head = data.split(b"\r\n\r\n")[0].split(b"\n\n")[0].decode("latin-1")
    lines = head.replace("\r\n", "\n").split("\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise Closed("bad request line %r" % lines[0][:80])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return parts[0], parts[1], headers


def send(sock, data):
    try:
        sock.sendall(data)
    except (socket.timeout, OSError) as exc:
        raise Closed(str(exc) or "timeout")


def respond(sock, status, reason, headers, body, method="GET"):
    out = ["HTTP/1.1 %d %s" % (status, reason)]
    out += ["%s: %s" % (n, v) for n, v in headers]
    out += ["Content-Length: %d" % len(body), "Connection: close"]
    send(sock, ("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + (b"" if method == "HEAD" else body))


def host_of(headers, addr):
    return headers.get("host", addr).split(":")[0] or addr


# --- FortiGate SSL-VPN (FortiOS 7.x) -------------------------------------------------------------

FORTI_HEADERS = [
    ("Server", "xxxxxxxx-xxxxx"),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("Content-Security-Policy", "frame-ancestors 'self'; object-src 'self'; script-src 'self' https: 'unsafe-eval' 'unsafe-inline' blob:;"),
    ("X-XSS-Protection", "1; mode=block"),
    ("X-Content-Type-Options", "nosniff"),
    ("Strict-Transport-Security", "max-age=31536000"),
]
FORTI_ROOT = (b'<html><script type="text/javascript">if (window!=top) top.location=window.location;'
              b'top.location="/remote/login";</script></html>\n')
FORTI_LOGIN = b"""<!DOCTYPE html>
<html lang="en" class="main-app">
<head>
<meta charset="UTF-8">
<meta http-equiv="X-UA-Compatible" content="IE=8; IE=EDGE">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link href="/sslvpn/css/login.css" rel="stylesheet" type="text/css">
<script type="text/javascript">if (window!=top) top.location=window.location;</script>
<script type="text/javascript" src="/remote/fgt_lang?lang=en"></script>
<script type="text/javascript" src="/sslvpn/js/login.js"></script>
</head>
<body class="main">
<div class="view-container">
<form class="prompt" action="/remote/logincheck" method="post" name="f" autocomplete="off">
<div class="content with-header">
<div class="header"><f-icon class="ftnt-fortinet-grid icon-xl"></f-icon><div>Please Login</div></div>
<div class="sub-content">
<div class="wide-inputs">
<input id="username" name="username" type="text" autofocus placeholder="Username">
<input id="credential" name="credential" type="password" placeholder="Password">
</div>
<div class="button-actions wide">
<button id="login_button" class="primary" type="button" name="login_button" onclick="try_login()">Login</button>
</div>
<div class="button-actions wide">
<button id="saml-login-bn" class="primary" type="button" onclick="location.href='/remote/saml/start'">Single Sign-On</button>
</div>
</div>
</div>
<input type="hidden" name="realm" id="realm" value="">
<input type="hidden" name="just_logged_in" value="1">
</form>
</div>
</body>
</html>
"""


def handle_fortigate(sock, method, target, headers, addr):
    path = target.split("?")[0]
    cleared = ("Set-Cookie", "SVPNCOOKIE=; path=/; expires=Sun, 11 Mar 1984 12:00:00 GMT; secure; httponly; SameSite=Strict")
    if path == "/":
        return 200, "OK", FORTI_HEADERS + [("Content-Type", "text/html")], FORTI_ROOT
    if path == "/remote/login":
        return 200, "OK", FORTI_HEADERS + [("Content-Type", "text/html; charset=utf-8"), cleared], FORTI_LOGIN
    if path == "/remote/fgt_lang":
        body = b'var fgt_lang = {"sslvpn_login_permission_denied": "Permission denied.", "login": "Login"};\n'
        return 200, "OK", FORTI_HEADERS + [("Content-Type", "application/javascript")], body
    return 404, "Not Found", FORTI_HEADERS + [("Content-Type", "text/html")], (
        b"<!DOCTYPE html><html><head><title>404 Not Found</title></head>"
        b"<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body></html>\n")


# --- Cisco ASA WebVPN ----------------------------------------------------------------------------

ASA_EXPIRED = "expires=Thu, 01 Jan 1970 22:00:00 GMT; path=/; secure"
ASA_ROOT = b'<html>\n<script>\ndocument.location.replace("/+CSCOE+/logon.html")\n</script>\n</html>\n'
ASA_LOGON = b"""<html>
<head>
<title>SSL VPN Service</title>
<meta name="HandheldFriendly" content="true" />
<meta name="viewport" content="width=500,user-scalable=no" />
<script>
if(self != top) top.location.href="/+CSCOE+/logon.html";
</script>
<link href="/+CSCOE+/portal.css" rel="stylesheet" type="text/css">
<script src="/+CSCOE+/win.js"></script>
<script>
document.cookie="webvpnlogin=1; path=/; secure";
</script>
</head>
<body style="background-color:#ffffff; overflow:auto;">
<table style="width:100%;height: 100%" cellspacing=0 cellpadding=0>
<tr><td id=form_panel align=middle>
<form id="unicorn_form" method="POST" autocomplete="off" action="/+webvpn+/index.html">
<input name="tgroup" type=hidden value="">
<input name="next" type=hidden value="">
<input name="tgcookieset" type=hidden value="">
<table style="width:350px;" id=form_table cellspacing=0 cellpadding=0 border=0>
<tr><td id="form_title_text"><img src="/+CSCOU+/login-header-icon.jpg" width=51></td><td>Logon</td></tr>
<tr><td>Group</td><td><select id="group_list" name="group_list"><option value="Remote_Users" selected>Remote_Users</option></select></td></tr>
<tr><td id="username_field">Username</td><td><input autocomplete="off" id="username" name="username" value=""></td></tr>
<tr><td id="password_field">Password</td><td><input autocomplete="off" id="password_input" name="password" type=password></td></tr>
<tr><td colspan=2 align="middle"><input type="submit" name="Login" value="Logon" /></td></tr>
</table>
</form>
</td></tr>
</table>
</body>
</HTML>
"""


def handle_asa(sock, method, target, headers, addr):
    path, _, query = target.partition("?")
    nocache = [("Cache-Control", "no-cache"), ("Pragma", "no-cache")]
    if path == "/":
        cookies = [("Set-Cookie", "%s=; %s" % (name, ASA_EXPIRED))
                   for name in ("tg", "webvpn", "webvpnc", "webvpn_portal", "webvpnSharePoint", "sdesktop")]
        cookies.append(("Set-Cookie", "webvpnlogin=1; path=/; secure"))
        return 200, "OK", [("Content-Type", "text/html; charset=utf-8")] + nocache + cookies, ASA_ROOT
    if path == "/+CSCOE+/logon.html" and not query:
        return 302, "Object Moved", [("Location", "/+CSCOE+/logon.html?fcadbadd=1"),
                                     ("Set-Cookie", "tg=; " + ASA_EXPIRED)] + nocache, b""
    if path == "/+CSCOE+/logon.html":
        cookies = [("Set-Cookie", "%s=; %s" % (name, ASA_EXPIRED)) for name in ("webvpn", "webvpnc", "webvpn_portal")]
        cookies.append(("Set-Cookie", "webvpnlogin=1; secure"))
        return 200, "OK", [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "max-age=0")] + cookies, ASA_LOGON
    if path == "/+CSCOE+/win.js":
        return 200, "OK", [("Content-Type", "application/javascript")], b"function csco_ShowObj(){}\n"
    if path == "/+CSCOE+/portal.css":
        return 200, "OK", [("Content-Type", "text/css")], b"body { font-family: Arial; }\n"
    return 404, "Not Found", [("Content-Type", "text/html; charset=utf-8")] + nocache, (
        b"<html><body><p>File not found</p></body></html>\n")


# --- Sophos Firewall (SFOS) user portal ----------------------------------------------------------

SOPHOS_HEADERS = [
    ("Server", "xxxx"),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("Strict-Transport-Security", "max-age=31536000"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-XSS-Protection", "1; mode=block"),
    ("Content-Security-Policy", "default-src https: data: ws: wss: blob: 'unsafe-inline' 'unsafe-eval'; worker-src 'self' blob:; frame-ancestors 'self';"),
    ("Cache-Control", "no-cache"),
    ("Pragma", "no-cache"),
    ("Expires", "Wed, 31 Dec 1969 23:59:59 GMT"),
]
SOPHOS_VERSION = "077b68eec97ffaa545be811dc65cee99"
SOPHOS_LOGIN = ("""<!DOCTYPE HTML>
<html>
<head>
<title>Sophos</title>
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<link rel="icon" href="/images/favicon.ico?version=%(v)s">
<link href="/themes/lite1/css/typography.css?version=%(v)s" rel="stylesheet" type="text/css" />
<link href="/themes/lite1/css/Sophos-Icons.css?version=%(v)s" rel="stylesheet" type="text/css" />
<script type="text/javascript" src="/javascript/lang/English/common.js?version=%(v)s"></script>
<script type="text/javascript" src="/javascript/jQueryYUI.js?v=%(v)s"></script>
</head>
<body class="userportal login">
<div id="login-container">
<img id="sophos-logo" src="/images/logo/logo.png?v=%(v)s" alt="Sophos">
<h2>User Portal</h2>
<form id="frmLogin" name="frmLogin" method="post" action="/userportal/Controller" autocomplete="off">
<input type="text" id="username" name="username" placeholder="Username">
<input type="password" id="password" name="password" placeholder="Password">
<input type="button" id="loginbutton" value="Sign in" onclick="Cyberoam.login();">
</form>
</div>
<script type="text/javascript">
Cyberoam.contextPath = "/userportal";
Cyberoam.language = "English";
Cyberoam.companyName = "Sophos Ltd";
</script>
</body>
</html>
""" % {"v": SOPHOS_VERSION}).encode()


def handle_sophos(sock, method, target, headers, addr):
    path = target.split("?")[0]
    if path in ("/", "/userportal", "/userportal/"):
        location = "https://%s/userportal/webpages/myaccount/login.jsp" % host_of(headers, addr)
        return 302, "Found", SOPHOS_HEADERS + [("Location", location), ("Content-Type", "text/html;charset=utf-8")], b""
    if path == "/userportal/webpages/myaccount/login.jsp":
        cookie = ("Set-Cookie", "JSESSIONID=%s; Path=/userportal; Secure; HttpOnly" % os.urandom(12).hex())
        return 200, "OK", SOPHOS_HEADERS + [("Content-Type", "text/html;charset=utf-8"), cookie], SOPHOS_LOGIN
    if path == "/javascript/lang/English/common.js":
        return 200, "OK", SOPHOS_HEADERS + [("Content-Type", "application/javascript")], b"var Cyberoam = Cyberoam || {};\n"
    return 404, "Not Found", SOPHOS_HEADERS + [("Content-Type", "text/html;charset=utf-8")], (
        b"<html><head><title>Error 404 Not Found</title></head><body><h2>HTTP ERROR 404</h2></body></html>\n")


# --- Microsoft IIS -------------------------------------------------------------------------------

IIS_WELCOME = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1" />
<title>IIS Windows Server</title>
<style type="text/css">
<!--
body {
\tcolor:#000000;
\tbackground-color:#0072C6;
\tmargin:0;
}

#container {
\tmargin-left:auto;
\tmargin-right:auto;
\ttext-align:center;
\t}

a img {
\tborder:none;
}

-->
</style>
</head>
<body>
<div id="container">
<a href="http://go.microsoft.com/fwlink/?linkid=66138&amp;clcid=0x409"><img src="%s" alt="IIS" width="960" height="600" /></a>
</div>
</body>
</html>"""
IIS_404 = b"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>
<title>404 - File or directory not found.</title>
<style type="text/css">
<!--
body{margin:0;font-size:.7em;font-family:Verdana, Arial, Helvetica, sans-serif;background:#EEEEEE;}
fieldset{padding:0 15px 10px 15px;}
h1{font-size:2.4em;margin:0;color:#FFF;}
h2{font-size:1.7em;margin:0;color:#CC0000;}
h3{font-size:1.2em;margin:10px 0 0 0;color:#000000;}
#header{width:96%;margin:0 0 0 0;padding:6px 2% 6px 2%;font-family:"trebuchet MS", Verdana, sans-serif;color:#FFF;
background-color:#555555;}
#content{margin:0 0 0 2%;position:relative;}
.content-container{background:#FFF;width:96%;margin-top:8px;padding:10px;position:relative;}
-->
</style>
</head>
<body>
<div id="header"><h1>Server Error</h1></div>
<div id="content">
 <div class="content-container"><fieldset>
  <h2>404 - File or directory not found.</h2>
  <h3>The resource you are looking for might have been removed, had its name changed, or is temporarily unavailable.</h3>
 </fieldset></div>
</div>
</body>
</html>
"""
# A 1x1 PNG: the welcome image's bytes do not matter to any check.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def iis_handler(version, image, listing):
    headers = [("Server", "Microsoft-IIS/%s" % version), ("X-Powered-By", "ASP.NET"), ("Date", None)]

    def handle(sock, method, target, request_headers, addr):
        base = [(n, v or http_date()) for n, v in headers]
        path = target.split("?")[0]
        host = host_of(request_headers, addr)
        if path in ("/", "/iisstart.htm"):
            page = (IIS_WELCOME % image).encode("latin-1")
            return 200, "OK", [("Content-Type", "text/html"), ("Accept-Ranges", "bytes"),
                               ("ETag", '"0b9f8b3c96cce1:0"'), ("Last-Modified", "Tue, 18 Jun 2013 15:46:09 GMT")] + base, page
        if path == "/" + image:
            return 200, "OK", [("Content-Type", "image/png"), ("Accept-Ranges", "bytes")] + base, PNG
        if listing and path == "/aspnet_client":
            return 301, "Moved Permanently", [("Content-Type", "text/html; charset=UTF-8"),
                                              ("Location", "http://%s/aspnet_client/" % host)] + base, (
                b'<head><title>Document Moved</title></head>\n<body><h1>Object Moved</h1>'
                b'This document may be found <a HREF="http://%s/aspnet_client/">here</a></body>' % host.encode())
        if listing and path == "/aspnet_client/":
            page = ('<html><head><title>%s - /aspnet_client/</title></head><body><H1>%s - /aspnet_client/</H1><hr>\r\n\r\n'
                    '<pre><A HREF="/">[To Parent Directory]</A><br><br> 6/18/2013  3:46 PM        &lt;dir&gt; '
                    '<A HREF="/aspnet_client/system_web/">system_web</A><br></pre><hr></body></html>' % (host, host))
            return 200, "OK", [("Content-Type", "text/html; charset=UTF-8")] + base, page.encode("latin-1")
        return 404, "Not Found", [("Content-Type", "text/html")] + base, IIS_404
    return handle


# --- bad input -----------------------------------------------------------------------------------

def handle_huge(sock, method, target, headers, addr):
    send(sock, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    first = b"<html><head><title>huge</title></head><body>"
    send(sock, b"%x\r\n%s\r\n" % (len(first), first))
    filler = b"<p>" + b"0123456789abcdef" * 4000 + b"</p>\n"
    chunk = b"%x\r\n%s\r\n" % (len(filler), filler)
    sent = 0
    while sent < ENDLESS_CAP:
        send(sock, chunk)
        sent += len(filler)
    raise Closed("endless body cap")


def make_bomb():
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1 << 20)
    parts = [compressor.compress(b"<html><head><title>bomb</title></head><body>")]
    for _ in range(BOMB_SIZE >> 20):
        parts.append(compressor.compress(zeros))
    parts.append(compressor.flush())
    bomb.append(b"".join(parts))
    bomb_ready.set()


def handle_gzip_bomb(sock, method, target, headers, addr):
    if not bomb_ready.wait(30):
        raise Closed("bomb not ready")
    return 200, "OK", [("Content-Type", "text/html"), ("Content-Encoding", "gzip")], bomb[0]


def handle_slow(sock, method, target, headers, addr):
    send(sock, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n")
    start = time.monotonic()
    for byte in b"<html><head><title>slow</title></head><body>" + b"." * 99955:
        if time.monotonic() - start > SLOW_MAX:
            break
        send(sock, bytes([byte]))
        time.sleep(1)
    raise Closed("slow body done")


LOOP = ["/", "/loop/a", "/loop/b"]


def handle_redirect_loop(sock, method, target, headers, addr):
    path = target.split("?")[0]
    nxt = LOOP[(LOOP.index(path) + 1) % len(LOOP)] if path in LOOP else "/"
    if nxt == "/loop/b":
        nxt = "http://%s/loop/b" % host_of(headers, addr)
    return 302, "Found", [("Location", nxt), ("Content-Type", "text/html")], b"<a href=\"%s\">moved</a>" % nxt.encode()


def handle_bad_headers(sock, method, target, headers, addr):
    body = b"<html><head><title>bad headers</title></head><body>bad headers</body></html>"
    head = (b"HTTP/1.1 200 OK\r\n"
            b"Server: lab-bad-headers\r\n"
            b"This line has no colon\r\n"
            b"X-Binary: \xff\xfe bytes \x01\x02\r\n"
            b" folded continuation of nothing\r\n"
            b"Bad Header Name: spaces in the name\r\n"
            b"Set-Cookie: no equals sign; Path=/\r\n"
            b"Set-Cookie: =no-name\r\n"
            b"X-Long: " + b"x" * 8000 + b"\r\n"
            b"Content-Type: text/html\r\n"
            b"Content-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % len(body))
    send(sock, head + body)
    raise Closed("sent")


def handle_bad_utf8(sock, method, target, headers, addr):
    body = (b"<html><head><meta charset=\"utf-8\"><title>caf\xe9 \xff\xfe \xc3\x28 broken</title></head>"
            b"<body>\xf0\x28\x8c\xbc \xed\xa0\x80 text <script src=\"/js/\xff.js\"></script></body></html>")
    return 200, "OK", [("Content-Type", "text/html; charset=utf-8"), ("Set-Cookie", "sess=\xff\xfe; Path=/")], body


def handle_http09(sock, method, target, headers, addr):
    if target.split("?")[0] == "/":
        body = b"<html><head><title>HTTP/0.9 server</title></head><body><script src=\"/app.js\"></script></body></html>"
        send(sock, b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    else:
        send(sock, b"<html><body>HTTP/0.9 answer: no status line, no headers</body></html>\n")
    raise Closed("sent")


HANDLERS = {
    "fortigate": handle_fortigate,
    "asa": handle_asa,
    "sophos": handle_sophos,
    "iis85": iis_handler("8.5", "iis-85.png", listing=True),
    "iis10": iis_handler("10.0", "iisstart.png", listing=False),
    "huge": handle_huge,
    "gzip-bomb": handle_gzip_bomb,
    "slow": handle_slow,
    "redirect-loop": handle_redirect_loop,
    "bad-headers": handle_bad_headers,
    "bad-utf8": handle_bad_utf8,
    "http09": handle_http09,
}


# --- server --------------------------------------------------------------------------------------

class Handler(socketserver.BaseRequestHandler):
    """One connection: the TLS handshake where the listener has TLS, one
    request, one answer."""

    def handle(self):
        server, sock, peer = self.server, self.request, self.client_address
        try:
            sock.settimeout(IDLE_TIMEOUT)
            if server.context is not None:
                try:
                    sock = server.context.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError) as exc:
                    log.info("%s %s:%d TLS handshake failed: %s", server.name, peer[0], peer[1], exc)
                    return
            method, target, headers = read_request(sock)
            status, reason, response_headers, body = HANDLERS[server.name](
                sock, method, target, headers, sock.getsockname()[0])
            respond(sock, status, reason, response_headers, body, method)
            log.info("%s %s:%d %s %s -> %d", server.name, peer[0], peer[1], method, target[:200], status)
        except Closed as exc:
            log.debug("%s %s:%d closed: %s", server.name, peer[0], peer[1], exc)
        finally:
            if sock is not self.request:
                try:
                    sock.close()
                except OSError:
                    pass


class Listener(socketserver.ThreadingTCPServer):
    """A listener of one mimic; all listeners share the connection limit."""

    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, name, addr, port, context):
        self.name, self.context = name, context
        super().__init__((addr, port), Handler)

    def verify_request(self, request, client_address):
        if slots.acquire(blocking=False):
            return True
        log.warning("%s: connection limit reached, closing %s:%d", self.name, *client_address)
        return False

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            slots.release()

    def handle_error(self, request, client_address):
        # A bug in a handler must not stop the listener.
        log.exception("%s %s:%d handler error", self.name, *client_address)


def probe(name, addr, port, tls, ca):
    """One request; True when the listener answers as it should."""
    raw = socket.create_connection((addr, port), timeout=3)
    try:
        sock = raw
        if tls:
            context = ssl.create_default_context(cafile=ca)
            sock = context.wrap_socket(raw, server_hostname="%s.web.test" % name)
        path = "/remote/login" if name == "fortigate" else "/"
        sock.sendall(("GET %s HTTP/1.1\r\nHost: %s.web.test\r\nConnection: close\r\n\r\n" % (path, name)).encode())
        data = sock.recv(4096)
        if name == "http09":
            return data.startswith(b"HTTP/1.0 200")
        if name == "redirect-loop":
            return data.startswith(b"HTTP/1.1 302")
        if name == "sophos":
            return data.startswith(b"HTTP/1.1 302") and b"/userportal/" in data
        return data.startswith(b"HTTP/1.1 200")
    finally:
        raw.close()


def check_all(ca):
    ok = True
    for name, addr, port, tls in LISTENERS:
        try:
            up = probe(name, addr, port, tls, ca)
        except (OSError, ssl.SSLError):
            up = False
        ok = ok and up
        print("%s %s:%d %s" % (name, addr, port, "up" if up else "DOWN"))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", action="store_true", help="print the listeners and exit")
    ap.add_argument("--check", action="store_true", help="probe every listener, one line each")
    ap.add_argument("--ca", help="lab CA (PEM) for --check")
    ap.add_argument("--tls-dir", help="directory with NAME.pem and NAME.key for the HTTPS mimics")
    ap.add_argument("--log", help="request log file")
    ap.add_argument("--pidfile", help="written once every listener is bound")
    args = ap.parse_args()
    if args.list:
        for name, addr, port, tls in LISTENERS:
            print(name, addr, port, "tls" if tls else "plain")
        return 0
    if args.check:
        return check_all(args.ca)
    if not args.log or not args.tls_dir:
        ap.error("--log and --tls-dir are required")

    # Signals are taken synchronously: every thread inherits the mask and
    # the main thread waits for one.
    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    log_file = logging.handlers.RotatingFileHandler(args.log, maxBytes=10 << 20, backupCount=1)
    log_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(log_file)
    log.setLevel(logging.INFO)
    threading.Thread(target=make_bomb, daemon=True).start()

    listeners = []
    for name, addr, port, tls in LISTENERS:
        context = None
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(os.path.join(args.tls_dir, name + ".pem"),
                                    os.path.join(args.tls_dir, name + ".key"))
        try:
            listeners.append(Listener(name, addr, port, context))
        except OSError as exc:
            sys.exit("web_responders.py: cannot bind %s:%d (%s): %s" % (addr, port, name, exc))
        log.info("listening on %s:%d (%s)", addr, port, name)
    for listener in listeners:
        threading.Thread(target=listener.serve_forever, daemon=True).start()

    if args.pidfile:
        staged = pathlib.Path(args.pidfile + ".tmp")
        staged.write_text("%d\n" % os.getpid())
        staged.replace(args.pidfile)
    received = signal.sigwait(stop)
    log.info("signal %d, stopping", received)
    for listener in listeners:
        listener.server_close()
    log_file.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
