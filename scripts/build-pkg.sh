#!/usr/bin/env bash
# Builds the npm package `mq-wasm` into pkg/ and prints its size:
#
#   scripts/build-pkg.sh
#
# The package is a hand-written JS driver (js/mq.js: WebSocket, timers, IndexedDB, the
# MqttClient API) over a minimal wasm core (src/npm/: proto::Client and the codec behind plain
# C-ABI exports, no wasm-bindgen), loaded by js/core.js:
#
# 1. cargo build of the core for wasm32-unknown-unknown, release, opt-level "z" for this build
#    only, features npm and small-alloc and nothing else (the crate is then no_std);
# 2. wasm-opt -Oz into pkg/mq_bg.wasm: binaryen 132 from npm (scripts/tools/), the version the
#    project pins (Debian 12's binaryen 108 broke wasm-bindgen's modules, see README);
# 3. js/mq.js, which imports ./core.js, bundled and minified by esbuild (also from
#    scripts/tools/) into one ES module, pkg/mq.js; js/types.d.ts (the types the Rust driver
#    shares) and js/mq.d.ts, one after the other, as pkg/mq.d.ts;
# 4. the package's own files from pkg-template/ (package.json, README.md, licences), with the
#    version taken from Cargo.toml;
# 5. a size report: the .wasm and mq.js, raw and gzip -9, against the 40 KB gzip budget.
#
# wasm-pack and wasm-bindgen are not used here (the Rust browser driver, src/wasm/, is for Rust
# users of the crate and the tests). Needs what scripts/setup.sh installs
# (scripts/tools/node_modules). MQ_JS_ENTRY and MQ_JS_DTS name another entry module and
# definitions file than js/mq.js and js/mq.d.ts (to try the pipeline with a stand-in).

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

OUT=pkg
BUDGET_GZIP=$((40 * 1024))
WASM_OPT=scripts/tools/node_modules/.bin/wasm-opt
ESBUILD=scripts/tools/node_modules/.bin/esbuild
[ -x "$WASM_OPT" ] || { echo "build-pkg: $WASM_OPT is missing (run scripts/setup.sh)" >&2; exit 1; }
[ -x "$ESBUILD" ] || { echo "build-pkg: $ESBUILD is missing (run scripts/setup.sh)" >&2; exit 1; }
ENTRY="${MQ_JS_ENTRY:-js/mq.js}"
DTS="${MQ_JS_DTS:-js/mq.d.ts}"
for f in "$ENTRY" js/core.js js/types.d.ts "$DTS"; do
    [ -f "$f" ] || { echo "build-pkg: $f is missing" >&2; exit 1; }
done

rm -rf "$OUT"
mkdir -p "$OUT"

# ---- 1. the wasm core ----
# opt-level "z" ([profile.release] stays "s" for the native tool): smaller than "s" here.
CARGO_PROFILE_RELEASE_OPT_LEVEL=z \
    cargo build --target wasm32-unknown-unknown --release --lib \
    --no-default-features --features npm-module
built="${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/mq.wasm"
[ -f "$built" ] || { echo "build-pkg: cargo produced no $built" >&2; exit 1; }

# ---- 2. wasm-opt ----
# --converge repeats the passes while they still shrink the module. --low-memory-unused: the
# core never addresses the first KB of memory (the stack's far end, 1 MB down), which lets
# wasm-opt fold address offsets. Nothing reads the target_features section once wasm-opt has.
wasm="$OUT/mq_bg.wasm"
"$WASM_OPT" -Oz --converge --low-memory-unused --strip-debug --strip-producers \
    --strip-target-features "$built" -o "$wasm"

# ---- 3. the JS driver and its core binding, one minified ES module ----
"$ESBUILD" "$ENTRY" --bundle --format=esm --minify --log-level=warning --outfile="$OUT/mq.js"
cat js/types.d.ts "$DTS" >"$OUT/mq.d.ts"

# ---- 4. the package's own files ----
cp pkg-template/README.md pkg-template/LICENSE-MIT pkg-template/LICENSE-APACHE "$OUT/"
version="$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)"
node -e '
  const fs = require("fs");
  const p = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  p.version = process.argv[2];
  fs.writeFileSync(process.argv[3], JSON.stringify(p, null, 2) + "\n");
' pkg-template/package.json "$version" "$OUT/package.json"

# ---- 5. size report ----
gz() { gzip -9 -c "$@" | wc -c; }
row() { printf '  %-26s %9d bytes raw %9d bytes gzip\n' "$1" "$2" "$3"; }
wasm_raw=$(wc -c <"$wasm") wasm_gz=$(gz "$wasm")
js_raw=$(wc -c <"$OUT/mq.js") js_gz=$(gz "$OUT/mq.js")
echo "pkg/ (mq-wasm $version) sizes:"
row "mq_bg.wasm" "$wasm_raw" "$wasm_gz"
row "mq.js" "$js_raw" "$js_gz"
total_gz=$((wasm_gz + js_gz))
row "wasm + JS glue" "$((wasm_raw + js_raw))" "$total_gz"
if [ "$total_gz" -le "$BUDGET_GZIP" ]; then
    echo "  within the budget of $BUDGET_GZIP bytes gzip"
else
    echo "  OVER the budget of $BUDGET_GZIP bytes gzip by $((total_gz - BUDGET_GZIP)) bytes"
fi
