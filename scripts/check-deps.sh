#!/usr/bin/env bash
# The npm package is built on the browser stack the project chose, and on nothing that reaches
# the browser by name strings:
#
#   scripts/check-deps.sh
#
# 1. `cargo tree` of the package build (wasm32, normal dependencies) lists wasm-bindgen,
#    wasm-bindgen-futures, web-sys, js-sys, gloo-timers and serde-wasm-bindgen;
# 2. src/ has no inline JS in Rust strings, and reaches no browser API through js_sys::Reflect
#    (only src/wasm/options.rs uses it, to read the caller's own options object key by key).
# Prints one "ok"/"FAIL" line per check and `N passed, N failed`; exits 1 on a failure.

set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

pass=0 fail=0
check() { if [ "$2" = ok ]; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1: $3"; fail=$((fail + 1)); fi; }

tree="$(cargo tree --target wasm32-unknown-unknown -e normal --features small-alloc --prefix none 2>&1)"
for crate in wasm-bindgen wasm-bindgen-futures web-sys js-sys gloo-timers serde-wasm-bindgen; do
    if grep -q "^$crate v" <<<"$tree"; then
        check "the package build depends on $crate" ok
    else
        check "the package build depends on $crate" no "not in cargo tree"
    fi
done

inline="$(grep -rn "inline_js" src || true)"
[ -z "$inline" ] && check "no inline JS in src/" ok || check "no inline JS in src/" no "$inline"
reflect="$(grep -rln "Reflect::" src | grep -v '^src/wasm/options.rs$' || true)"
[ -z "$reflect" ] && check "js_sys::Reflect only for the caller's options" ok ||
    check "js_sys::Reflect only for the caller's options" no "$reflect"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
