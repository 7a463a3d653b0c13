#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (run by scripts/fuzz.sh).

usage: fuzz/seed.py VECTORS_JSON CORPUS_DIR

- CORPUS_DIR/decode/: every packet of the shared codec vectors (../shared/vectors/
  codec-mqtt-packet.json), as is.
- CORPUS_DIR/client/: scripts for fuzz/harness/client.rs: a few typical sessions written with
  the helpers below (their byte layout is the harness's, keep the two in step), and every
  vector delivered as raw broker bytes on an accepted connection.
"""
import hashlib
import json
import os
import sys

# ---- the client harness's input format (fuzz/harness/client.rs) ----


def config(clean=False, keepalive=1, ping=0, connect_timeout=0, inflight=2, queued=7, max_packet=2):
    """keepalive: index into [0, 1, 5, 60] s; ping: [None, 0, 1 s, 10 s]; connect_timeout:
    [30 s, 1 s, 0, MAX]; inflight 1..4; queued 0..7; max_packet: index into [16, 64, 300, 1 MiB]."""
    a = int(clean) | keepalive << 1 | ping << 3 | connect_timeout << 5
    return bytes([a, (inflight - 1) | queued << 2, max_packet])


def pid(n):
    """A packet id 1..8 given directly; pid(None, b) forms are not needed for seeds."""
    assert 1 <= n <= 8
    return bytes([0x80 | (n - 1)])


def broker(*packets, cut=0):
    assert 1 <= len(packets) <= 3
    return bytes([0, len(packets) - 1]) + b"".join(packets) + bytes([cut])


def connack(session_present=False, code=0):
    return bytes([0, code | (8 if session_present else 0)])


def publish(qos=0, ident=1, payload=b"m", topic=0, dup=False, retain=False):
    flags = qos | (4 if dup else 0) | (8 if retain else 0) | topic << 4
    out = bytes([2, flags])
    if qos:
        out += pid(ident)
    return out + bytes([len(payload)]) + payload


def ack(kind, ident):
    return bytes([{"puback": 4, "pubrec": 5, "pubrel": 6, "pubcomp": 7, "unsuback": 9}[kind]]) + pid(ident)


def suback(ident, *codes):
    return bytes([8]) + pid(ident) + bytes([len(codes)]) + bytes(codes)


PINGRESP = bytes([10])


def raw(data):
    out = b""
    for i in range(0, len(data), 63):
        chunk = data[i : i + 63]
        out += bytes([5, len(chunk)]) + chunk
    return out


def time(step):
    """step: 0 zero, 1 1 ms, 2 999 ms, 3 1 s, 4 1001 ms, 5 5 s, 6 10 s, 7 30 s, 8 60 s, 9 1 h."""
    return bytes([6, step])


TO_DEADLINE = bytes([8])


def pub(topic=1, qos=1, payload=b"hi", retain=False):
    return bytes([9, topic, qos, int(retain), len(payload)]) + payload


def sub(*filters):
    out = bytes([10, len(filters)])
    for f, q in filters:
        out += bytes([f, q])
    return out


def unsub(*filters):
    return bytes([11, len(filters)]) + bytes(filters)


DISCONNECT, CLOSED, CONNECTED = bytes([12]), bytes([13]), bytes([14])


def restore(flip_clean=False):
    return bytes([15, int(flip_clean)])


def sessions():
    up = CONNECTED + broker(connack())
    yield "qos1", config() + up + pub(qos=1) + broker(ack("puback", 1)) + DISCONNECT
    yield "qos2", config() + up + pub(qos=2) + broker(ack("pubrec", 1)) + broker(ack("pubcomp", 1))
    yield "qos0", config(clean=True) + up + pub(qos=0) + pub(topic=4) + pub(topic=7)
    yield "sub", config() + up + sub((0, 1), (2, 2)) + broker(suback(1, 1, 3)) + unsub(0) + broker(ack("unsuback", 2))
    yield "down", config() + up + broker(publish(1, 3), publish(2, 4), publish(2, 4, dup=True)) + broker(
        ack("pubrel", 4)
    )
    yield "keepalive", config() + up + time(3) + broker(PINGRESP) + time(3) + time(4) + TO_DEADLINE
    yield "offline", config(inflight=1) + pub(qos=1) + pub(qos=2) + sub((1, 0)) + up + broker(
        ack("puback", 1), cut=3
    ) + broker(ack("pubrec", 2)) + CLOSED + CONNECTED + broker(connack(True)) + broker(ack("pubcomp", 2))
    yield "restore", config() + up + pub(qos=2) + broker(ack("pubrec", 1)) + broker(
        publish(2, 5)
    ) + restore() + CONNECTED + broker(connack(True)) + broker(ack("pubcomp", 1), ack("pubrel", 5))
    yield "clean", config(clean=True, inflight=4) + up + sub((0, 1)) + broker(suback(1, 1)) + pub(qos=1) + pub(
        qos=2
    ) + CLOSED + CONNECTED + broker(connack()) + restore(True) + CONNECTED + broker(connack())
    yield "refused", config(connect_timeout=1) + CONNECTED + broker(connack(code=5)) + CONNECTED + time(3)


def main():
    vectors, corpus = sys.argv[1], sys.argv[2]
    for target in ("decode", "client"):
        os.makedirs(os.path.join(corpus, target), exist_ok=True)

    def write(target, data):
        name = hashlib.sha1(data).hexdigest()  # libFuzzer's own naming: no duplicates
        with open(os.path.join(corpus, target, name), "wb") as f:
            f.write(data)

    cases = json.load(open(vectors)) if os.path.exists(vectors) else []
    for case in cases:
        data = bytes.fromhex(case["hex"])
        write("decode", data)
        write("client", config(max_packet=3) + CONNECTED + broker(connack()) + raw(data))
    n = 0
    for _, data in sessions():
        write("client", data)
        n += 1
    print(f"seeds: {len(cases)} vectors to decode and client, {n} client sessions")


if __name__ == "__main__":
    main()
