# A throw-away PostgreSQL server for tests: source this file, then
#   dq_pg_start DIR PORT   # initdb (once) in DIR, start on 127.0.0.1:PORT, create database dq_test
#   dq_pg_stop DIR
# The server runs as the unprivileged user `postgres` (superuser role `postgres`, trust auth), so the
# test URI is postgresql://postgres@127.0.0.1:PORT/dq_test. Installs nothing; the caller provides the
# PostgreSQL server binaries (PG_BINDIR overrides where they are looked for).

dq_pg_bindir() {
    if [[ -n "${PG_BINDIR:-}" ]]; then
        echo "$PG_BINDIR"
        return 0
    fi
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [[ -z "$dir" ]] && command -v pg_config >/dev/null 2>&1; then
        dir=$(pg_config --bindir)
    fi
    if [[ -z "$dir" || ! -x "$dir/initdb" ]]; then
        echo "dq_pg: no PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin);" \
            "install the postgresql package or set PG_BINDIR" >&2
        return 1
    fi
    echo "$dir"
}

# Runs a command as the user that owns the cluster: `postgres` when we are root (initdb refuses
# root), else ourselves.
dq_pg_as() {
    if [[ $(id -u) -eq 0 ]]; then
        su postgres -s /bin/bash -c "$(printf '%q ' "$@")"
    else
        "$@"
    fi
}

dq_pg_start() {
    local dir=${1:?usage: dq_pg_start DIR PORT} port=${2:?usage: dq_pg_start DIR PORT}
    local bin
    bin=$(dq_pg_bindir) || return 1
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd)
    if [[ $(id -u) -eq 0 ]]; then
        if ! id postgres >/dev/null 2>&1; then
            useradd --system --no-create-home --shell /usr/sbin/nologin postgres || {
                echo "dq_pg: could not create the unprivileged user 'postgres'" >&2
                return 1
            }
        fi
        chown postgres "$dir" || return 1
    fi
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
        dq_pg_as "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-locale \
            >"$dir/initdb.log" 2>&1 || {
            echo "dq_pg: initdb failed in $dir/data; see $dir/initdb.log" >&2
            return 1
        }
    fi
    if ! dq_pg_as "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        dq_pg_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null || {
            echo "dq_pg: PostgreSQL did not start on 127.0.0.1:$port; see $dir/server.log" >&2
            return 1
        }
    fi
    local i
    for ((i = 0; i < 60; i++)); do
        "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break
        sleep 1
    done
    if ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
        echo "dq_pg: PostgreSQL on 127.0.0.1:$port is not ready after 60 s; see $dir/server.log" >&2
        return 1
    fi
    if [[ -z $("$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'dq_test'") ]]; then
        "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres dq_test || {
            echo "dq_pg: could not create database dq_test on 127.0.0.1:$port" >&2
            return 1
        }
    fi
}

dq_pg_stop() {
    local dir=${1:?usage: dq_pg_stop DIR}
    local bin
    bin=$(dq_pg_bindir) || return 1
    [[ -f "$dir/data/postmaster.pid" ]] || return 0
    dq_pg_as "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
}
