#!/usr/bin/env bash
# usage: out_of_tree_plugin.sh BUILD_DIR SOURCE_DIR VSERVER
set -euo pipefail
build=$1 source=$2 vserver=$3
work=$(mktemp -d /tmp/dq-sdk-test.XXXXXX)
server_pid=
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f $work/server.log ]] && tail -20 "$work/server.log" >&2; exit 1; }

echo "-- installing the SDK into $work/prefix"
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "cmake --install"; }
[[ -f $work/prefix/include/dq/sdk/plugin.h ]] || fail "headers not installed"
ls "$work"/prefix/lib*/cmake/DqSdk/DqSdkConfig.cmake >/dev/null || fail "no CMake package installed"

echo "-- building sdk/examples/hello out of tree"
cp -r "$source/sdk/examples/hello" "$work/hello"
cmake -S "$work/hello" -B "$work/hello/build" -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/configure.log" 2>&1 ||
    { cat "$work/configure.log"; fail "configure of the example against the installed SDK"; }
cmake --build "$work/hello/build" -j2 >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "build of the example"; }
[[ -f $work/hello/build/libhello.so ]] || fail "libhello.so not built"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/server.yaml" <<YAML
application:
  description: out-of-tree plugin test
  port: $port
  uri: sqlite:///hello.sqlite
  jwt_secret_key: sdk-test
  logging: {level: WARNING, use_console: true}
  plugins:
    enabled: [organizations, hello]
    folders: [$work/hello/build]
    settings:
      hello: {greeting: Hoi}
YAML

echo "-- starting the server with the plugin"
"$vserver" start --foreground --config "$work/server.yaml" --data-dir "$work/data" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/api/version" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || fail "server exited"
    sleep 0.1
done
curl -sf "http://127.0.0.1:$port/api/version" | grep -q '"hello":"0.1.0"' || fail "/api/version does not list the plugin"

answer=$(curl -s -w ' %{http_code}' -X POST -H 'Content-Type: application/json' -d '{"name": "Ada"}' \
    "http://127.0.0.1:$port/api/hello")
[[ $answer == *'"text":"Hoi, Ada!"'*' 201' ]] || fail "POST /api/hello answered: $answer"
list=$(curl -s "http://127.0.0.1:$port/api/hello")
[[ $list == *'Hoi, Ada!'* ]] || fail "GET /api/hello answered: $list"

# The API description shows the plugin's routes, with the body the plugin described.
spec=$(curl -sf "http://127.0.0.1:$port/apispec_1.json") || fail "GET /apispec_1.json failed"
python3 - "$spec" <<'PY' || fail "/apispec_1.json does not describe the plugin's routes"
import json, sys
doc = json.loads(sys.argv[1])
hello = doc["paths"]["/hello"]
assert hello["get"]["x-plugin"] == "hello" and hello["post"]["x-plugin"] == "hello", hello
body = hello["post"]["requestBody"]["content"]["application/json"]["schema"]
assert body["properties"]["name"]["description"] == "who to greet", body
assert body["required"] == ["name"], body
assert hello["post"]["security"] == [], "public route shown as needing a token"
assert "greeting" in doc["components"]["schemas"], "the plugin's model has no schema"
PY
if [[ -n ${DQ_TEST_OPENAPI_VALIDATOR:-} ]]; then
    echo "$spec" >"$work/apispec_1.json"
    "$DQ_TEST_OPENAPI_VALIDATOR" validate "$work/apispec_1.json" || fail "the document with the plugin is not valid OpenAPI"
else
    echo "-- DQ_TEST_OPENAPI_VALIDATOR is not set: the document is not validated (scripts/test sets it)"
fi

kill "$server_pid"; wait "$server_pid" || true; server_pid=
count=$("$vserver" hello count --config "$work/server.yaml" --data-dir "$work/data") || fail "vserver hello count"
[[ $count == "1 greetings" ]] || fail "vserver hello count printed: $count"
echo "PASS: out-of-tree plugin built against the installed SDK, loaded, served, described in the API document, and its command ran"
