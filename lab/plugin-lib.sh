# Helpers shared by the service plug-ins in lab/services/. Sourced after
# lab/lib.sh by each plug-in; not run on its own.
# shellcheck shell=bash
# shellcheck disable=SC2034,SC2016

PLUGIN="$(basename "$0")"
PDIR="$STATE/$PLUGIN"

# The distribution interpreter, as lab/up uses it.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON="$(command -v python3 || echo python3)"

die() { echo "lab/services/$PLUGIN: $*" >&2; exit 1; }
note() { echo "lab/services/$PLUGIN: $*" >&2; }

# need PROGRAM=PACKAGE ...: exits 2 naming the Debian packages to install when
# a program is missing. PROGRAM is a name looked up on PATH or an absolute path.
need() {
  local item prog pkg missing=() seen=" "
  for item in "$@"; do
    prog="${item%%=*}" pkg="${item#*=}"
    if [[ $prog == /* ]]; then [ -x "$prog" ] && continue; else command -v "$prog" >/dev/null 2>&1 && continue; fi
    case "$seen" in *" $pkg "*) ;; *) missing+=("$pkg"); seen+="$pkg " ;; esac
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    cat >&2 <<EOF
lab/services/$PLUGIN: missing program(s); install these Debian packages:
  ${missing[*]}
e.g.  apt-get install --no-install-recommends ${missing[*]}
(scripts/test installs them and keeps the distribution's own instances from starting)
EOF
    exit 2
  fi
}

# True when PID belongs to this lab: its command line names $STATE or its
# working directory is under $STATE (daemons such as postfix's master and
# redis rewrite their process title but stay in their state directory).
lab_owned() { # pid
  local pid="$1" cwd
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$STATE/" && return 0
  cwd="$(readlink "/proc/$pid/cwd" 2>/dev/null)" || return 1
  case "$cwd/" in "$STATE/"*) return 0 ;; esac
  return 1
}

# Prints the pid recorded in PIDFILE (first line) when that process runs and
# belongs to this lab.
pid_from() { # pidfile
  local pid
  [ -s "$1" ] || return 1
  pid="$(head -n 1 "$1" 2>/dev/null | tr -dc '0-9')"
  [ -n "$pid" ] && lab_owned "$pid" || return 1
  printf '%s\n' "$pid"
}

# True while PID exists and has not exited. An exited daemon stays a zombie
# until its parent (often init) reaps it, which can take seconds.
running() { # pid
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$stat" ] || return 1
  stat="${stat##*) }"
  [ "${stat%% *}" != Z ]
}
gone() { ! running "$1"; }

# Stops the process recorded in PIDFILE (signal, then up to 10 s, then KILL)
# and removes the pid file. Only a lab-owned process is signalled.
stop_pidfile() { # label pidfile [signal]
  local label="$1" pf="$2" sig="${3:-TERM}" pid
  if pid="$(pid_from "$pf")"; then
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      running "$pid" || break
      sleep 0.1
    done
    if running "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
    echo "  stopped $label (pid $pid)"
  fi
  rm -f "$pf"
}

# Fails with the owner of the port when ADDR:PORT cannot be bound (a
# distribution instance listening on 0.0.0.0 or [::] would be reported here).
port_free() { # address port tcp|udp|both label
  local addr="$1" port="$2" proto="${3:-tcp}" label="${4:-$PLUGIN}" err
  if ! err="$("$PYTHON" - "$addr" "$port" "$proto" 2>&1 <<'EOF'
import socket, sys
addr, port, proto = sys.argv[1], int(sys.argv[2]), sys.argv[3]
kinds = {"tcp": [socket.SOCK_STREAM], "udp": [socket.SOCK_DGRAM]}.get(proto, [socket.SOCK_STREAM, socket.SOCK_DGRAM])
for kind in kinds:
    s = socket.socket(socket.AF_INET, kind)
    if kind == socket.SOCK_STREAM:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((addr, port))
    except OSError as e:
        print(e)
        sys.exit(1)
    finally:
        s.close()
EOF
  )"; then
    note "cannot bind $addr:$port/$proto for $label: $err"
    ss -Hlntup 2>/dev/null | awk -v p=":$port" '$5 ~ p"$"' | sed 's/^/    held by: /' >&2 || true
    note "a distribution default instance (systemd unit) may hold it; stop that instance and run lab/up again"
    exit 1
  fi
}

# Some daemons (named, samba, postfix) only use addresses configured on an
# interface. Adds ADDR/32 to lo when missing and records it for down.
ensure_lo_addr() { # address
  ip -4 -o addr show dev lo | grep -qF " inet $1/" && return 0
  ip addr add "$1/32" dev lo || die "cannot add $1/32 to lo (run as root)"
  echo "$1" >>"$PDIR/added-addresses"
}

remove_lo_addrs() {
  [ -s "$PDIR/added-addresses" ] || return 0
  local a
  while read -r a; do
    [ -n "$a" ] || continue
    ip addr del "$a/32" dev lo 2>/dev/null && echo "  removed $a from lo" || true
  done <"$PDIR/added-addresses"
  rm -f "$PDIR/added-addresses"
}

# Writes stdin to FILE only when the content differs, so an unchanged
# configuration keeps its time stamp (Postfix takes seconds longer to start
# right after main.cf changed).
write_if_changed() { # file
  local tmp="$1.new"
  cat >"$tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then
    rm -f "$tmp"
  else
    mv "$tmp" "$1"
  fi
}

# Runs a check until it succeeds or SECONDS elapse.
# Whether the page at url (fetched with the extra curl arguments) contains
# the pattern.
answers() { # url grep-pattern [curl args...]
  local url="$1" pattern="$2" body
  shift 2
  # Read the whole answer first: `grep -q` stops at the first match, and
  # under pipefail the curl it cut off would fail the check.
  body=$(curl -sS --max-time 5 "$@" "$url" 2>/dev/null) || return 1
  grep -q -- "$pattern" <<<"$body"
}

wait_until() { # seconds command...
  local end=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.1
  done
}

# Starts a foreground daemon detached from the terminal and records its pid.
spawn() { # pidfile logfile command...
  local pf="$1" log="$2"
  shift 2
  setsid "$@" </dev/null >>"$log" 2>&1 9>&- &
  echo "$!" >"$pf"
}

# --- endpoint checks (loopback only, each bounded by a short timeout) ---------

# First line sent by the server matches the extended regex.
banner_ok() { # address port regex
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1; IFS= read -r -t 2 line <&3 || exit 1; [[ $line =~ $3 ]]' \
    _ "$1" "$2" "$3" 2>/dev/null
}

# Sends bytes (printf format) at once, then a line of the answer (up to 50
# lines are read) matches the regex.
reply_ok() { # address port printf-format regex
  timeout 4 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1; printf "$3" >&3
    for _ in $(seq 50); do IFS= read -r -t 2 line <&3 || exit 1; [[ $line =~ $4 ]] && exit 0; done; exit 1' \
    _ "$1" "$2" "$3" "$4" 2>/dev/null
}

# Reads the greeting line, sends bytes (printf format), then a line of the
# answer (up to 50 lines are read) matches the regex.
chat_ok() { # address port printf-format regex
  timeout 4 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1; IFS= read -r -t 2 line <&3 || exit 1; printf "$3" >&3
    for _ in $(seq 50); do IFS= read -r -t 2 line <&3 || exit 1; [[ $line =~ $4 ]] && exit 0; done; exit 1' \
    _ "$1" "$2" "$3" "$4" 2>/dev/null
}

# Status line of one endpoint; sets st_rc=1 when the check fails.
st_rc=0
endpoint() { # label endpoint check-command...
  local label="$1" ep="$2"
  shift 2
  if "$@"; then
    printf '  %-32s %-26s up\n' "$PLUGIN: $label" "$ep"
  else
    printf '  %-32s %-26s DOWN\n' "$PLUGIN: $label" "$ep"
    st_rc=1
  fi
}

# --- certificates from the lab CA ----------------------------------------------

# Issues (or reuses) a serverAuth certificate signed by the lab CA of lab/up.
# Writes $PDIR/tls/NAME.pem (the leaf; the root is $STATE/ca.pem) and
# $PDIR/tls/NAME.key.
lab_cert() { # name "SAN list" (e.g. "DNS:a.test, IP:127.10.20.1")
  local name="$1" san="$2" d="$PDIR/tls"
  [ -s "$STATE/ca.pem" ] && [ -s "$STATE/tls/ca.key" ] ||
    die "the lab CA ($STATE/ca.pem) is missing: start the lab with lab/up, which creates it"
  mkdir -p "$d"
  if [ -s "$d/$name.pem" ] && [ -s "$d/$name.key" ] &&
     openssl verify -CAfile "$STATE/ca.pem" "$d/$name.pem" >/dev/null 2>&1 &&
     openssl x509 -in "$d/$name.pem" -noout -checkend 86400 >/dev/null 2>&1; then
    return 0
  fi
  cat >"$d/$name-ext.cnf" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF
  # The subject CN is the first SAN entry.
  openssl req -new -nodes -sha256 \
    -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$d/$name.key" -out "$d/$name.csr" \
    -subj "/O=Kagami Lab/CN=$(sed 's/^[A-Z]*:\([^,]*\).*/\1/' <<<"$san")" -config /dev/null 2>/dev/null ||
    die "openssl: cannot create the key for $name"
  openssl x509 -req -sha256 -days 365 -in "$d/$name.csr" \
    -CA "$STATE/ca.pem" -CAkey "$STATE/tls/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -extfile "$d/$name-ext.cnf" -out "$d/$name.pem" 2>/dev/null ||
    die "openssl: cannot sign the certificate for $name"
  chmod 644 "$d/$name.pem"
  chmod 600 "$d/$name.key"
}

# The usual entry point: plugin_main "$@" after defining do_up, do_down and
# do_status.
plugin_main() {
  case "${1:-}" in
    up) mkdir -p "$PDIR"; do_up ;;
    down) [ -d "$PDIR" ] || exit 0; do_down ;;
    status) st_rc=0; do_status; exit "$st_rc" ;;
    *) echo "usage: lab/services/$PLUGIN up|down|status" >&2; exit 64 ;;
  esac
}
