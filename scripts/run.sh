#!/usr/bin/env bash
# The main job: set up what is missing, then build the browser package into pkg/.
#
#   scripts/run.sh
#
# Each step is a function called from main, so a later step (the browser dashboard) is one
# more function and one more line in main.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

# Prints "<name>  <raw bytes>  <gzip -9 bytes>" for one file.
print_size() {
    local file="$1"
    printf '  %-16s %9d bytes raw %9d bytes gzip\n' \
        "$(basename "$file")" "$(wc -c <"$file")" "$(gzip -9 -c "$file" | wc -c)"
}

# wasm-pack build --target web --release -> pkg/ (ES module + .wasm), then its sizes.
build_pkg() {
    wasm-pack build --target web --release --out-dir pkg
    local wasm="pkg/mq_bg.wasm" js="pkg/mq.js"
    if [ ! -f "$wasm" ] || [ ! -f "$js" ]; then
        echo "build_pkg: $wasm or $js is missing" >&2
        return 1
    fi
    echo "pkg/ sizes:"
    print_size "$wasm"
    print_size "$js"
    printf '  %-16s %9d bytes raw %9d bytes gzip\n' "wasm + JS" \
        "$(cat "$wasm" "$js" | wc -c)" "$(( $(gzip -9 -c "$wasm" | wc -c) + $(gzip -9 -c "$js" | wc -c) ))"
}

main() {
    setup_all
    build_pkg
}

main "$@"
