#!/usr/bin/env bash
# usage: debian_package.sh BUILD_DIR SOURCE_DIR
# Packs the built tree with CPack (no rebuild), checks the packages' contents, Depends and lintian,
# then unpacks the server package into a scratch root and runs the server from there.
build=$1 source=$2
source "$(dirname "$0")/lib.sh"

echo "-- packing"
"$source/scripts/package" --build-dir "$build" --output "$work/out" --no-build >"$work/package.log" 2>&1 ||
    fail "scripts/package"
deb=$(ls "$work"/out/dataquality-server_*.deb)
dev=$(ls "$work"/out/dataquality-server-dev_*.deb)
[[ $(basename "$deb") =~ ^dataquality-server_[0-9.]+_amd64\.deb$ ]] || fail "unexpected package name $deb"

echo "-- contents"
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/vserver ./usr/lib/libdqsdk.so.2 ./usr/lib/systemd/system/dataquality-server@.service \
    ./usr/share/doc/dataquality-server/copyright ./usr/share/doc/dataquality-server/changelog.gz \
    ./usr/share/doc/dataquality-server/operations.md ./usr/share/dataquality/config/server.yaml; do
    grep -qE " $f( -> .*)?\$" <<<"$contents" || fail "$f is not in $deb"
done
for p in organizations roles users collaborations nodes tasks vpn smtp; do
    grep -q " ./usr/lib/dataquality/plugins/lib$p.so\$" <<<"$contents" || fail "plugin $p is not in $deb"
done
grep -q "include/dq" <<<"$contents" && fail "the SDK headers belong in the -dev package"
# Listed into a variable first: `grep -q` stops reading early, and under pipefail dpkg-deb's broken
# pipe would fail the check.
dev_contents=$(dpkg-deb -c "$dev")
grep -q " ./usr/include/dq/sdk/plugin.h$" <<<"$dev_contents" || fail "the -dev package has no SDK headers"
grep -q " ./usr/lib/cmake/DqSdk/DqSdkConfig.cmake$" <<<"$dev_contents" || fail "the -dev package has no CMake package"
depends=$(dpkg-deb -f "$deb" Depends)
for d in libpocofoundation libpocodatapostgresql libpocodatasqlite adduser libyaml-cpp libc6; do
    [[ $depends == *"$d"* ]] || fail "Depends lacks $d: $depends"
done
dpkg-deb -e "$deb" "$work/control"
for s in postinst prerm postrm; do [[ -x $work/control/$s ]] || fail "no $s maintainer script"; done
grep -q "adduser --system" "$work/control/postinst" || fail "postinst makes no system user"
unit=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/lib/systemd/system/dataquality-server@.service)
for line in "ExecStart=/usr/bin/vserver start --foreground --system --name %i" "User=dataquality" \
    "NoNewPrivileges=yes" "ProtectSystem=strict"; do
    grep -qxF "$line" <<<"$unit" || fail "the unit lacks '$line'"
done

echo "-- lintian"
lintian --tag-display-limit 0 "$deb" "$dev" >"$work/lintian.log" 2>&1 || true
grep -E "^E: " "$work/lintian.log" && fail "lintian reports errors"
cat "$work/lintian.log"

echo "-- the server from a scratch root"
root=$work/root
dpkg-deb -x "$deb" "$root"
write_config "$work/server.yaml"
"$root/usr/bin/vserver" start --foreground --config "$work/server.yaml" --data-dir "$work/data" \
    >"$work/server.log" 2>&1 &
server_pid=$!
wait_for_server
expect_bundled_plugins
grep -q "dataquality-server started: version .*, plugins organizations" "$work/data/server.log" ||
    fail "the log has no start line"
login root root >/dev/null || fail "root cannot log in"
plugins=$("$root/usr/bin/vserver" plugins)
[[ $(grep -c "^  file:     $root/usr/lib/dataquality/plugins/lib" <<<"$plugins") == 8 ]] ||
    fail "the unpacked vserver does not load the unpacked plugins: $plugins"
echo "PASS: the Debian packages are complete, lintian-clean, and the server runs from them"
