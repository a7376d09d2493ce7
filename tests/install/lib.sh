# Shared by the install tests: a scratch folder, a free port, a server started from installed files.
set -euo pipefail
work=$(mktemp -d /tmp/dq-install-test.XXXXXX)
server_pid=
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    # Background servers a failed step left behind.
    for f in $(find "$work" -name '*.pid' 2>/dev/null); do kill "$(cat "$f")" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    for f in "$work"/*.log; do [[ -f $f ]] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
    exit 1
}
# Nothing of the tester's own folders: both levels and the logs inside the scratch folder.
export HOME=$work/home XDG_CONFIG_HOME=$work/home/config XDG_DATA_HOME=$work/home/data
export DQ_SYSTEM_CONFIG_DIR=$work/etc DQ_SYSTEM_DATA_DIR=$work/var DQ_SYSTEM_LOG_DIR=$work/log
mkdir -p "$HOME"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
api=http://127.0.0.1:$port/api

# write_config FILE: an SQLite server on $port.
write_config() {
    cat >"$1" <<YAML
application:
  description: install test
  type: test
  port: $port
  uri: sqlite:///installed.sqlite
  jwt_secret_key: install-test
  bcrypt_rounds: 4
  logging: {level: INFO, use_console: true}
YAML
}

# wait_for_server: until /api/version answers, while $server_pid lives.
wait_for_server() {
    for _ in $(seq 1 150); do
        curl -sf "$api/version" >/dev/null 2>&1 && return 0
        kill -0 "$server_pid" 2>/dev/null || fail "the server exited"
        sleep 0.2
    done
    fail "the server did not answer"
}

# expect_bundled_plugins: /api/version lists all eight bundled plugins.
expect_bundled_plugins() {
    local version
    version=$(curl -sf "$api/version")
    for p in organizations roles users collaborations nodes tasks vpn smtp; do
        [[ $version == *"\"$p\""* ]] || fail "/api/version does not list plugin $p: $version"
    done
}

# login USER PASSWORD: prints the access token.
login() {
    curl -sf -X POST -H 'Content-Type: application/json' -d "{\"username\": \"$1\", \"password\": \"$2\"}" \
        "$api/token/user" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
