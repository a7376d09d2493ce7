# Shared set-up for scripts/demo and scripts/test: Debian packages and the CMake build.
#   dq_install_packages [extra packages...]   installs what is missing (needs root)
#   dq_build BUILD_DIR [cmake args...]         configures and builds with -j2 (ccache when present);
#                                              DQ_TARGETS="a b" limits the build to those targets
#   dq_install_openapi_validator               installs swagger-cli (npm) into a cache folder, prints
#                                              the path of its program

DQ_PACKAGES=(build-essential cmake pkg-config ccache libpoco-dev libyaml-cpp-dev libboost-dev
    libboost-filesystem-dev libgtest-dev libgmock-dev pybind11-dev python3-dev libcrypt-dev libpq-dev libsqlite3-dev zlib1g-dev
    postgresql curl ca-certificates openssl wrk haproxy
    python3-socketio python3-websocket python3-requests python3-pyotp
    libcli11-dev dpkg-dev fakeroot lintian clang libclang-rt-14-dev
    python3-flasgger)

dq_install_packages() {
    local missing=() p
    for p in "${DQ_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    echo "==> installing Debian packages: ${missing[*]}"
    if [[ $(id -u) -ne 0 ]]; then
        echo "missing packages and not root: run as root or install them: apt-get install ${missing[*]}" >&2
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

dq_build() {
    local dir=$1
    shift
    local launcher=()
    command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    echo "==> configuring $dir"
    cmake -S "$DQ_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPYTHON_EXECUTABLE=/usr/bin/python3 \
        "${launcher[@]}" "$@" >"$dir.configure.log" 2>&1 || {
        cat "$dir.configure.log" >&2
        return 1
    }
    echo "==> building (-j2; log in $dir.build.log)"
    local targets=()
    for t in ${DQ_TARGETS:-}; do targets+=(--target "$t"); done
    cmake --build "$dir" -j2 "${targets[@]}" >"$dir.build.log" 2>&1 || {
        grep -E "error|Error" "$dir.build.log" | head -40 >&2
        tail -20 "$dir.build.log" >&2
        return 1
    }
    grep -E "warning:" "$dir.build.log" | sort -u | head -20 || true
}

# The OpenAPI validator of the tests: Debian has none for OpenAPI 3, so the npm package, pinned, in a
# cache folder outside the repository (installed once, reused by later runs).
dq_install_openapi_validator() {
    local dir=${DQ_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dataquality/npm}
    local program=$dir/node_modules/.bin/swagger-cli
    if [[ ! -x $program ]]; then
        command -v npm >/dev/null 2>&1 || { echo "npm is missing: install Node.js with npm" >&2; return 1; }
        echo "==> installing @apidevtools/swagger-cli into $dir" >&2
        mkdir -p "$dir"
        npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error \
            @apidevtools/swagger-cli@4.0.4 >&2 || return 1
    fi
    echo "$program"
}
