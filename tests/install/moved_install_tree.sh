#!/usr/bin/env bash
# usage: moved_install_tree.sh BUILD_DIR SOURCE_DIR
# `cmake --install` into a prefix, which is then moved: from the moved tree alone, vserver loads all
# eight bundled plugins, serves, a user logs in, and a plugin command runs.
build=$1 source=$2
source "$(dirname "$0")/lib.sh"

echo "-- installing into $work/prefix"
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1 || fail "cmake --install"
mv "$work/prefix" "$work/moved"
tree=$work/moved
vserver=$tree/bin/vserver

echo "-- the layout"
for f in bin/vserver lib/libdqsdk.so.2 include/dq/sdk/plugin.h lib/cmake/DqSdk/DqSdkConfig.cmake \
    share/dataquality/config/server.yaml share/dataquality/config/import-example.yaml \
    share/doc/dataquality-server/README.md share/doc/dataquality-server/operations.md \
    share/doc/dataquality-server/plugin-guide.md; do
    [[ -e $tree/$f ]] || fail "$f is not installed"
done
for p in organizations roles users collaborations nodes tasks vpn smtp; do
    [[ -f $tree/lib/dataquality/plugins/lib$p.so ]] || fail "plugin $p is not installed"
done
[[ ! -e $tree/lib/systemd ]] || fail "a prefix install holds the systemd unit, which names /usr/bin/vserver"

echo "-- no path of the build tree or of the original prefix in the binaries"
for elf in "$vserver" "$tree"/lib/libdqsdk.so.2 "$tree"/lib/dataquality/plugins/*.so; do
    runpath=$(readelf -d "$elf" | grep -E 'RPATH|RUNPATH' || true)
    [[ -z $runpath || $runpath == *'[$ORIGIN'* ]] || fail "$elf has a search path that is not relative: $runpath"
    readelf -p .rodata "$elf" 2>/dev/null | grep -qF -e "$build" -e "$work/prefix" &&
        fail "$elf names $build or $work/prefix in its constants"
done
ldd "$vserver" | grep -q "libdqsdk.so.2 => $tree/bin/../lib/libdqsdk.so.2" ||
    fail "vserver does not find libdqsdk beside itself: $(ldd "$vserver" | grep dqsdk)"

echo "-- vserver --version, and the plugins it finds"
[[ $("$vserver" --version) == "vserver "* ]] || fail "vserver --version"
plugins=$("$vserver" plugins) || fail "vserver plugins: $plugins"
[[ $(grep -c "^  file:     $tree/lib/dataquality/plugins/lib" <<<"$plugins") == 8 ]] ||
    fail "vserver plugins does not load the eight plugins of the moved tree: $plugins"

echo "-- a server from the moved tree"
write_config "$work/server.yaml"
context=(--config "$work/server.yaml" --data-dir "$work/data")
"$vserver" start "${context[@]}" >"$work/start.log" 2>&1 || fail "vserver start"
server_pid=$(cat "$work/data/server.pid")
wait_for_server
expect_bundled_plugins
token=$(login root root) || fail "root cannot log in"
"$vserver" organization create "${context[@]}" --organization-name "Moved Clinic" --country NL \
    >"$work/command.log" 2>&1 || fail "vserver organization create"
organizations=$(curl -sf -H "Authorization: Bearer $token" "$api/organization")
[[ $organizations == *'Moved Clinic'* ]] || fail "the running server does not see the new organization: $organizations"
"$vserver" stop "${context[@]}" >"$work/stop.log" 2>&1 || fail "vserver stop"
server_pid=
grep -q "dataquality-server stopped" "$work/data/server.log" || fail "the log has no stop line"
echo "PASS: the moved install tree runs on its own"
