#!/usr/bin/env bash
# Builds the npm package `mq-wasm` into pkg/ and prints its size:
#
#   scripts/build-pkg.sh
#
# 1. wasm-pack build --target web --release (ES module, TypeScript definitions), without its own
#    wasm-opt pass and without its generated package.json;
# 2. wasm-opt -Oz for size: binaryen 132 from npm (scripts/tools/). Debian 12's binaryen 108
#    rewrites wasm-bindgen's externref table as anyref, and the module then fails to load
#    ("WebAssembly.Table.set(): Argument 1 is invalid for table"), so it is not used here;
# 3. the JS glue minified by esbuild (also from scripts/tools/), its snippets bundled into it:
#    one file, mq.js, about 40% smaller gzipped. mq.d.ts keeps the documentation;
# 4. the package's own files from pkg-template/ (package.json, README.md, licences), with the
#    version taken from Cargo.toml;
# 5. a size report: the .wasm and the JS glue, raw and gzip -9, against the 40 KB gzip budget.
#
# Needs what scripts/setup.sh installs (wasm-pack, wasm-bindgen-cli, scripts/tools/node_modules).

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

OUT=pkg
BUDGET_GZIP=$((40 * 1024))

rm -rf "$OUT"
# opt-level "z" for this build only ([profile.release] stays "s" for the native tool): about
# 6% smaller than "s" here.
CARGO_PROFILE_RELEASE_OPT_LEVEL=z \
    wasm-pack build --target web --release --no-pack --no-opt --out-dir "$OUT" --out-name mq \
    -- --features small-alloc
wasm="$OUT/mq_bg.wasm"
[ -f "$wasm" ] && [ -f "$OUT/mq.js" ] || { echo "build-pkg: wasm-pack produced no $wasm" >&2; exit 1; }

# The features the module uses are named in its target_features section; wasm-opt reads them.
# --converge repeats the passes while they still shrink the module (~0.6 KB gzip).
WASM_OPT=scripts/tools/node_modules/.bin/wasm-opt
[ -x "$WASM_OPT" ] || { echo "build-pkg: $WASM_OPT is missing (run scripts/setup.sh)" >&2; exit 1; }
"$WASM_OPT" -Oz --converge --strip-debug --strip-producers "$wasm" -o "$wasm.opt"
mv "$wasm.opt" "$wasm"

# The glue: wasm-bindgen's mq.js imports its inline_js snippets from snippets/; bundled and
# minified into one ES module (exports, import.meta.url and the .d.ts unchanged).
ESBUILD=scripts/tools/node_modules/.bin/esbuild
[ -x "$ESBUILD" ] || { echo "build-pkg: $ESBUILD is missing (run scripts/setup.sh)" >&2; exit 1; }
# wasm-bindgen lists one snippet module under the same key once per function wasm imports from it
# directly (the same namespace each time): esbuild's duplicate-key warning says nothing here.
"$ESBUILD" "$OUT/mq.js" --bundle --format=esm --minify --log-level=warning \
    --log-override:duplicate-object-key=silent --outfile="$OUT/mq.min.js"
mv "$OUT/mq.min.js" "$OUT/mq.js"
rm -rf "$OUT/snippets"

# wasm-pack's pkg/.gitignore ("*") would hide every file from `npm pack`; / ignores pkg/ anyway.
rm -f "$OUT/.gitignore" "$OUT/README.md" "$OUT/package.json"
cp pkg-template/README.md pkg-template/LICENSE-MIT pkg-template/LICENSE-APACHE "$OUT/"
version="$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)"
node -e '
  const fs = require("fs");
  const p = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  p.version = process.argv[2];
  fs.writeFileSync(process.argv[3], JSON.stringify(p, null, 2) + "\n");
' pkg-template/package.json "$version" "$OUT/package.json"

# ---- size report ----
gz() { gzip -9 -c "$@" | wc -c; }
row() { printf '  %-26s %9d bytes raw %9d bytes gzip\n' "$1" "$2" "$3"; }
glue=("$OUT/mq.js")
while IFS= read -r f; do glue+=("$f"); done < <(find "$OUT/snippets" -name '*.js' 2>/dev/null | sort)
wasm_raw=$(wc -c <"$wasm") wasm_gz=$(gz "$wasm")
glue_raw=0 glue_gz=0
echo "pkg/ (mq-wasm $version) sizes:"
row "mq_bg.wasm" "$wasm_raw" "$wasm_gz"
for f in "${glue[@]}"; do
    r=$(wc -c <"$f") g=$(gz "$f")
    row "${f#"$OUT"/}" "$r" "$g"
    glue_raw=$((glue_raw + r)) glue_gz=$((glue_gz + g))
done
total_gz=$((wasm_gz + glue_gz))
row "wasm + JS glue" "$((wasm_raw + glue_raw))" "$total_gz"
if [ "$total_gz" -le "$BUDGET_GZIP" ]; then
    echo "  within the budget of $BUDGET_GZIP bytes gzip"
else
    echo "  OVER the budget of $BUDGET_GZIP bytes gzip by $((total_gz - BUDGET_GZIP)) bytes"
fi
