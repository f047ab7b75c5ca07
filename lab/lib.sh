# Shared definitions for lab/up, lab/down and lab/status. Sourced, not run.
# shellcheck shell=bash
# Arrays defined here are used by the scripts that source this file.
# shellcheck disable=SC2034

LAB_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LAB_SRC/.." && pwd)"
STATE="${KAGAMI_LAB_DIR:-$REPO_ROOT/target/lab}"

# named and friends live in /usr/sbin on Debian, which is not always on PATH.
PATH="$PATH:/usr/sbin:/sbin"
export PATH

NS1_V4=127.10.0.53
NS1_V6=::1
NS2_V4=127.10.0.54
FAULT_MALFORMED=127.10.0.55
FAULT_TIMEOUT=127.10.0.56
FAULT_SERVFAIL=127.10.0.57
CT_ADDR=127.10.0.80

# Every IPv4 address the lab binds.
LAB_V4_ADDRS=("$NS1_V4" "$NS2_V4" "$FAULT_MALFORMED" "$FAULT_TIMEOUT" "$FAULT_SERVFAIL" "$CT_ADDR")

# Zones served by named; bench.test is generated under $STATE at start.
LAB_ZONES=(
  axfr-open.test axfr-closed.test wildcard.test wildcard-cname.test
  dangling.test cloudhost.test mail-good.test spf-none.test
  spf-plusall.test spf-neutral.test spf-toomany.test spf-syntax.test
  spf-void.test spf-redirect.test spf-multiple.test spf-softfail.test
  blocklisted.test dnsbl.test bench.test services.test tls.test
  portbench.test farbench.test web.test
)

# Services managed by the lab: name -> pid file.
LAB_SERVICES=(named dns-faults ct-server)

pidfile_of() { printf '%s/%s.pid\n' "$STATE" "$1"; }

zonefile_of() {
  if [ "$1" = bench.test ]; then
    printf '%s/zones/bench.test.zone\n' "$STATE"
  else
    printf '%s/zones/%s.zone\n' "$LAB_SRC" "$1"
  fi
}

# Prints the pid of a running lab service, or nothing. A pid only counts when
# the process's command line mentions this lab's state directory, so a stale
# pid file whose number was reused by an unrelated process is ignored.
service_pid() {
  local pf pid
  pf="$(pidfile_of "$1")"
  [ -s "$pf" ] || return 1
  pid="$(tr -dc '0-9' <"$pf")"
  [ -n "$pid" ] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$STATE" || return 1
  printf '%s\n' "$pid"
}

# True when IPv6 loopback (::1) is configured and bindable.
ipv6_loopback_ok() {
  ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128' || return 1
  python3 - <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
try:
    s.bind(("::1", 0))
except OSError:
    sys.exit(1)
EOF
}

# True when lab/up enabled the IPv6 listener at its last start (the marker is
# rewritten by every start of named).
ipv6_enabled() { [ -f "$STATE/ipv6-enabled" ]; }

dig_ok() { # server name [type]
  dig +time=1 +tries=1 +norecurse +short "@$1" "$2" "${3:-SOA}" 2>/dev/null | grep -q .
}

tcp_ok() { # address port
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# UDP probe of a fault address: a reply of any kind proves the listener is up.
# (The timeout address never replies; it is probed over TCP only.)
fault_udp_ok() { # address
  dig +time=1 +tries=1 +norecurse "@$1" probe.test A 2>&1 | grep -qE 'status: SERVFAIL|Message parser reports malformed|got bad packet|FORMERR|unexpected end of input|Warning: Message parser'
}

check_service() { # name -> 0 when every endpoint of the service answers
  case "$1" in
    named)
      dig_ok "$NS1_V4" axfr-open.test && dig_ok "$NS2_V4" axfr-open.test || return 1
      if ipv6_enabled; then dig_ok "$NS1_V6" axfr-open.test || return 1; fi
      ;;
    dns-faults)
      tcp_ok "$FAULT_MALFORMED" 53 && tcp_ok "$FAULT_TIMEOUT" 53 && tcp_ok "$FAULT_SERVFAIL" 53 || return 1
      fault_udp_ok "$FAULT_SERVFAIL" && fault_udp_ok "$FAULT_MALFORMED" || return 1
      ;;
    ct-server)
      tcp_ok "$CT_ADDR" 80 && tcp_ok "$CT_ADDR" 443 || return 1
      ;;
    *) return 1 ;;
  esac
}

# One line per endpoint, as printed by lab/up and lab/status.
describe_service() { # name
  case "$1" in
    named)
      printf '  %-22s %s\n' "dns ns1 (primary)" "udp+tcp $NS1_V4:53 (AXFR of axfr-open.test allowed)"
      if ipv6_enabled; then
        printf '  %-22s %s\n' "dns ns1 (primary, v6)" "udp+tcp [$NS1_V6]:53 (AXFR of axfr-open.test allowed)"
      else
        printf '  %-22s %s\n' "dns ns1 (primary, v6)" "not started: IPv6 loopback unavailable"
      fi
      printf '  %-22s %s\n' "dns ns2 (secondary)" "udp+tcp $NS2_V4:53 (AXFR refused)"
      ;;
    dns-faults)
      printf '  %-22s %s\n' "dns fault: malformed" "udp+tcp $FAULT_MALFORMED:53"
      printf '  %-22s %s\n' "dns fault: timeout" "udp+tcp $FAULT_TIMEOUT:53"
      printf '  %-22s %s\n' "dns fault: servfail" "udp+tcp $FAULT_SERVFAIL:53"
      ;;
    ct-server)
      printf '  %-22s %s\n' "ct search (http)" "http://$CT_ADDR:80/?q=%25.DOMAIN&output=json"
      printf '  %-22s %s\n' "ct search (https)" "https://$CT_ADDR:443/ (CA $STATE/ca.pem)"
      ;;
  esac
}

# Stops one service by its pid file. Only a process whose command line names
# this lab's state directory is signalled.
stop_service() { # name
  local pid pf
  pf="$(pidfile_of "$1")"
  if pid="$(service_pid "$1")"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
    echo "  stopped $1 (pid $pid)"
  fi
  rm -f "$pf"
}

# Service plug-ins: every executable lab/services/<name> starts, stops and
# checks its own servers when called with up, down or status. Each keeps its
# state under $STATE/<name>/ and stops only what it started.
lab_plugins() {
  local plugin
  for plugin in "$LAB_SRC"/services/*; do
    [ -f "$plugin" ] && [ -x "$plugin" ] && printf '%s\n' "$plugin"
  done
  return 0
}
