# Shared by .ci/start and .ci/test. Bash functions only; sourcing it has no side effects.

repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }

# Installs Azurite (pinned in package.json / package-lock.json) into node_modules when missing.
ensure_node_tools() {
  if [ ! -x node_modules/.bin/azurite ]; then
    echo "==> npm ci (Azurite)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

# wait_for_port PORT SECONDS [PID]: waits until 127.0.0.1:PORT accepts connections.
wait_for_port() {
  local port=$1 seconds=$2 pid=${3:-} i
  for ((i = 0; i < seconds * 10; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      echo "process $pid exited before port $port opened" >&2; return 1
    fi
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$port after ${seconds}s" >&2
  return 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_ports N: prints N distinct 127.0.0.1 ports (20000-52767) that nothing listens on, one a line.
free_ports() {
  local count=$1 port i chosen=" "
  for ((i = 0; i < count * 100 && $(wc -w <<<"$chosen") < count; i++)); do
    port=$((20000 + RANDOM))
    if [[ "$chosen" != *" $port "* ]] && ! port_in_use "$port"; then chosen+="$port "; fi
  done
  [ "$(wc -w <<<"$chosen")" -eq "$count" ] || { echo "no $count free ports found" >&2; return 1; }
  tr ' ' '\n' <<<"${chosen# }" | sed '/^$/d'
}

# stop_pid PID NAME: SIGTERM, wait up to 30 s, then SIGKILL.
stop_pid() {
  local pid=$1 name=$2 i
  kill -0 "$pid" 2>/dev/null || return 0
  echo "==> stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    if ! kill -0 "$pid" 2>/dev/null || [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" == Z* ]]; then
      wait "$pid" 2>/dev/null || true
      return 0
    fi
    sleep 0.1
  done
  echo "$name did not stop in 30 s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

# stop_azurite PID LOG: Azurite saves its data and logs "... successfully closed" for each service on SIGTERM,
# but its process does not always exit afterwards; once all three services say so, it is safe to kill it.
stop_azurite() {
  local pid=$1 log=$2 i
  kill -0 "$pid" 2>/dev/null || return 0
  echo "==> stopping Azurite (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    if ! kill -0 "$pid" 2>/dev/null || [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" == Z* ]]; then
      wait "$pid" 2>/dev/null || true
      return 0
    fi
    if [ "$(grep -c 'successfully closed' "$log" 2>/dev/null)" -ge 3 ]; then break; fi
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
