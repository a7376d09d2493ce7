#!/usr/bin/env bash
# usage: plugin_guide.sh BUILD_DIR SOURCE_DIR
# docs/plugin-guide.md as a reader follows it: the SDK installed into a prefix, the guide's files
# (```lang file=NAME blocks) written into an empty folder, its commands (```sh run blocks) run in
# order with the installed vserver first on PATH. The guide's example port (7650) and plugin prefix
# (/usr/local) become a free port and a scratch folder.
build=$1 source=$2
source "$source/tests/install/lib.sh"

echo "-- installing into $work/prefix"
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1 || fail "cmake --install"
export PREFIX=$work/prefix PLUGIN_PREFIX=$work/local PATH=$work/prefix/bin:$PATH

mkdir "$work/hello"
/usr/bin/python3 - "$source/docs/plugin-guide.md" "$work/hello" "$port" "$PLUGIN_PREFIX" <<'PY'
import re, sys
guide, folder, port, plugin_prefix = sys.argv[1:]
text = open(guide).read()
blocks = re.findall(r"^```(\w+)([^\n]*)\n(.*?)^```$", text, re.M | re.S)
runs = 0
for lang, info, body in blocks:
    body = body.replace("7650", port).replace("/usr/local", plugin_prefix)
    info = info.strip()
    if info.startswith("file="):
        open(f"{folder}/{info[5:]}", "w").write(body)
    elif info == "run":
        runs += 1
        open(f"{folder}/step{runs}.sh", "w").write(body)
if runs < 2 or not all(f"file={f}" in text for f in ("CMakeLists.txt", "hello_plugin.cpp", "server.yaml", "greetings.yaml")):
    sys.exit("the guide lost its files or steps")
PY
[[ $? == 0 ]] || fail "could not extract the guide's snippets"

cd "$work/hello"
for step in step*.sh; do
    echo "-- $step"
    cat "$step"
    bash -euo pipefail "$step" >"$work/$step.log" 2>&1 || fail "$step of the guide failed"
    cat "$work/$step.log"
done
[[ -f $PLUGIN_PREFIX/lib/dataquality/plugins/libhello.so ]] || fail "the guide did not install libhello.so"
grep -q '"text": *"Hoi, Ada!"' "$work"/step*.log || fail "POST /api/hello did not greet Ada"
grep -qx "1 greetings" "$work"/step*.log || fail "vserver hello count did not count the greeting"
grep -q "greetings *1 created, 0 updated, 1 unchanged" "$work"/step*.log || fail "vserver import did not call the plugin's section"
grep -q "greetings *0 created, 0 updated, 2 unchanged" "$work"/step*.log || fail "importing the file again changed something"
grep -qx "2 greetings" "$work"/step*.log || fail "the imported greeting was not stored"
echo "PASS: docs/plugin-guide.md works as written"
