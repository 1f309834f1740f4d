#!/usr/bin/env bash
# Throwaway PostgreSQL server on loopback for the sqlstore tests.
#
#   bash .ci/postgres.sh start [FILE]   # prints: export SKYVERN_TEST_POSTGRES_DSN=postgres://...
#                                       # (and writes that line to FILE, if given)
#   bash .ci/postgres.sh stop           # stops the server and removes its directory
#
# From a script under set -e (eval "$(...)" would hide a failed start):
#
#   trap 'bash .ci/postgres.sh stop' EXIT
#   pg_env=$(bash .ci/postgres.sh start)
#   eval "$pg_env"
#
# start installs Debian's postgresql package when no server binaries are found (root only),
# makes a new cluster in a temporary directory (as a non-root user: the server refuses to run
# as root), starts it on a free port of 127.0.0.1 with durability off (the data is thrown away),
# waits until it accepts connections and creates an empty database. Authentication is "trust":
# any local user can connect, which is acceptable for a disposable cluster and nothing else.
# Only the export line goes to standard output; progress goes to standard error.
#
# Environment: SKYVERN_PG_STATE (state file, default ${TMPDIR:-/tmp}/skyvern-go-postgres.state).
set -euo pipefail

state_file=${SKYVERN_PG_STATE:-${TMPDIR:-/tmp}/skyvern-go-postgres.state}
db_user=skyvern
db_name=skyvern_test

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# find_bindir prints the directory holding initdb and pg_ctl, preferring the newest Debian
# install (its binaries are not on PATH) over whatever PATH has.
find_bindir() {
  local dir
  dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  if [[ -n $dir && -x $dir/initdb && -x $dir/pg_ctl ]]; then
    printf '%s\n' "$dir"
    return 0
  fi
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    return 0
  fi
  return 1
}

install_postgres() {
  [[ $(id -u) -eq 0 ]] || die "PostgreSQL is not installed and installing it needs root (apt-get install postgresql)"
  log "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends postgresql >&2
}

# run_as runs a command as the cluster's owner: PostgreSQL refuses to run as root.
run_as() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u "$pg_os_user" -- "$@"
  else
    "$@"
  fi
}

pick_os_user() {
  if [[ $(id -u) -ne 0 ]]; then
    pg_os_user=$(id -un)
  elif id -u postgres >/dev/null 2>&1; then
    pg_os_user=postgres
  else
    pg_os_user=skyvern-pg
    if ! id -u "$pg_os_user" >/dev/null 2>&1; then
      log "creating system user $pg_os_user"
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$pg_os_user"
    fi
  fi
}

# The state file is parsed, not sourced, and must belong to us: it lives in a shared
# temporary directory.
save_state() {
  printf 'dir=%s\nbindir=%s\nuser=%s\nport=%s\n' "$1" "$2" "$3" "${4:-}" >"$state_file"
}

load_state() {
  [[ -O $state_file ]] || die "$state_file is not owned by $(id -un); remove it"
  state_dir='' state_bindir='' state_user='' state_port=''
  local k v
  while IFS='=' read -r k v; do
    case $k in
    dir) state_dir=$v ;;
    bindir) state_bindir=$v ;;
    user) state_user=$v ;;
    port) state_port=$v ;;
    esac
  done <"$state_file"
  pg_os_user=$state_user
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

dsn_line() {
  printf 'export SKYVERN_TEST_POSTGRES_DSN=postgres://%s@127.0.0.1:%s/%s?sslmode=disable\n' "$db_user" "$1" "$db_name"
}

emit() {
  local line
  line=$(dsn_line "$1")
  printf '%s\n' "$line"
  if [[ -n ${2:-} ]]; then
    printf '%s\n' "$line" >"$2"
  fi
}

start() {
  local out_file=${1:-}
  if [[ -f $state_file ]]; then
    load_state
    if [[ -d $state_dir ]] && run_as "$state_bindir/pg_ctl" -D "$state_dir/data" status >/dev/null 2>&1; then
      log "already running on port $state_port ($state_dir)"
      emit "$state_port" "$out_file"
      return 0
    fi
    log "removing stale state from an earlier run"
    stop
  fi

  local bindir
  if ! bindir=$(find_bindir); then
    install_postgres
    bindir=$(find_bindir) || die "initdb/pg_ctl still not found after installing postgresql"
  fi
  pick_os_user

  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/skyvern-pg.XXXXXX")
  chmod 0700 "$dir"
  if [[ $(id -u) -eq 0 ]]; then
    chown "$pg_os_user" "$dir"
  fi
  # Written before the server starts so that stop can clean up after a failed start.
  save_state "$dir" "$bindir" "$pg_os_user"

  log "initdb in $dir with $bindir ($("$bindir/pg_ctl" --version))"
  (cd "$dir" && run_as "$bindir/initdb" -D "$dir/data" -U "$db_user" --auth=trust \
    --encoding=UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1) ||
    { cat "$dir/initdb.log" >&2; die "initdb failed"; }

  local port attempt started=
  for attempt in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    if port_in_use "$port"; then
      continue
    fi
    if (cd "$dir" && run_as "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null); then
      started=1
      break
    fi
    log "start on port $port failed (attempt $attempt); server log:"
    tail -n 5 "$dir/server.log" >&2 || true
  done
  [[ -n $started ]] || die "could not start PostgreSQL"
  save_state "$dir" "$bindir" "$pg_os_user" "$port"

  local i
  for i in $(seq 1 100); do
    if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$db_user" -d postgres; then
      break
    fi
    [[ $i -lt 100 ]] || die "server on port $port does not accept connections"
    sleep 0.1
  done
  "$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$db_user" "$db_name"
  log "PostgreSQL ready on 127.0.0.1:$port, database $db_name"
  emit "$port" "$out_file"
}

stop() {
  if [[ ! -f $state_file ]]; then
    log "nothing to stop"
    return 0
  fi
  load_state
  if [[ -n $state_dir && -d $state_dir/data ]]; then
    (cd "$state_dir" && run_as "$state_bindir/pg_ctl" -D "$state_dir/data" -m fast -w -t 60 stop >/dev/null 2>&1) || true
  fi
  if [[ -n $state_dir && $state_dir == "${TMPDIR:-/tmp}"/skyvern-pg.* ]]; then
    rm -rf -- "$state_dir"
  fi
  rm -f -- "$state_file"
  log "stopped"
}

case ${1:-} in
start) start "${2:-}" ;;
stop) stop ;;
*)
  echo "usage: $0 start [ENV_FILE] | stop" >&2
  exit 2
  ;;
esac
