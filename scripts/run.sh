#!/usr/bin/env bash
# The main job: set up what is missing, build the npm package into pkg/, start a local broker with
# a WebSockets listener on loopback, serve the dashboard (www/) on 127.0.0.1 and print its URL.
# Ctrl-C (or SIGTERM) stops all of it.
#
#   scripts/run.sh [--no-build]
#
# --no-build serves the pkg/ already built (scripts/build-pkg.sh) instead of building it again;
# the test of this script (tests/web/run.mjs) uses it right after the test command's build.
#
# Ports: MQ_HTTP_PORT (default 8080), MQ_WS_PORT (default 9001) and MQ_TCP_PORT (default 1883)
# are tried first; a port already taken is replaced by a free one. All of them bind 127.0.0.1.
#
# Each step is a function called from main.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

# The package: the wasm core (cargo, wasm-opt), the JS driver (esbuild), pkg-template/, and a
# size report (scripts/build-pkg.sh).
build_pkg() {
    scripts/build-pkg.sh
}

RUN_DIR=""
CHILDREN=()

# Stops what main started: the dashboard server and the broker (SIGTERM, then wait).
cleanup() {
    local pid
    trap - EXIT INT TERM
    for pid in "${CHILDREN[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${CHILDREN[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$RUN_DIR" ]; then rm -rf "$RUN_DIR"; fi
    [ "${#CHILDREN[@]}" -eq 0 ] || echo "stopped the broker and the dashboard server"
}

# Prints $1 if nothing listens on 127.0.0.1:$1, else a free port there.
pick_port() {
    node -e '
        const net = require("net");
        const tryPort = (p) => {
            const s = net.createServer();
            s.once("error", () => tryPort(0));
            s.listen(p, "127.0.0.1", () => { const q = s.address().port; s.close(() => console.log(q)); });
        };
        tryPort(Number(process.argv[1]));
    ' "$1"
}

# Waits until 127.0.0.1:$1 accepts connections (or $2 tenths of a second pass).
wait_for_port() {
    local port="$1" tries="${2:-100}"
    while [ "$tries" -gt 0 ]; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
        tries=$((tries - 1))
    done
    return 1
}

# The broker: Mosquitto when it is installed, else rumqttd (a real broker written in Rust,
# installed with cargo on first use). MQ_BROKER=mosquitto or MQ_BROKER=rumqttd chooses.
start_broker() {
    WS_PORT="$(pick_port "${MQ_WS_PORT:-9001}")"
    TCP_PORT="$(pick_port "${MQ_TCP_PORT:-1883}")"
    RUN_DIR="$(mktemp -d /tmp/mq-run.XXXXXX)"
    chmod 755 "$RUN_DIR"
    local which="${MQ_BROKER:-}"
    if [ -z "$which" ]; then
        if command -v mosquitto >/dev/null; then which=mosquitto; else which=rumqttd; fi
    fi
    case "$which" in
        mosquitto) start_mosquitto ;;
        rumqttd) start_rumqttd ;;
        *)
            echo "MQ_BROKER must be mosquitto or rumqttd, not '$which'" >&2
            return 1
            ;;
    esac
}

# Mosquitto with a WebSockets listener (the dashboard's) and a TCP one (for mosquitto_pub /
# mosquitto_sub), both on loopback, anonymous. Run as root, Mosquitto drops to user
# "mosquitto": its configuration lives in a temporary folder that user can read.
start_mosquitto() {
    if ! command -v mosquitto >/dev/null; then
        echo "mosquitto is not installed (scripts/setup.sh installs it)" >&2
        return 1
    fi
    cat >"$RUN_DIR/mosquitto.conf" <<CONF
per_listener_settings false
allow_anonymous true
persistence false
log_dest stderr
log_type error
log_type warning
log_type notice
max_queued_messages 10000
listener $WS_PORT
bind_interface lo
protocol websockets
listener $TCP_PORT
bind_interface lo
CONF
    chmod 644 "$RUN_DIR/mosquitto.conf"
    if id mosquitto >/dev/null 2>&1; then chown -R mosquitto: "$RUN_DIR" 2>/dev/null || true; fi
    mosquitto -c "$RUN_DIR/mosquitto.conf" 2>"$RUN_DIR/mosquitto.log" &
    CHILDREN+=("$!")
    broker_listening Mosquitto "$RUN_DIR/mosquitto.log"
}

# Waits for the broker just started ($1, logging to $2) to listen on both ports; says where.
broker_listening() {
    if ! wait_for_port "$WS_PORT" || ! wait_for_port "$TCP_PORT"; then
        echo "$1 did not start:" >&2
        cat "$2" >&2
        return 1
    fi
    echo "broker: $1, ws://127.0.0.1:$WS_PORT (WebSockets), mqtt://127.0.0.1:$TCP_PORT (TCP)"
}

# rumqttd (crate rumqttd, feature websocket) with the same two listeners on 127.0.0.1. Its
# first installation compiles it (several minutes); later runs find it on PATH.
start_rumqttd() {
    if ! command -v rumqttd >/dev/null; then
        echo "installing the rumqttd broker (cargo install rumqttd --features websocket; takes minutes)"
        wait_for_cargo_install rumqttd
        command -v rumqttd >/dev/null || cargo install rumqttd --features websocket
    fi
    local console_port
    console_port="$(pick_port 0)"
    cat >"$RUN_DIR/rumqttd.toml" <<CONF
id = 0

[router]
id = 0
max_connections = 1000
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10

[v4.1]
name = "v4-1"
listen = "127.0.0.1:$TCP_PORT"
next_connection_delay_ms = 1
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 1048576
    max_inflight_count = 100
    dynamic_filters = true

[ws.1]
name = "ws-1"
listen = "127.0.0.1:$WS_PORT"
next_connection_delay_ms = 1
    [ws.1.connections]
    connection_timeout_ms = 60000
    max_client_id_len = 256
    throttle_delay_ms = 0
    max_payload_size = 1048576
    max_inflight_count = 100
    dynamic_filters = true

[console]
listen = "127.0.0.1:$console_port"
CONF
    rumqttd -c "$RUN_DIR/rumqttd.toml" >"$RUN_DIR/rumqttd.log" 2>&1 &
    CHILDREN+=("$!")
    broker_listening rumqttd "$RUN_DIR/rumqttd.log"
}

# www/ and pkg/ on 127.0.0.1 (www/serve.mjs: node, no framework); the connect form starts with
# the broker above.
serve_www() {
    local want="${MQ_HTTP_PORT:-8080}" tries=100 url=""
    node www/serve.mjs --port "$want" --pkg pkg --broker "ws://127.0.0.1:$WS_PORT" >"$RUN_DIR/serve.log" 2>&1 &
    CHILDREN+=("$!")
    while [ "$tries" -gt 0 ] && [ -z "$url" ]; do
        url="$(sed -n 's/^serving //p' "$RUN_DIR/serve.log")"
        sleep 0.1
        tries=$((tries - 1))
    done
    if [ -z "$url" ]; then
        echo "the dashboard server did not start:" >&2
        cat "$RUN_DIR/serve.log" >&2
        return 1
    fi
    echo
    echo "dashboard: $url"
    echo "  try: mosquitto_pub -h 127.0.0.1 -p $TCP_PORT -t demo/hello -m '{\"hello\": 1}'"
    echo "Ctrl-C stops the broker and the dashboard server."
}

main() {
    setup_all
    if [ "${1:-}" = "--no-build" ]; then
        [ -f pkg/mq.js ] && [ -f pkg/mq_bg.wasm ] || { echo "--no-build: pkg/ holds no package" >&2; exit 1; }
    else
        build_pkg
    fi
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    start_broker
    serve_www
    # Until Ctrl-C / SIGTERM, or until the broker or the server stops by itself.
    local status=0
    wait -n "${CHILDREN[@]}" || status=$?
    echo "the broker or the dashboard server stopped (exit $status)" >&2
    exit 1
}

main "$@"
