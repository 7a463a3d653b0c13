#!/usr/bin/env bash
# Runs every benchmark of the project and writes BENCHMARKS.md (not part of scripts/test.sh):
#
#   scripts/bench.sh [rounds=5]      # about 15 minutes on a quiet 2-core machine, after the builds
#   scripts/bench.sh --quick         # one round of everything, fewer messages: for developing
#
# 1. setup (scripts/setup.sh: only what is missing), rumqttd if missing, the npm package
#    (scripts/build-pkg.sh), mq's codec as wasm for Node (bench/codec-wasm), the native
#    end-to-end bench (bench/e2e);
# 2. browser throughput (bench/browser/bench.mjs): mq (memory and IndexedDB sessions, and a
#    follower tab of `share: "tabs"`), MQTT.js,
#    Paho and the raw WebSocket floor, QoS 0/1/2, 64 B and 16 KiB, through rumqttd;
# 3. browser memory (bench/browser/memory.mjs);
# 4. the codec in Node beside mqtt-packet (bench/codec-wasm/bench.mjs);
# 5. the in-flight window study (bench/window/window.mjs): Mosquitto, rumqttd, aedes;
# 6. native end to end beside rumqttc through Mosquitto and rumqttd (bench/e2e), and the codec
#    beside rumqttc's (criterion, bench/benches/codec.rs, short measurement times);
# 7. bench/report.mjs: BENCHMARKS.md from the results (JSON and logs in target/bench-results/).
#
# Every figure in BENCHMARKS.md comes from this run. MQ_BENCH_SKIP=window,native,... skips parts
# (their sections then say "not measured in this run").

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

QUICK=0
ROUNDS=5
for a in "$@"; do
    case "$a" in
        --quick) QUICK=1 ;;
        [0-9]*) ROUNDS="$a" ;;
        *) echo "usage: scripts/bench.sh [rounds] [--quick]" >&2; exit 1 ;;
    esac
done
if [ "$QUICK" = 1 ]; then
    ROUNDS=1; N64=2000; N16K=200; NWIN=2000; NE2E=5000; MEMR=1; CODECR=3; CRIT="--measurement-time 1 --warm-up-time 1"
else
    N64=10000; N16K=1000; NWIN=10000; NE2E=20000; MEMR=3; CODECR=7; CRIT="--measurement-time 2 --warm-up-time 1"
fi
SKIP=",${MQ_BENCH_SKIP:-},"
skip() { [[ "$SKIP" == *",$1,"* ]]; }
OUT="$ROOT/target/bench-results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
log() { printf '[bench] %s %s\n' "$(date -u +%T)" "$*" >&2; }
started=$(date +%s)
echo "$(date -u +%FT%TZ) $(cut -d' ' -f1-3 /proc/loadavg)" > "$OUT/start"
log "results in $OUT (rounds $ROUNDS, quick $QUICK)"

# ---- 1. what the benchmarks need ----
# In a git worktree whose node_modules are symlinks to another checkout's, setup's `npm ci`
# would empty the other checkout's folders through the links: skip it there.
linked=0
for d in tests/aedes tests/browser scripts/tools tests/web; do [ -L "$d/node_modules" ] && linked=1; done
if [ "$linked" = 1 ]; then log "node_modules are symlinks: scripts/setup.sh skipped"; else scripts/setup.sh; fi
if ! command -v rumqttd >/dev/null; then
    log "installing rumqttd (cargo install rumqttd --features websocket)"
    cargo install rumqttd --features websocket
fi
[ -d bench/browser/node_modules/playwright-core ] || (cd bench/browser && npm ci --no-audit --no-fund)
scripts/build-pkg.sh > "$OUT/build-pkg.log" 2>&1 || { cat "$OUT/build-pkg.log" >&2; exit 1; }
[ "$(stat -c %s pkg/mq_bg.wasm)" -gt 50000 ] || { log "pkg/mq_bg.wasm is too small to be the package: see $OUT/build-pkg.log"; exit 1; }
# Its own target folder: built in the root's, its dependency `mq` (a cdylib too, without the
# browser feature) would overwrite the package's mq.wasm there.
(cd bench/codec-wasm && CARGO_TARGET_DIR="$ROOT/target/codec-wasm" wasm-pack build --target nodejs --release --out-dir pkg --no-pack) \
    > "$OUT/codec-wasm-build.log" 2>&1
scripts/tools/node_modules/.bin/wasm-opt -O3 bench/codec-wasm/pkg/mq_codec_wasm_bg.wasm -o bench/codec-wasm/pkg/opt.wasm
mv bench/codec-wasm/pkg/opt.wasm bench/codec-wasm/pkg/mq_codec_wasm_bg.wasm
skip native || cargo build --release --manifest-path bench/e2e/Cargo.toml > "$OUT/e2e-build.log" 2>&1
built=$(date +%s)
log "built in $((built - started)) s"

# ---- 2. browser throughput ----
if ! skip browser; then
    for size in 64 16384; do
        n=$N64; [ "$size" = 16384 ] && n=$N16K
        log "browser throughput, $n messages of $size B, $ROUNDS rounds"
        (cd bench/browser && MQ_BENCH_LIBS=mq,mq-idb,mq-tabs,MQTT.js,Paho,raw-ws MQ_BENCH_JSON="$OUT/browser-$size.json" \
            node bench.mjs "$n" "$ROUNDS" 0,1,2 "$size") > "$OUT/browser-$size.log" 2>&1 || log "browser $size: see $OUT/browser-$size.log"
    done
fi

# ---- 3. browser memory ----
if ! skip memory; then
    log "browser memory"
    node bench/browser/memory.mjs "$MEMR" 10000 --json "$OUT/memory.json" > "$OUT/memory.log" 2>&1 || log "memory: see $OUT/memory.log"
fi

# ---- 4. codec in Node ----
if ! skip codec-js; then
    log "codec (wasm) beside mqtt-packet"
    node bench/codec-wasm/bench.mjs "$CODECR" --json "$OUT/codec-js.json" > "$OUT/codec-js.log" 2>&1 || log "codec-js: see $OUT/codec-js.log"
fi

# ---- 5. in-flight window ----
if ! skip window; then
    log "in-flight window study"
    node bench/window/window.mjs "$NWIN" 1 --json "$OUT/window.json" > "$OUT/window.log" 2>&1 || log "window: see $OUT/window.log"
fi

# ---- 6. native ----
if ! skip native; then
    for broker in mosquitto rumqttd; do
        log "native end to end through $broker"
        MQ_BENCH_BROKER=$broker cargo run -q --release --manifest-path bench/e2e/Cargo.toml -- "$NE2E" "$ROUNDS" 64 \
            > "$OUT/e2e-$broker.log" 2>&1 || log "e2e $broker: see $OUT/e2e-$broker.log"
    done
fi
if ! skip codec; then
    log "codec beside rumqttc (criterion)"
    # shellcheck disable=SC2086
    CRITERION_HOME="$OUT/criterion" cargo bench --manifest-path bench/Cargo.toml --bench codec -- $CRIT \
        > "$OUT/codec.log" 2>&1 || log "codec: see $OUT/codec.log"
fi

echo "$(date -u +%FT%TZ) $(cut -d' ' -f1-3 /proc/loadavg)" > "$OUT/end"
echo "$(( $(date +%s) - built ))" > "$OUT/seconds"
log "measured in $(( $(date +%s) - built )) s; writing BENCHMARKS.md"
node bench/report.mjs "$OUT" "$ROUNDS" "$QUICK" > BENCHMARKS.md
log "BENCHMARKS.md written"
