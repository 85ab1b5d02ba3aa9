#!/usr/bin/env bash
# A private PostgreSQL cluster for OrleansQueue: a plain background server (no system service), its data under
# $POSTGRES_DIR, listening on 127.0.0.1 only, with PostgreSQL's default durability (fsync and synchronous_commit on)
# and pg_stat_statements loaded (CREATE EXTENSION pg_stat_statements in a database to read where its time goes).
#
#   bash .ci/postgres.sh start | stop | status | schema | url
#
# or, from another bash script:
#
#   source .ci/postgres.sh
#   postgres_start          # installs Debian's postgresql when missing, creates the cluster once, starts it, waits
#   ...                     # connect with "$(postgres_connection_string)"
#   postgres_stop
#
# Sourcing defines functions only (ensure_postgres, postgres_start, postgres_stop, postgres_status,
# postgres_connection_string and _pg_* helpers); it sets no shell option, trap or exported variable.
#
# Settings (environment, read at each call):
#   POSTGRES_DIR    the cluster's data folder, log and password file   (default: <repo>/.postgres, gitignored; as root
#                   with a checkout the 'postgres' user cannot reach, /var/tmp/orleansqueue-postgres-<hash of its path>)
#   POSTGRES_PORT   port on 127.0.0.1                                   (default 55432, not the usual 5432)
# Database "orleansqueue", user "orleansqueue", password in $POSTGRES_DIR/password (made at the first start).
#
# initdb and pg_ctl refuse to run as root: as root, they run as the unprivileged 'postgres' user (made by Debian's
# package), which owns the data folder. Installing the package may create and start a default cluster on port 5432;
# this script neither needs nor touches it (Debian's policy-rc.d keeps the package from starting a service here).
# stop signals only the server whose pid file is in $POSTGRES_DIR.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# As root, initdb and the server run as 'postgres', which must reach the folder: a checkout under a folder only root
# may enter (mktemp -d makes such) gets its cluster under /var/tmp instead, one per checkout path.
_pg_dir() {
  if [ -n "${POSTGRES_DIR:-}" ]; then printf '%s\n' "$POSTGRES_DIR"; return; fi
  local root
  root=$(repo_root)
  if [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$root" 2>/dev/null; then
    printf '/var/tmp/orleansqueue-postgres-%s\n' "$(printf '%s' "$root" | md5sum | cut -c1-12)"
  else
    printf '%s\n' "$root/.postgres"
  fi
}
_pg_port() { printf '%s\n' "${POSTGRES_PORT:-55432}"; }

# The server binaries: Debian keeps them in a versioned folder off the PATH.
_pg_bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then printf '%s\n' "$d"; return 0; fi
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then printf '%s\n' "$d"; return 0; fi
  done
  return 1
}

# Installs Debian's postgresql when the server binaries are missing, without starting a system service.
ensure_postgres() {
  _pg_bindir >/dev/null && return 0
  echo "==> installing postgresql (Debian package)" >&2
  local policy=/usr/sbin/policy-rc.d added=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && added=1
  fi
  local status=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 postgresql \
    || { apt-get update -q -o DPkg::Lock::Timeout=300 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      --no-install-recommends -o DPkg::Lock::Timeout=300 postgresql; } || status=$?
  [ -n "$added" ] && rm -f "$policy"
  [ "$status" -eq 0 ] || return "$status"
  _pg_bindir >/dev/null || { echo "postgresql installed, but no initdb/pg_ctl found" >&2; return 1; }
}

# _pg_as CMD...: runs CMD as the owner of the data folder (the 'postgres' user when we are root).
_pg_as() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

postgres_connection_string() {
  local dir password
  dir=$(_pg_dir)
  password=$(cat "$dir/password" 2>/dev/null) || { echo "no cluster in $dir: run postgres_start first" >&2; return 1; }
  printf 'Host=127.0.0.1;Port=%s;Database=orleansqueue;Username=orleansqueue;Password=%s\n' "$(_pg_port)" "$password"
}

_pg_psql() { # _pg_psql SQL: runs SQL as the superuser over the local socket of our cluster
  local bindir dir
  bindir=$(_pg_bindir); dir=$(_pg_dir)
  _pg_as "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/run" -p "$(_pg_port)" -U postgres -d postgres -c "$1"
}

postgres_status() {
  local dir bindir
  dir=$(_pg_dir)
  bindir=$(_pg_bindir) || { echo "postgresql is not installed"; return 3; }
  [ -f "$dir/data/PG_VERSION" ] || { echo "no cluster in $dir"; return 3; }
  _pg_as "$bindir/pg_ctl" -D "$dir/data" status
}

postgres_start() {
  ensure_postgres
  local dir bindir port
  dir=$(_pg_dir); bindir=$(_pg_bindir); port=$(_pg_port)
  if [ -f "$dir/data/postmaster.pid" ] && _pg_as "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    echo "==> PostgreSQL already runs for $dir on 127.0.0.1:$port" >&2
    return 0
  fi
  if port_in_use "$port"; then
    echo "127.0.0.1:$port is in use by something else; set POSTGRES_PORT to a free port" >&2
    return 1
  fi
  mkdir -p "$dir/run"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir" "$dir/run"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    echo "==> creating a PostgreSQL cluster in $dir/data" >&2
    local password
    password=$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')
    printf '%s\n' "$password" > "$dir/password"
    chmod 600 "$dir/password"
    # initdb: superuser 'postgres' over the local socket only (peer); TCP connections need a password (scram).
    _pg_as "$bindir/initdb" -D "$dir/data" -U postgres --auth-local=peer --auth-host=scram-sha-256 -E UTF8 \
      --locale=C >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/password" # readable by the owner only, like the data
  fi
  echo "==> starting PostgreSQL on 127.0.0.1:$port (data in $dir/data, log in $dir/postgres.log)" >&2
  # Default durability: nothing here turns fsync, synchronous_commit or full_page_writes off.
  [ "$(id -u)" -eq 0 ] && touch "$dir/postgres.log" && chown postgres: "$dir/postgres.log"
  _pg_as "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/run -c shared_preload_libraries=pg_stat_statements" start >/dev/null
  # The application role and database, once.
  local password
  password=$(cat "$dir/password")
  _pg_psql "DO \$\$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'orleansqueue') THEN
      CREATE ROLE orleansqueue LOGIN PASSWORD '$password';
    END IF; END \$\$;" >/dev/null
  if [ -z "$(_pg_as "$bindir/psql" -X -tA -h "$dir/run" -p "$port" -U postgres -d postgres \
      -c "SELECT 1 FROM pg_database WHERE datname = 'orleansqueue'")" ]; then
    _pg_psql "CREATE DATABASE orleansqueue OWNER orleansqueue" >/dev/null
  fi
}

postgres_stop() {
  local dir bindir
  dir=$(_pg_dir)
  bindir=$(_pg_bindir) || return 0
  [ -f "$dir/data/postmaster.pid" ] || return 0
  echo "==> stopping PostgreSQL ($dir)" >&2
  _pg_as "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null || true
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    start) postgres_start; postgres_connection_string ;;
    stop) postgres_stop ;;
    status) postgres_status ;;
    url) postgres_connection_string ;;
    schema)
      # The schema, through the silo host's idempotent 'schema' command (what a deployment runs too).
      cd "$(repo_root)"
      dotnet run --project silo-host -c Release -- schema --Storage:Provider=PostgreSql \
        "--Storage:ConnectionString=$(postgres_connection_string)" ;;
    *) echo "usage: $0 start | stop | status | schema | url" >&2; exit 2 ;;
  esac
fi
