#!/usr/bin/env bash
# Every test and check, natively and in headless Chromium (wasm32):
#
#   scripts/test.sh
#
# Installs what is missing first (scripts/setup.sh). Runs every step even after one fails,
# prints a summary, and exits non-zero if anything failed. Logs: target/test-logs/.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

setup_start=$SECONDS
setup_all
setup_secs=$((SECONDS - setup_start))

LOG_DIR=target/test-logs
mkdir -p "$LOG_DIR"
rm -f "$LOG_DIR"/*.log

STEP_NAMES=()
STEP_STATUS=()
STEP_SECS=()

# run_step NAME COMMAND...: runs COMMAND, output to the terminal and to $LOG_DIR/NAME.log.
run_step() {
    local name="$1" start=$SECONDS status=0
    shift
    printf '\n==> %s: %s\n' "$name" "$*"
    "$@" 2>&1 | tee "$LOG_DIR/$name.log" || status=$?
    STEP_NAMES+=("$name")
    STEP_STATUS+=("$status")
    STEP_SECS+=($((SECONDS - start)))
    if [ "$status" -ne 0 ]; then printf '==> %s FAILED (exit %d)\n' "$name" "$status"; fi
    return 0
}

# Per test binary: "<binary>: N passed, N failed" from cargo test / wasm-bindgen-test output.
per_binary() {
    awk '
        /^ +Running / { b = $0; sub(/^ *Running /, "", b); sub(/ \(.*$/, "", b) }
        /^ *Doc-tests / { b = "doc-tests " $2 }
        /^no tests to run!/ { printf "    %-34s no wasm_bindgen_test tests\n", b }
        /^test result:/ {
            p = $0; sub(/.* ok\. |.* FAILED\. /, "", p)
            split(p, f, /[ ;]+/)
            printf "    %-34s %s passed, %s failed\n", b, f[1], f[3]
        }' "$1"
}

# "PASSED FAILED" summed over every "test result:" line of a log.
totals() {
    awk '/^test result:/ {
            p = $0; sub(/.* ok\. |.* FAILED\. /, "", p)
            split(p, f, /[ ;]+/); np += f[1]; nf += f[3]
         }
         END { print np + 0, nf + 0 }' "$1"
}

# wasm-pack passes extra options to `cargo build --tests` as well, so --no-fail-fast cannot be
# given here: the wasm32 run stops at the first failing test binary.
#
# wasm32 test binaries that configure no test mode run in Node by default, and
# `wasm-pack test --chrome` then skips them while reporting success. Say browser explicitly,
# and fail if a test binary was skipped anyway.
wasm_tests_in_chromium() {
    WASM_BINDGEN_USE_BROWSER=1 \
        WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-300}" \
        wasm-pack test --headless --chrome --chromedriver "$CHROMEDRIVER"
}

# The browser client against a real Mosquitto: tests/browser/broker.mjs starts it on free
# loopback ports (WebSockets with and without a password, TCP) with a control endpoint that the
# wasm tests call to stop and start it mid-test, and writes the URLs to ports.env. The wasm tests
# get them at compile time (option_env!), behind the test-only feature browser-broker-tests.
BROWSER_BROKER_DIR=target/browser-broker
BROWSER_BROKER_PID=
start_browser_broker() {
    rm -rf "$BROWSER_BROKER_DIR"
    mkdir -p "$BROWSER_BROKER_DIR"
    node tests/browser/broker.mjs "$BROWSER_BROKER_DIR" >"$LOG_DIR/browser-broker.log" 2>&1 &
    BROWSER_BROKER_PID=$!
    local waited=0
    while [ ! -s "$BROWSER_BROKER_DIR/ports.env" ] && [ "$waited" -lt 300 ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
}
stop_browser_broker() {
    if [ -n "$BROWSER_BROKER_PID" ]; then
        kill "$BROWSER_BROKER_PID" 2>/dev/null || true
        wait "$BROWSER_BROKER_PID" 2>/dev/null || true
        BROWSER_BROKER_PID=
    fi
}
trap stop_browser_broker EXIT

# Runs "$@" with the broker's URLs in the environment, or fails if the broker did not start.
with_browser_broker() {
    if [ ! -s "$BROWSER_BROKER_DIR/ports.env" ]; then
        echo "the browser tests' broker did not start: see $LOG_DIR/browser-broker.log"
        return 1
    fi
    (set -a && source "$BROWSER_BROKER_DIR/ports.env" && set +a && "$@")
}

wasm_broker_tests_in_chromium() {
    with_browser_broker env WASM_BINDGEN_USE_BROWSER=1 \
        WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-300}" \
        wasm-pack test --headless --chrome --chromedriver "$CHROMEDRIVER" \
        --features browser-broker-tests --test browser_broker
}

# The clock rule (clippy.toml: no Instant::now, SystemTime::now, thread::sleep) binds every
# target: the one test helper that reads a clock (a virtual clock's origin) says so with #[allow].
run_step fmt cargo fmt --all -- --check
run_step clippy-native cargo clippy --all-targets -- -D warnings
run_step clippy-drivers cargo clippy --features native,tls,cli --all-targets -- -D warnings
run_step clippy-wasm32-lib cargo clippy --target wasm32-unknown-unknown --lib --features small-alloc -- -D warnings
# The package's dependency tree holds the browser stack it is built on.
run_step deps-wasm32 scripts/check-deps.sh
run_step clippy-wasm32-tests cargo clippy --target wasm32-unknown-unknown --tests -- -D warnings
run_step clippy-wasm32-broker-tests cargo clippy --target wasm32-unknown-unknown --tests \
    --features browser-broker-tests -- -D warnings
run_step test-native cargo test --no-fail-fast
# The native driver, the file store and the mq tool against real brokers (Mosquitto, aedes) on
# free loopback ports: only what the default run above does not already cover.
run_step test-drivers cargo test --features native,tls,cli --no-fail-fast --lib --bins --test 'native_*'
run_step test-wasm32 wasm_tests_in_chromium
start_browser_broker
run_step test-wasm32-broker wasm_broker_tests_in_chromium
# The npm package (scripts/build-pkg.sh -> pkg/, the driver above built by wasm-pack): the
# driver in Node against a fake WebSocket, IndexedDB and Web Locks (tests/web/fakes.mjs), for the
# orderings a real browser rarely shows (a write held back, a getter that closes the client...);
# the package's API from a page (Playwright); the reload test; a Vite 7 app, on the main thread
# and in a Web Worker; then the dashboard (www/) through Playwright (it stops and restarts the
# broker; the screenshots go to test-results/).
run_step build-pkg scripts/build-pkg.sh
run_step test-driver env MQ_PKG_DIR="$PWD/pkg" node tests/web/driver.mjs
# share: "tabs" failovers at chosen moments (a leader's page gone between the commit of a
# follower's publish and the follower reading "stored"), with the same fakes.
run_step test-share env MQ_PKG_DIR="$PWD/pkg" node tests/web/share.mjs
run_step test-client with_browser_broker env MQ_PKG_DIR="$PWD/pkg" node tests/web/client.mjs
run_step test-browser-reload with_browser_broker env MQ_PKG_DIR="$PWD/pkg" node tests/browser/reload.mjs
# Bounded memory: a page that does not read messages() while mosquitto_pub floods it (its own
# Mosquitto, which queues without limit).
run_step test-flood env MQ_PKG_DIR="$PWD/pkg" node tests/web/flood.mjs
# share: "tabs": three pages on one connection, the leader's page closed mid-stream.
run_step test-browser-tabs with_browser_broker env MQ_PKG_DIR="$PWD/pkg" node tests/browser/tabs.mjs
# Fault injection from a page: 10,000 QoS 1 and 10,000 QoS 2 messages between two clients of the
# package through WebSocket proxies that cut, stall and close (tests/web/wsproxy.mjs).
run_step test-browser-faults with_browser_broker env MQ_PKG_DIR="$PWD/pkg" node tests/web/faults.mjs
# Its TypeScript definitions, type-checked (tsc --strict) as an app would use them.
run_step test-types env MQ_PKG_DIR="$PWD/pkg" node tests/web/types.mjs
run_step test-package with_browser_broker env MQ_PKG_DIR="$PWD/pkg" node tests/web/vite.mjs
run_step test-dashboard with_browser_broker env MQ_PKG_DIR="$PWD/pkg" node tests/web/dashboard.mjs
stop_browser_broker
# The README's first command itself (scripts/run.sh --no-build: the pkg/ just built): broker and
# dashboard server up on loopback, a page from it reaching the broker, Ctrl-C stopping it all.
run_step test-run node tests/web/run.mjs

# A skipped wasm32 test binary is a failure, whatever wasm-pack's exit code says.
if grep -q "so skipping" "$LOG_DIR/test-wasm32.log"; then
    echo "==> test-wasm32 FAILED: a test binary was skipped instead of run in Chromium"
    for i in "${!STEP_NAMES[@]}"; do
        [ "${STEP_NAMES[$i]}" = test-wasm32 ] && STEP_STATUS[i]=1
    done
fi

read -r native_pass native_fail < <(totals "$LOG_DIR/test-native.log")
read -r wasm_pass wasm_fail < <(totals "$LOG_DIR/test-wasm32.log")
# A wasm-pack test run that compiled to zero tests is a failure too.
for i in "${!STEP_NAMES[@]}"; do
    if [ "${STEP_NAMES[$i]}" = test-wasm32 ] && [ "$wasm_pass" -eq 0 ]; then
        echo "==> test-wasm32 FAILED: wasm-pack test ran no test"
        STEP_STATUS[i]=1
    fi
done
read -r drivers_pass drivers_fail < <(totals "$LOG_DIR/test-drivers.log")
read -r wbroker_pass wbroker_fail < <(totals "$LOG_DIR/test-wasm32-broker.log")
read -r reload_pass reload_fail < <(totals "$LOG_DIR/test-browser-reload.log")
read -r flood_pass flood_fail < <(totals "$LOG_DIR/test-flood.log")
read -r tabs_pass tabs_fail < <(totals "$LOG_DIR/test-browser-tabs.log")
read -r faults_pass faults_fail < <(totals "$LOG_DIR/test-browser-faults.log")
read -r driver_pass driver_fail < <(totals "$LOG_DIR/test-driver.log")
read -r share_pass share_fail < <(totals "$LOG_DIR/test-share.log")
read -r client_pass client_fail < <(totals "$LOG_DIR/test-client.log")
read -r package_pass package_fail < <(totals "$LOG_DIR/test-package.log")
read -r dash_pass dash_fail < <(totals "$LOG_DIR/test-dashboard.log")
read -r run_pass run_fail < <(totals "$LOG_DIR/test-run.log")
read -r types_pass types_fail < <(totals "$LOG_DIR/test-types.log")

checks_pass=0 checks_fail=0 steps_fail=0
printf '\n==> summary (setup %ds)\n' "$setup_secs"
for i in "${!STEP_NAMES[@]}"; do
    name="${STEP_NAMES[$i]}" status="${STEP_STATUS[$i]}"
    if [ "$status" -eq 0 ]; then word=ok; else word=FAILED; steps_fail=$((steps_fail + 1)); fi
    printf '  %-7s %-20s %4ds\n' "$word" "$name" "${STEP_SECS[$i]}"
    case "$name" in
        test-*) ;;
        *) if [ "$status" -eq 0 ]; then checks_pass=$((checks_pass + 1)); else checks_fail=$((checks_fail + 1)); fi ;;
    esac
done
echo "  native tests: $native_pass passed, $native_fail failed"
per_binary "$LOG_DIR/test-native.log"
echo "  native driver tests (features native,tls,cli): $drivers_pass passed, $drivers_fail failed"
per_binary "$LOG_DIR/test-drivers.log"
echo "  wasm32 tests (headless Chromium): $wasm_pass passed, $wasm_fail failed"
per_binary "$LOG_DIR/test-wasm32.log"
echo "  wasm32 tests against Mosquitto (headless Chromium): $wbroker_pass passed, $wbroker_fail failed"
per_binary "$LOG_DIR/test-wasm32-broker.log"
echo "  driver edge cases (pkg/ in Node, fakes): $driver_pass passed, $driver_fail failed"
echo "  share: tabs failovers (pkg/ in Node, fakes): $share_pass passed, $share_fail failed"
echo "  npm client tests (Playwright, Chromium, Mosquitto): $client_pass passed, $client_fail failed"
echo "  page reload checks, npm package (Playwright, Chromium): $reload_pass passed, $reload_fail failed"
echo "  flood checks, npm package (Playwright, Chromium, Mosquitto): $flood_pass passed, $flood_fail failed"
echo "  shared-connection tab checks (Playwright, Chromium): $tabs_pass passed, $tabs_fail failed"
echo "  fault injection from a page (WebSocket proxies, Chromium, Mosquitto): $faults_pass passed, $faults_fail failed"
sed -n 's/^# faults: sent /    sent /p' "$LOG_DIR/test-browser-faults.log" 2>/dev/null || true
echo "  npm package checks (Vite app, main thread and Worker): $package_pass passed, $package_fail failed"
echo "  TypeScript definition checks (tsc --strict): $types_pass passed, $types_fail failed"
echo "  dashboard checks (Playwright, Chromium): $dash_pass passed, $dash_fail failed"
echo "  scripts/run.sh checks (the main command, Mosquitto and, when installed, rumqttd): $run_pass passed, $run_fail failed"

# A test step that failed without a failing test (it did not build, say) counts as one failure.
extra_fail=0
for i in "${!STEP_NAMES[@]}"; do
    case "${STEP_NAMES[$i]}" in
        test-native) failed_tests=$native_fail ;;
        test-drivers) failed_tests=$drivers_fail ;;
        test-wasm32) failed_tests=$wasm_fail ;;
        test-wasm32-broker) failed_tests=$wbroker_fail ;;
        test-browser-reload) failed_tests=$reload_fail ;;
        test-flood) failed_tests=$flood_fail ;;
        test-browser-tabs) failed_tests=$tabs_fail ;;
        test-browser-faults) failed_tests=$faults_fail ;;
        test-driver) failed_tests=$driver_fail ;;
        test-share) failed_tests=$share_fail ;;
        test-client) failed_tests=$client_fail ;;
        test-package) failed_tests=$package_fail ;;
        test-dashboard) failed_tests=$dash_fail ;;
        test-run) failed_tests=$run_fail ;;
        test-types) failed_tests=$types_fail ;;
        *) continue ;;
    esac
    if [ "${STEP_STATUS[$i]}" -ne 0 ] && [ "$failed_tests" -eq 0 ]; then
        extra_fail=$((extra_fail + 1))
    fi
done
sed -n 's/^  wasm + JS */  npm package size, wasm + JS (budget 52,500 bytes gzip): /p' "$LOG_DIR/build-pkg.log"
echo "  checks (fmt, clippy, package build): $checks_pass passed, $checks_fail failed"
all_pass=$((native_pass + drivers_pass + wasm_pass + wbroker_pass + reload_pass + flood_pass + tabs_pass + faults_pass + driver_pass + share_pass + client_pass + package_pass + dash_pass + run_pass + types_pass + checks_pass))
all_fail=$((native_fail + drivers_fail + wasm_fail + wbroker_fail + reload_fail + flood_fail + tabs_fail + faults_fail + driver_fail + share_fail + client_fail + package_fail + dash_fail + run_fail + types_fail + checks_fail + extra_fail))
echo "$all_pass passed, $all_fail failed"

[ "$steps_fail" -eq 0 ]
