#!/usr/bin/env bash
# Fuzzing, a command of its own (never part of scripts/test.sh):
#
#   scripts/fuzz.sh [seconds-per-target] [target...]      default: 60 s, targets decode client
#
# Installs what it needs only if missing (a nightly toolchain, cargo-fuzz: several minutes the
# first time), seeds fuzz/corpus/<target>/ from ../shared/vectors/ and fuzz/seed.py's sessions,
# then runs each target for the given time with one libFuzzer worker, and prints executions,
# exec/s and coverage from libFuzzer's output. Crashes land in fuzz/artifacts/<target>/; replay
# one with `cargo +nightly fuzz run <target> <file>` (MQ_FUZZ_TRACE=1 tells the client's story)
# and keep it as a test in tests/fuzz_regressions.rs. Exit status 1 if any target crashed.
#
# Environment: MQ_VECTORS (default ../shared/vectors), MQ_FUZZ_SANITIZER (default none: the
# code is safe Rust and ASan costs ~2x speed; "address" to use it), MQ_FUZZ_ARGS (more libFuzzer
# flags; a later -max_len overrides the client's 512).
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decode client)
vectors="${MQ_VECTORS:-../shared/vectors}"
sanitizer="${MQ_FUZZ_SANITIZER:-none}"

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "== installing the nightly toolchain"
    rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null; then
    echo "== installing cargo-fuzz"
    cargo +nightly install cargo-fuzz --locked
fi

echo "== seeding fuzz/corpus from $vectors"
if [ -f "$vectors/codec-mqtt-packet.json" ]; then
    python3 fuzz/seed.py "$vectors/codec-mqtt-packet.json" fuzz/corpus
else
    echo "(no $vectors/codec-mqtt-packet.json: the client sessions only)"
    python3 fuzz/seed.py /nonexistent fuzz/corpus
fi

status=0
summary=()
for t in "${targets[@]}"; do
    echo "== $t: ${secs}s"
    mkdir -p fuzz/artifacts/"$t"
    log="fuzz/artifacts/$t/last-run.log"
    # The client target's inputs are scripts: 512 bytes is ~150 steps, deep enough, and keeps
    # libFuzzer from growing them (and so slowing down) without bound.
    extra=""
    [ "$t" = client ] && extra="-max_len=512"
    # -a: debug assertions on (the core's debug_assert!s are invariants too).
    # shellcheck disable=SC2086
    if cargo +nightly fuzz run -s "$sanitizer" -a "$t" fuzz/corpus/"$t" -- \
        -max_total_time="$secs" -print_final_stats=1 $extra ${MQ_FUZZ_ARGS:-} \
        >"$log" 2>&1; then
        result="ok"
    else
        result="CRASH (see $log and fuzz/artifacts/$t/)"
        status=1
    fi
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE|pulse)|^stat::|^SUMMARY|panicked|^Test unit written|^artifact_prefix' "$log" | tail -n 12 || true
    execs=$(grep -oE '^stat::number_of_executed_units:[[:space:]]+[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
    rate=$(grep -oE '^stat::average_exec_per_sec:[[:space:]]+[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9a-zA-Z]+' <<<"$last" || true)
    summary+=("$t: ${execs:-?} execs, ${rate:-?} exec/s, ${secs}s, ${cov:-no coverage line}, $result")
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$status"
