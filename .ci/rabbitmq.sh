#!/usr/bin/env bash
# A private RabbitMQ node for the benchmark's peer-broker comparison: a plain background process (no system
# service), all of its state under $RABBITMQ_DIR, everything bound to 127.0.0.1, no plugins (no management).
#
#   bash .ci/rabbitmq.sh start | stop | status | ctl ARGS...
#
# or, from another bash script:
#
#   source .ci/rabbitmq.sh
#   rabbitmq_start          # installs rabbitmq-server with apt-get when missing, starts the node, waits until ready
#   ...                     # AMQP at amqp://guest:guest@127.0.0.1:$RABBITMQ_PORT/ ($(rabbitmq_amqp_uri))
#   rabbitmq_stop
#
# Sourcing defines functions only (ensure_rabbitmq, rabbitmq_start, rabbitmq_stop, rabbitmq_status, rabbitmq_ctl,
# rabbitmq_amqp_uri, and _rmq_* helpers) and two constants (_RMQ_*); it sets no shell option, trap or exported
# variable. The functions work under 'set -euo pipefail' and return non-zero on failure.
#
# Settings (environment, read at each call):
#   RABBITMQ_DIR        state, logs, config, pid files, Erlang cookie   (default: <repo>/.rabbitmq, gitignored)
#   RABBITMQ_PORT       AMQP port on 127.0.0.1                          (default 5673, not the usual 5672)
#   RABBITMQ_DIST_PORT  Erlang distribution port on 127.0.0.1           (default 25673)
#   RABBITMQ_EPMD_PORT  port of the node's own epmd on 127.0.0.1        (default 4370, not the usual 4369)
# The node is oqbench@localhost; user guest/guest, which RabbitMQ accepts from loopback connections only.
#
# Ownership: start runs the node and its own epmd each in a new session (setsid), records their leaders' pids in
# $RABBITMQ_DIR/pid and $RABBITMQ_DIR/epmd.pid, and gives both OQBENCH_RABBITMQ=node:$RABBITMQ_DIR or
# OQBENCH_RABBITMQ=epmd:$RABBITMQ_DIR in their environment, which every process they spawn inherits (beam.smp,
# erl_child_setup and its port programs, which Erlang puts in sessions of their own). stop and status go by that
# tag: they never see or signal a RabbitMQ, epmd or other process that this script did not start.

# repo_root, port_in_use and wait_for_port, shared with .ci/start, .ci/test and .ci/bench (functions only).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

_RMQ_NODENAME=oqbench@localhost
_RMQ_LOOPBACK_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'

_rmq_dir() { printf '%s\n' "${RABBITMQ_DIR:-$(repo_root)/.rabbitmq}"; }
_rmq_port() { printf '%s\n' "${RABBITMQ_PORT:-5673}"; }
_rmq_dist_port() { printf '%s\n' "${RABBITMQ_DIST_PORT:-25673}"; }
_rmq_epmd_port() { printf '%s\n' "${RABBITMQ_EPMD_PORT:-4370}"; }

rabbitmq_amqp_uri() { printf 'amqp://guest:guest@127.0.0.1:%s/\n' "$(_rmq_port)"; }

# The directory of the real rabbitmq-server / rabbitmqctl scripts. Debian's /usr/sbin ones are wrappers that
# switch to the 'rabbitmq' user (and its HOME, so another Erlang cookie); the ones behind them run as we are.
_rmq_sbin() {
  local d
  for d in /usr/lib/rabbitmq/bin /usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin; do
    if [ -x "$d/rabbitmq-server" ] && [ -x "$d/rabbitmqctl" ]; then printf '%s\n' "$d"; return 0; fi
  done
  d=$(command -v rabbitmq-server 2>/dev/null) || return 1
  printf '%s\n' "$(dirname "$d")"
}

_rmq_epmd() {
  local e
  e=$(command -v epmd 2>/dev/null) && { printf '%s\n' "$e"; return 0; }
  for e in /usr/lib/erlang/bin/epmd /usr/lib/erlang/erts-*/bin/epmd; do
    if [ -x "$e" ]; then printf '%s\n' "$e"; return 0; fi
  done
  return 1
}

_rmq_apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o DPkg::Lock::Timeout=300 rabbitmq-server
}

# Installs Debian's rabbitmq-server when missing, without letting its postinst start a system service:
# /usr/sbin/policy-rc.d exiting 101 makes invoke-rc.d refuse to start anything. A policy-rc.d that already
# denies is left alone; any other one is set aside for the install and put back afterwards.
ensure_rabbitmq() {
  if _rmq_sbin >/dev/null && _rmq_epmd >/dev/null; then return 0; fi
  echo "==> apt-get install rabbitmq-server (no service start)"
  local policy=/usr/sbin/policy-rc.d created= saved= rc=0
  if [ -e "$policy" ] || [ -L "$policy" ]; then
    if [ -x "$policy" ] && { "$policy" rabbitmq-server start >/dev/null 2>&1; [ $? -eq 101 ]; }; then
      :  # already denies every start
    else
      saved="$policy.oqbench-saved.$$"
      mv "$policy" "$saved" || return 1
    fi
  fi
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# written by .ci/rabbitmq.sh for one apt-get install; removed afterwards\nexit 101\n' > "$policy" \
      && chmod 755 "$policy" && created=1
  fi
  if ! _rmq_apt_install; then
    echo "==> apt-get install failed; apt-get update and one more try"
    if apt-get update -q -o DPkg::Lock::Timeout=300; then _rmq_apt_install || rc=$?; else rc=$?; fi
  fi
  if [ -n "$created" ]; then rm -f "$policy"; fi
  if [ -n "$saved" ]; then mv "$saved" "$policy"; fi
  if [ "$rc" -ne 0 ]; then echo "apt-get install rabbitmq-server failed ($rc)" >&2; return "$rc"; fi
  if ! _rmq_sbin >/dev/null || ! _rmq_epmd >/dev/null; then
    echo "rabbitmq-server is installed but its scripts or epmd were not found" >&2; return 1
  fi
}

_rmq_write_config() {
  local dir=$1 port=$2
  mkdir -p "$dir/mnesia" "$dir/log" || return 1
  cat > "$dir/rabbitmq.conf" <<EOF
# written by .ci/rabbitmq.sh at each start
listeners.tcp.1 = 127.0.0.1:$port
listeners.ssl = none
vm_memory_high_watermark.relative = 0.4
log.console = false
log.file.level = info
EOF
  printf '[].\n' > "$dir/enabled_plugins"                      # no plugin at all, so no management listener
  : > "$dir/rabbitmq-env.conf"                                  # instead of /etc/rabbitmq/rabbitmq-env.conf
}

# _rmq_with_env ROLE CMD...: runs CMD (in a subshell) with the node's environment, nothing else of RabbitMQ's or
# Erlang's from the caller's, and the tag OQBENCH_RABBITMQ=ROLE:DIR (ROLE: node, epmd or ctl).
_rmq_with_env() {
  local role=$1 dir port dist epmd
  shift
  dir=$(_rmq_dir); port=$(_rmq_port); dist=$(_rmq_dist_port); epmd=$(_rmq_epmd_port)
  (
    while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(RABBITMQ_|ERL_)' || true)
    unset NOTIFY_SOCKET                                         # would make rabbitmq-server behave as under systemd
    unset OQBENCH_RABBITMQ
    export OQBENCH_RABBITMQ="$role:$dir"
    export HOME="$dir"                                          # $HOME/.erlang.cookie, shared by rabbitmqctl
    export RABBITMQ_NODENAME="$_RMQ_NODENAME" RABBITMQ_USE_LONGNAME=false
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$port" RABBITMQ_DIST_PORT="$dist"
    export ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$epmd"
    export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
    export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
    export RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"  # not written: none
    export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
    export RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log"
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="$_RMQ_LOOPBACK_ERL_ARGS"
    export RABBITMQ_CTL_ERL_ARGS="$_RMQ_LOOPBACK_ERL_ARGS"   # rabbitmqctl's own short-lived node: loopback too
    cd "$dir" || exit 1
    "$@"
  )
}

# rabbitmq_ctl ARGS...: rabbitmqctl against the private node, e.g. rabbitmq_ctl list_queues name messages
rabbitmq_ctl() {
  local sbin
  sbin=$(_rmq_sbin) || { echo "rabbitmq-server is not installed" >&2; return 1; }
  _rmq_with_env ctl "$sbin/rabbitmqctl" -n "$_RMQ_NODENAME" "$@"
}

# _rmq_procs ROLE DIR: pids of the live processes tagged OQBENCH_RABBITMQ=ROLE:DIR (zombies have no environment).
_rmq_procs() {
  local f pid
  while IFS= read -r f; do
    pid=${f#/proc/}; pid=${pid%/environ}
    if [[ "$pid" =~ ^[0-9]+$ ]] && [ "$pid" != "$$" ] && [ "$pid" != "${BASHPID:-$$}" ]; then echo "$pid"; fi
  done < <(grep -lszxF "OQBENCH_RABBITMQ=$1:$2" /proc/[0-9]*/environ 2>/dev/null || true)
  return 0
}

_rmq_comm() { cat "/proc/$1/comm" 2>/dev/null || true; }

# _rmq_stop_role ROLE NAME DIR PIDFILE: SIGTERM the recorded leader and the tagged beam.smp/epmd, wait up to 30 s
# for every tagged process to end, then SIGKILL what is left of them.
_rmq_stop_role() {
  local role=$1 name=$2 dir=$3 pidfile=$4 leader procs pid first i
  procs=$(_rmq_procs "$role" "$dir")
  if [ -n "$procs" ]; then
    leader=$(cat "$pidfile" 2>/dev/null || true)
    first=
    for pid in $procs; do
      # Only the leader (rabbitmq-server's sh, which stops beam.smp on SIGTERM) and the VM itself: beam.smp
      # stops gracefully on SIGTERM and ends its port programs; signalling those first would crash it.
      if [ "$pid" = "$leader" ] || [[ "$(_rmq_comm "$pid")" == beam.smp || "$(_rmq_comm "$pid")" == epmd ]]; then
        first+=" $pid"
      fi
    done
    echo "==> stopping $name (pids:${first:- $procs})"
    # shellcheck disable=SC2086
    kill -TERM ${first:-$procs} 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
      procs=$(_rmq_procs "$role" "$dir")
      [ -z "$procs" ] && break
      sleep 0.1
    done
    if [ -n "$procs" ]; then
      echo "$name did not stop in 30 s; killing pids $(echo $procs)" >&2
      # shellcheck disable=SC2086
      kill -KILL $procs 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        [ -z "$(_rmq_procs "$role" "$dir")" ] && break
        sleep 0.1
      done
    fi
    if [ -n "$leader" ]; then wait "$leader" 2>/dev/null || true; fi   # reaps it when this shell started it
  fi
  rm -f "$pidfile"
}

# _rmq_spawn PIDFILE LOG CMD...: runs CMD in a new session (own process group) in the background and records
# the pid of its leader, which is the pgid, in PIDFILE.
_rmq_spawn() {
  local pidfile=$1 log=$2 i
  shift 2
  rm -f "$pidfile" "$pidfile.tmp"
  setsid bash -c 'echo $$ > "$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$pidfile" "$@" < /dev/null >> "$log" 2>&1 &
  for ((i = 0; i < 100; i++)); do
    [ -s "$pidfile" ] && return 0
    sleep 0.05
  done
  echo "could not start $*" >&2
  return 1
}

# Whether an epmd answers on 127.0.0.1:PORT (asks it for its names, rather than open and drop a connection,
# which epmd logs as a "partial packet").
_rmq_epmd_up() {
  local epmd
  epmd=$(_rmq_epmd) || return 1
  ERL_EPMD_ADDRESS=127.0.0.1 "$epmd" -port "$1" -names >/dev/null 2>&1
}

# Prints whether our node runs; returns 0 when it does and its AMQP port accepts connections, 3 otherwise.
rabbitmq_status() {
  local dir port node epmd
  dir=$(_rmq_dir); port=$(_rmq_port)
  node=$(_rmq_procs node "$dir"); epmd=$(_rmq_procs epmd "$dir")
  if [ -n "$node" ]; then
    if port_in_use "$port"; then
      echo "RabbitMQ $_RMQ_NODENAME is running (pid $(cat "$dir/pid" 2>/dev/null || echo '?')), AMQP on 127.0.0.1:$port ($(rabbitmq_amqp_uri)), distribution on 127.0.0.1:$(_rmq_dist_port), epmd on 127.0.0.1:$(_rmq_epmd_port) (pid $(echo $epmd)), data in $dir"
      return 0
    fi
    echo "RabbitMQ $_RMQ_NODENAME runs (pids $(echo $node)) but 127.0.0.1:$port does not accept connections (starting or stopping?); logs in $dir/log"
    return 3
  fi
  if [ -n "$epmd" ]; then
    echo "RabbitMQ is not running, but its epmd is (pid $(echo $epmd); 'rabbitmq.sh stop' ends it); AMQP port would be 127.0.0.1:$port"
  else
    echo "RabbitMQ is not running (AMQP port would be 127.0.0.1:$port, data in $dir)"
  fi
  return 3
}

# Starts the node (and its own epmd) unless it already runs; waits until it has booted (60 s at most).
rabbitmq_start() {
  local dir port dist epmd_port sbin epmd p i started
  ensure_rabbitmq || return 1
  dir=$(_rmq_dir); port=$(_rmq_port); dist=$(_rmq_dist_port); epmd_port=$(_rmq_epmd_port)
  sbin=$(_rmq_sbin) && epmd=$(_rmq_epmd) || return 1
  started=$(date +%s)

  if [ -n "$(_rmq_procs node "$dir")" ]; then
    echo "==> RabbitMQ already running; waiting for 127.0.0.1:$port"
  else
    for p in "$port" "$dist"; do
      if port_in_use "$p"; then
        echo "127.0.0.1:$p is already in use by something this script did not start; stop it or set RABBITMQ_PORT / RABBITMQ_DIST_PORT" >&2
        return 1
      fi
    done
    _rmq_write_config "$dir" "$port" || return 1

    # Our own epmd on 127.0.0.1 only, in a session of its own; the node and rabbitmqctl find it through
    # ERL_EPMD_PORT and so never start one themselves (which would daemonize out of reach of stop).
    if [ -z "$(_rmq_procs epmd "$dir")" ]; then
      if port_in_use "$epmd_port"; then
        echo "127.0.0.1:$epmd_port (epmd) is already in use by something this script did not start; set RABBITMQ_EPMD_PORT" >&2
        return 1
      fi
      echo "==> starting epmd on 127.0.0.1:$epmd_port"
      _rmq_with_env epmd _rmq_spawn "$dir/epmd.pid" "$dir/log/epmd.log" "$epmd" -address 127.0.0.1 -port "$epmd_port" \
        || return 1
      for ((i = 0; i < 100; i++)); do
        _rmq_epmd_up "$epmd_port" && break
        [ -n "$(_rmq_procs epmd "$dir")" ] || break
        sleep 0.1
      done
      if ! _rmq_epmd_up "$epmd_port"; then
        echo "epmd did not start (see $dir/log/epmd.log)" >&2
        _rmq_stop_role epmd epmd "$dir" "$dir/epmd.pid"
        return 1
      fi
    fi

    echo "==> starting RabbitMQ $_RMQ_NODENAME on 127.0.0.1:$port (distribution 127.0.0.1:$dist, data in $dir)"
    : > "$dir/log/console.log"
    _rmq_with_env node _rmq_spawn "$dir/pid" "$dir/log/console.log" "$sbin/rabbitmq-server" || {
      _rmq_stop_role epmd epmd "$dir" "$dir/epmd.pid"; return 1; }
  fi

  if ! wait_for_port "$port" 60 "$(cat "$dir/pid" 2>/dev/null)"; then
    echo "RabbitMQ is not listening on 127.0.0.1:$port ($(( $(date +%s) - started )) s); last lines of its logs:" >&2
    tail -n 30 "$dir/log/console.log" "$dir/log/$_RMQ_NODENAME.log" >&2 2>/dev/null || true
    rabbitmq_stop >&2 || true
    return 1
  fi
  # The AMQP listener opens near the end of the boot; await_startup waits for the rest of it.
  if ! _rmq_with_env ctl timeout 70 "$sbin/rabbitmqctl" -n "$_RMQ_NODENAME" await_startup --timeout 60 \
      >/dev/null 2>"$dir/log/await_startup.err"; then
    echo "warning: rabbitmqctl await_startup failed (the AMQP port is open):" >&2
    cat "$dir/log/await_startup.err" >&2
  fi
  echo "==> RabbitMQ ready on 127.0.0.1:$port in $(( $(date +%s) - started )) s ($(rabbitmq_amqp_uri))"
}

# Stops only what rabbitmq_start started: rabbitmqctl stop, then SIGTERM and after 30 s SIGKILL of whatever of
# the node is left, then the same for its epmd.
rabbitmq_stop() {
  local dir sbin i
  dir=$(_rmq_dir)
  if [ -n "$(_rmq_procs node "$dir")" ]; then
    echo "==> rabbitmqctl stop ($_RMQ_NODENAME)"
    mkdir -p "$dir/log"
    if ! { sbin=$(_rmq_sbin) && _rmq_with_env ctl timeout 40 "$sbin/rabbitmqctl" -n "$_RMQ_NODENAME" stop \
        >/dev/null 2>"$dir/log/stop.err"; }; then
      echo "rabbitmqctl stop failed ($(head -c 300 "$dir/log/stop.err" 2>/dev/null)); signalling the node instead" >&2
    else
      # rabbitmqctl returns once the node has agreed to stop; the VM exits a moment later.
      for ((i = 0; i < 300; i++)); do
        [ -z "$(_rmq_procs node "$dir")" ] && break
        sleep 0.1
      done
    fi
  fi
  _rmq_stop_role node RabbitMQ "$dir" "$dir/pid"
  _rmq_stop_role epmd epmd "$dir" "$dir/epmd.pid"
  return 0
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  case "${1:-}" in
    start) rabbitmq_start ;;
    stop) rabbitmq_stop ;;
    status) rabbitmq_status ;;
    install) ensure_rabbitmq ;;
    ctl) shift; rabbitmq_ctl "$@" ;;
    *) echo "usage: $0 start|stop|status|install|ctl ARGS..." >&2; exit 2 ;;
  esac
fi
