#!/usr/bin/env bash
# Installs what the build and the tests need, and only what is missing: a second run takes
# seconds. Called by scripts/run.sh and scripts/test.sh (sourced) or on its own:
#
#   scripts/setup.sh
#
# Needs: Debian 12, rustup with a stable toolchain, node and npm, and the registries
# crates.io, Debian apt and npm. Nothing is downloaded from anywhere else: wasm-pack finds
# wasm-opt (binaryen), wasm-bindgen and chromedriver on PATH instead of fetching its own.

set -euo pipefail

MQ_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive
# wasm-pack test --chrome uses the chromedriver on PATH; this names Debian's explicitly.
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"

APT_PACKAGES=(mosquitto mosquitto-clients openssl chromium chromium-driver binaryen)
# Folders with a package.json whose node_modules the build or tests need. tests/aedes: the
# second broker of the native tests (tests/native_*.rs). scripts/tools: wasm-opt (binaryen) for
# scripts/build-pkg.sh. tests/web: Vite and Playwright for the package and dashboard tests.
NODE_PROJECTS=(tests/aedes tests/browser scripts/tools tests/web)

log() { printf '[setup] %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

setup_apt() {
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
            missing+=("$p")
        fi
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "apt: installing ${missing[*]}"
        as_root apt-get update
        as_root apt-get install -y "${missing[@]}"
    fi
}

setup_rust() {
    if ! command -v cargo >/dev/null || ! command -v rustup >/dev/null; then
        log "cargo and rustup must be on PATH (install Rust stable with rustup first)"
        return 1
    fi
    if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
        log "rustup: adding target wasm32-unknown-unknown"
        rustup target add wasm32-unknown-unknown
    fi
    local installed c
    installed="$(rustup component list --installed)"
    for c in clippy rustfmt; do
        if ! grep -q "^$c" <<<"$installed"; then
            log "rustup: adding component $c"
            rustup component add "$c"
        fi
    done
}

# The wasm-bindgen version pinned in Cargo.lock: the CLI must match it exactly.
locked_wasm_bindgen_version() {
    awk '/^\[\[package\]\]/ { name = "" }
         /^name = / { name = $3 }
         /^version = / && name == "\"wasm-bindgen\"" { gsub(/"/, "", $3); print $3; exit }' \
        "$MQ_ROOT/Cargo.lock"
}

# Someone (another terminal, a provisioning step) may be running `cargo install X` right now:
# wait for it rather than compiling a second copy.
wait_for_cargo_install() {
    local crate="$1" waited=0
    while pgrep -f "cargo install.* $crate( |\$)" >/dev/null; do
        [ "$waited" -eq 0 ] && log "waiting for a running 'cargo install $crate' to finish"
        sleep 5
        waited=$((waited + 5))
    done
}

setup_wasm_tools() {
    local want have=""
    want="$(locked_wasm_bindgen_version)"
    if [ -z "$want" ]; then
        log "Cargo.lock has no wasm-bindgen yet: skipping wasm-bindgen-cli"
    else
        wait_for_cargo_install wasm-bindgen-cli
        if command -v wasm-bindgen >/dev/null; then
            have="$(wasm-bindgen --version | awk '{print $2}')"
        fi
        if [ "$have" != "$want" ] || ! command -v wasm-bindgen-test-runner >/dev/null; then
            log "cargo: installing wasm-bindgen-cli $want (found: ${have:-none})"
            cargo install wasm-bindgen-cli --version "$want"
        fi
    fi
    wait_for_cargo_install wasm-pack
    if ! command -v wasm-pack >/dev/null; then
        log "cargo: installing wasm-pack"
        cargo install wasm-pack
    fi
}

setup_node_packages() {
    local dir
    for dir in "${NODE_PROJECTS[@]}"; do
        dir="$MQ_ROOT/$dir"
        if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
            log "npm: installing packages in $dir"
            (cd "$dir" && npm ci --no-audit --no-fund && touch node_modules)
        fi
    done
}

setup_all() {
    local start=$SECONDS
    setup_apt
    setup_rust
    setup_wasm_tools
    setup_node_packages
    log "ready in $((SECONDS - start))s"
}

# Run directly: do the setup. Sourced: the caller calls setup_all.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    setup_all
fi
