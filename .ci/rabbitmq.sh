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
# rabbitmq_amqp_uri, and _rmq_* helpers); it sets no shell option and no variable. The functions work under
# 'set -euo pipefail' and return non-zero on failure.
#
# Settings (environment, read at each call):
#   RABBITMQ_DIR        state, logs, config, pid files, Erlang cookie   (default: <repo>/.rabbitmq, gitignored)
#   RABBITMQ_PORT       AMQP port on 127.0.0.1                          (default 5673, not the usual 5672)
#   RABBITMQ_DIST_PORT  Erlang distribution port on 127.0.0.1           (default 25673)
#   RABBITMQ_EPMD_PORT  port of the node's own epmd on 127.0.0.1        (default 4370, not the usual 4369)
# The node is oqbench@localhost; user guest/guest, which RabbitMQ accepts from loopback connections only.
#
# Ownership: start records the process-group leader of the node in $RABBITMQ_DIR/pid and that of the epmd it
# starts in $RABBITMQ_DIR/epmd.pid; both carry OQBENCH_RABBITMQ_DIR=$RABBITMQ_DIR in their environment, and stop
# signals only processes that carry it, so it never touches a RabbitMQ or epmd that it did not start.

_RMQ_NODENAME=oqbench@localhost
_RMQ_LOOPBACK_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'

_rmq_repo_root() { (cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd); }
_rmq_dir() { printf '%s\n' "${RABBITMQ_DIR:-$(_rmq_repo_root)/.rabbitmq}"; }
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

# Runs "$@" (in a subshell) with the node's environment and nothing else of RabbitMQ's from the caller's.
_rmq_with_env() {
  local dir port dist epmd
  dir=$(_rmq_dir); port=$(_rmq_port); dist=$(_rmq_dist_port); epmd=$(_rmq_epmd_port)
  (
    while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(RABBITMQ_|ERL_)' || true)
    export OQBENCH_RABBITMQ_DIR="$dir"
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
  _rmq_with_env "$sbin/rabbitmqctl" -n "$_RMQ_NODENAME" "$@"
}

# _rmq_ours PID DIR: PID is alive (not a zombie) and carries our marker for DIR in its environment.
_rmq_ours() {
  local pid=$1 dir=$2 stat
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  stat=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
  [[ "$stat" != Z* ]] || return 1
  tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qxF "OQBENCH_RABBITMQ_DIR=$dir"
}

# _rmq_group_members PGID DIR: live members of process group PGID that carry our marker.
_rmq_group_members() {
  local pgid=$1 dir=$2 pid
  [[ "$pgid" =~ ^[0-9]+$ ]] || return 0
  for pid in $(ps -e -o pid=,pgid= | awk -v g="$pgid" '$2 == g { print $1 }'); do
    if _rmq_ours "$pid" "$dir"; then echo "$pid"; fi
  done
}

# _rmq_stop_group PIDFILE NAME DIR: SIGTERM our members of the recorded process group, wait up to 30 s, SIGKILL.
_rmq_stop_group() {
  local pidfile=$1 name=$2 dir=$3 pgid members i
  [ -f "$pidfile" ] || return 0
  pgid=$(cat "$pidfile" 2>/dev/null)
  members=$(_rmq_group_members "$pgid" "$dir")
  if [ -n "$members" ]; then
    echo "==> stopping $name (process group $pgid)"
    # shellcheck disable=SC2086
    kill -TERM $members 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
      members=$(_rmq_group_members "$pgid" "$dir")
      [ -z "$members" ] && break
      sleep 0.1
    done
    if [ -n "$members" ]; then
      echo "$name did not stop in 30 s; killing it" >&2
      # shellcheck disable=SC2086
      kill -KILL $members 2>/dev/null || true
      sleep 0.2
    fi
    wait "$pgid" 2>/dev/null || true   # reaps it when this shell started it
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

_rmq_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints whether our node runs; returns 0 when it does (and its AMQP port accepts connections), 3 otherwise.
rabbitmq_status() {
  local dir port pid epid
  dir=$(_rmq_dir); port=$(_rmq_port)
  pid=$(cat "$dir/pid" 2>/dev/null || true)
  epid=$(cat "$dir/epmd.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && [ -n "$(_rmq_group_members "$pid" "$dir")" ]; then
    if _rmq_port_open "$port"; then
      echo "RabbitMQ $_RMQ_NODENAME is running (process group $pid), AMQP on 127.0.0.1:$port ($(rabbitmq_amqp_uri)), dist port $(_rmq_dist_port), epmd 127.0.0.1:$(_rmq_epmd_port) (pid ${epid:-?}), data in $dir"
      return 0
    fi
    echo "RabbitMQ $_RMQ_NODENAME runs (process group $pid) but 127.0.0.1:$port does not accept connections (starting or stopping?); log in $dir/log"
    return 3
  fi
  if [ -n "$epid" ] && _rmq_ours "$epid" "$dir"; then
    echo "RabbitMQ is not running (its epmd, pid $epid, still is: rabbitmq.sh stop ends it); AMQP port would be 127.0.0.1:$port"
  else
    echo "RabbitMQ is not running (AMQP port would be 127.0.0.1:$port, data in $dir)"
  fi
  return 3
}

# Starts the node (and its own epmd) unless it already runs; waits until it has booted (60 s at most).
rabbitmq_start() {
  local dir port dist epmd_port sbin epmd pid epid p i started
  ensure_rabbitmq || return 1
  dir=$(_rmq_dir); port=$(_rmq_port); dist=$(_rmq_dist_port); epmd_port=$(_rmq_epmd_port)
  sbin=$(_rmq_sbin) && epmd=$(_rmq_epmd) || return 1
  started=$(date +%s)

  pid=$(cat "$dir/pid" 2>/dev/null || true)
  if [ -n "$pid" ] && [ -n "$(_rmq_group_members "$pid" "$dir")" ]; then
    echo "==> RabbitMQ already running (process group $pid); waiting for 127.0.0.1:$port"
  else
    rm -f "$dir/pid"
    for p in "$port" "$dist"; do
      if _rmq_port_open "$p"; then
        echo "127.0.0.1:$p is already in use by something this script did not start; stop it or set RABBITMQ_PORT / RABBITMQ_DIST_PORT" >&2
        return 1
      fi
    done
    _rmq_write_config "$dir" "$port" || return 1

    # Our own epmd on 127.0.0.1 only, in its own process group; the node and rabbitmqctl find it through
    # ERL_EPMD_PORT and so never start one of their own (which would daemonize out of our reach).
    epid=$(cat "$dir/epmd.pid" 2>/dev/null || true)
    if [ -z "$epid" ] || ! _rmq_ours "$epid" "$dir"; then
      if _rmq_port_open "$epmd_port"; then
        echo "127.0.0.1:$epmd_port (epmd) is already in use by something this script did not start; set RABBITMQ_EPMD_PORT" >&2
        return 1
      fi
      echo "==> starting epmd on 127.0.0.1:$epmd_port"
      _rmq_with_env _rmq_spawn "$dir/epmd.pid" "$dir/log/epmd.log" "$epmd" -address 127.0.0.1 -port "$epmd_port" || return 1
      epid=$(cat "$dir/epmd.pid")
      for ((i = 0; i < 100; i++)); do
        _rmq_port_open "$epmd_port" && break
        _rmq_ours "$epid" "$dir" || break
        sleep 0.1
      done
      if ! _rmq_port_open "$epmd_port"; then
        echo "epmd did not start (see $dir/log/epmd.log)" >&2
        _rmq_stop_group "$dir/epmd.pid" epmd "$dir"
        return 1
      fi
    fi

    echo "==> starting RabbitMQ $_RMQ_NODENAME on 127.0.0.1:$port (dist 127.0.0.1:$dist, data in $dir)"
    : > "$dir/log/console.log"
    _rmq_with_env _rmq_spawn "$dir/pid" "$dir/log/console.log" "$sbin/rabbitmq-server" || {
      _rmq_stop_group "$dir/epmd.pid" epmd "$dir"; return 1; }
    pid=$(cat "$dir/pid")
  fi

  for ((i = 0; i < 600; i++)); do
    _rmq_port_open "$port" && break
    if [ -z "$(_rmq_group_members "$pid" "$dir")" ]; then
      echo "RabbitMQ exited before 127.0.0.1:$port opened; last lines of its logs:" >&2
      break
    fi
    sleep 0.1
  done
  if ! _rmq_port_open "$port"; then
    echo "RabbitMQ is not listening on 127.0.0.1:$port after 60 s; last lines of its logs:" >&2
    tail -n 30 "$dir/log/console.log" "$dir/log/$_RMQ_NODENAME.log" >&2 2>/dev/null || true
    rabbitmq_stop >&2 || true
    return 1
  fi
  # The listener opens near the end of the boot; await_startup waits for the rest of it.
  if ! _rmq_with_env timeout 70 "$sbin/rabbitmqctl" -n "$_RMQ_NODENAME" await_startup --timeout 60 \
      >/dev/null 2>"$dir/log/await_startup.err"; then
    echo "warning: rabbitmqctl await_startup failed (the AMQP port is open):" >&2
    cat "$dir/log/await_startup.err" >&2
  fi
  echo "==> RabbitMQ ready on 127.0.0.1:$port in $(( $(date +%s) - started )) s ($(rabbitmq_amqp_uri))"
}

# Stops only what rabbitmq_start started: rabbitmqctl stop, then SIGTERM/SIGKILL of the recorded process group,
# then the epmd it started.
rabbitmq_stop() {
  local dir pid sbin
  dir=$(_rmq_dir)
  pid=$(cat "$dir/pid" 2>/dev/null || true)
  if [ -n "$pid" ] && [ -n "$(_rmq_group_members "$pid" "$dir")" ]; then
    echo "==> rabbitmqctl stop ($_RMQ_NODENAME)"
    if ! { sbin=$(_rmq_sbin) && _rmq_with_env timeout 40 "$sbin/rabbitmqctl" -n "$_RMQ_NODENAME" stop \
        >/dev/null 2>"$dir/log/stop.err"; }; then
      echo "rabbitmqctl stop failed; signalling the process group instead" >&2
    fi
  fi
  _rmq_stop_group "$dir/pid" RabbitMQ "$dir"
  _rmq_stop_group "$dir/epmd.pid" epmd "$dir"
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
