#!/usr/bin/env bash
# Builds the npm package `mq-wasm` into pkg/ and prints its size:
#
#   scripts/build-pkg.sh
#
# The package is the browser driver of the crate (src/wasm/: wasm-bindgen, web-sys, js-sys,
# wasm-bindgen-futures, gloo-timers, serde-wasm-bindgen) over the sans-IO core:
#
# 1. wasm-pack build --target web, release, opt-level "z" for this build only, with the small
#    allocator (feature small-alloc): pkg/mq.js (wasm-bindgen's glue), pkg/mq_bg.wasm, pkg/mq.d.ts;
# 2. wasm-opt -Oz over pkg/mq_bg.wasm: binaryen from npm (scripts/tools/), the version the
#    project pins (Debian 12's binaryen 108 breaks wasm-bindgen's externref table; wasm-pack's
#    own wasm-opt run is turned off in Cargo.toml);
#    wasm-bindgen's glue minified by esbuild (from scripts/tools/ too), in place;
# 3. the package's own files from pkg-template/: package.json (version from Cargo.toml),
#    README.md, the licences, and index.js / index.d.ts, the entry that makes `init()` optional;
# 4. a size report: the .wasm and the JS, raw and gzip -9, against the budget.
#
# MQ_PKG_OUT names another output folder than pkg/. MQ_PKG_NAMES=1 keeps the names section in
# the wasm (for twiggy; the size report then counts it).

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

OUT="${MQ_PKG_OUT:-pkg}"
BUDGET_GZIP=52500
WASM_OPT=scripts/tools/node_modules/.bin/wasm-opt
[ -x "$WASM_OPT" ] || { echo "build-pkg: $WASM_OPT is missing (run scripts/setup.sh)" >&2; exit 1; }

rm -rf "$OUT"

# ---- 1. wasm-pack ----
# opt-level "z" ([profile.release] stays "s" for the native tool): smaller than "s" here.
names=()
[ "${MQ_PKG_NAMES:-}" = 1 ] && names=(env CARGO_PROFILE_RELEASE_STRIP=none)
"${names[@]}" env CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_PANIC=abort \
    wasm-pack build --target web --release --out-dir "$OUT" --out-name mq --no-pack \
    -- --features small-alloc
rm -f "$OUT/.gitignore"

# ---- 2. wasm-opt ----
wasm="$OUT/mq_bg.wasm"
strip=(--strip-debug --strip-producers)
[ "${MQ_PKG_NAMES:-}" = 1 ] && strip=(-g --strip-dwarf --strip-producers)
# --low-memory-unused: Rust's stack sits below the data, so addresses under 1024 are never used
# (loads and stores fold their offsets; -450 B gzip). The target_features section is for tools
# that link the module; wasm-bindgen has read it, browsers ignore it.
"$WASM_OPT" -Oz --converge --low-memory-unused --strip-target-features "${strip[@]}" "$wasm" -o "$wasm.opt"
mv "$wasm.opt" "$wasm"
scripts/tools/node_modules/.bin/esbuild "$OUT/mq.js" --bundle --minify --format=esm --log-level=warning \
    --outfile="$OUT/mq.min.js"
mv "$OUT/mq.min.js" "$OUT/mq.js"
rm -rf "$OUT/snippets"

# ---- 3. the package's own files ----
cp pkg-template/README.md pkg-template/LICENSE-MIT pkg-template/LICENSE-APACHE \
    pkg-template/index.d.ts "$OUT/"
scripts/tools/node_modules/.bin/esbuild pkg-template/index.js --minify --format=esm \
    --log-level=warning --outfile="$OUT/index.js"
version="$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)"
node -e '
  const fs = require("fs");
  const p = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  p.version = process.argv[2];
  fs.writeFileSync(process.argv[3], JSON.stringify(p, null, 2) + "\n");
' pkg-template/package.json "$version" "$OUT/package.json"

# ---- 4. size report ----
gz() { gzip -9 -c "$@" | wc -c; }
row() { printf '  %-26s %9d bytes raw %9d bytes gzip\n' "$1" "$2" "$3"; }
echo "$OUT/ (mq-wasm $version) sizes:"
total_raw=0 total_gz=0
for f in mq_bg.wasm mq.js index.js; do
    raw=$(wc -c <"$OUT/$f") z=$(gz "$OUT/$f")
    row "$f" "$raw" "$z"
    total_raw=$((total_raw + raw)) total_gz=$((total_gz + z))
done
row "wasm + JS" "$total_raw" "$total_gz"
if [ "$total_gz" -le "$BUDGET_GZIP" ]; then
    echo "  within the budget of $BUDGET_GZIP bytes gzip"
else
    echo "  OVER the budget of $BUDGET_GZIP bytes gzip by $((total_gz - BUDGET_GZIP)) bytes"
fi
