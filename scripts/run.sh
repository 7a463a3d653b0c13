#!/usr/bin/env bash
# The main job: set up what is missing, build the npm package into pkg/, start a local broker with
# a WebSockets listener on loopback, serve the dashboard (www/) on 127.0.0.1 and print its URL.
# Ctrl-C (or SIGTERM) stops all of it.
#
#   scripts/run.sh
#
# Ports: MQ_HTTP_PORT (default 8080), MQ_WS_PORT (default 9001) and MQ_TCP_PORT (default 1883)
# are tried first; a port already taken is replaced by a free one. All of them bind 127.0.0.1.
#
# Each step is a function called from main.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

# The package: wasm-pack, wasm-opt, pkg-template/, and a size report (scripts/build-pkg.sh).
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

# Mosquitto with a WebSockets listener (the dashboard's) and a TCP one (for mosquitto_pub /
# mosquitto_sub), both on loopback, anonymous. Run as root, Mosquitto drops to user
# "mosquitto": its configuration lives in a temporary folder that user can read.
start_broker() {
    if ! command -v mosquitto >/dev/null; then
        echo "mosquitto is not installed (scripts/setup.sh installs it)" >&2
        return 1
    fi
    WS_PORT="$(pick_port "${MQ_WS_PORT:-9001}")"
    TCP_PORT="$(pick_port "${MQ_TCP_PORT:-1883}")"
    RUN_DIR="$(mktemp -d /tmp/mq-run.XXXXXX)"
    chmod 755 "$RUN_DIR"
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
    if ! wait_for_port "$WS_PORT" || ! wait_for_port "$TCP_PORT"; then
        echo "mosquitto did not start:" >&2
        cat "$RUN_DIR/mosquitto.log" >&2
        return 1
    fi
    echo "broker: Mosquitto, ws://127.0.0.1:$WS_PORT (WebSockets), mqtt://127.0.0.1:$TCP_PORT (TCP)"
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
    build_pkg
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
