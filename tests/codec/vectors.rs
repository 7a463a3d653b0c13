//! The shared vectors: mqtt-packet's packets (every case checked, none skipped) and
//! Mosquitto's topic matches.

use super::*;

/// The bytes of a JSON string or `{"$hex": ...}` Buffer.
fn json_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Object(o) => hex(o["$hex"].as_str().expect("$hex is a string")),
        other => panic!("not a string or Buffer: {other}"),
    }
}

fn json_u64(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an unsigned integer: {v}"))
}

fn json_bool(v: &Value) -> bool {
    v.as_bool().unwrap_or_else(|| panic!("not a boolean: {v}"))
}

fn packet_id(p: &Packet) -> Option<u16> {
    match p {
        Packet::Publish(p) => Some(p.pkid),
        Packet::PubAck(id) | Packet::PubRec(id) | Packet::PubRel(id) | Packet::PubComp(id) => Some(*id),
        Packet::UnsubAck(id) => Some(*id),
        Packet::Subscribe(s) => Some(s.pkid),
        Packet::SubAck(s) => Some(s.pkid),
        Packet::Unsubscribe(u) => Some(u.pkid),
        _ => None,
    }
}

/// Checks every field mqtt-packet reports against the decoded packet; a field with no mapping
/// fails the test, so nothing is silently ignored. `translated`: the bytes are a 3.1 CONNECT
/// rewritten as 3.1.1, shorter by `shrunk` bytes (see [`to_mqtt_311`]).
fn check_fields(
    name: &str,
    packet: &Packet,
    bytes: &[u8],
    json: &Map<String, Value>,
    translated: bool,
    shrunk: usize,
) {
    let byte1 = bytes[0];
    for (key, v) in json {
        if v.is_null() {
            continue; // mqtt-packet's "not applicable" (topic and payload of a CONNACK)
        }
        match (key.as_str(), packet) {
            ("cmd", p) => assert_eq!(v.as_str(), Some(p.name().to_ascii_lowercase().as_str()), "{name}"),
            ("length", _) => {
                let header = parse_header(bytes, MAX).unwrap().unwrap();
                assert_eq!(json_u64(v) as usize - shrunk, header.remaining, "{name}: length");
            }
            // mqtt-packet reports the fixed header's flag bits for every packet type.
            ("qos", p) => {
                assert_eq!(json_u64(v), u64::from((byte1 >> 1) & 3), "{name}: qos bits");
                if let Packet::Publish(p) = p {
                    assert_eq!(json_u64(v), p.qos as u64, "{name}: qos");
                }
            }
            ("dup", p) => {
                assert_eq!(json_bool(v), byte1 & 0x08 != 0, "{name}: dup bit");
                if let Packet::Publish(p) = p {
                    assert_eq!(json_bool(v), p.dup, "{name}: dup");
                }
            }
            ("retain", p) => {
                assert_eq!(json_bool(v), byte1 & 0x01 != 0, "{name}: retain bit");
                if let Packet::Publish(p) = p {
                    assert_eq!(json_bool(v), p.retain, "{name}: retain");
                }
            }
            ("messageId", p) => assert_eq!(packet_id(p), Some(json_u64(v) as u16), "{name}: messageId"),
            ("topic", Packet::Publish(p)) => assert_eq!(Some(p.topic.as_str()), v.as_str(), "{name}: topic"),
            ("payload", Packet::Publish(p)) => {
                assert_eq!(p.payload.as_ref(), json_bytes(v), "{name}: payload")
            }
            // Translated cases had "MQIsdp" / 3 (checked before translating).
            ("protocolId", Packet::Connect(_)) if !translated => {
                assert_eq!(v.as_str(), Some("MQTT"), "{name}")
            }
            ("protocolVersion", Packet::Connect(_)) if !translated => assert_eq!(json_u64(v), 4, "{name}"),
            ("protocolId" | "protocolVersion", Packet::Connect(_)) => {}
            ("clean", Packet::Connect(c)) => assert_eq!(json_bool(v), c.clean_session, "{name}: clean"),
            ("keepalive", Packet::Connect(c)) => assert_eq!(json_u64(v), u64::from(c.keep_alive), "{name}"),
            ("clientId", Packet::Connect(c)) => assert_eq!(json_bytes(v), c.client_id.as_bytes(), "{name}"),
            ("username", Packet::Connect(c)) => {
                assert_eq!(Some(json_bytes(v)), c.username.as_ref().map(|u| u.as_bytes().to_vec()), "{name}")
            }
            ("password", Packet::Connect(c)) => {
                assert_eq!(Some(json_bytes(v)), c.password.as_ref().map(|p| p.to_vec()), "{name}")
            }
            ("will", Packet::Connect(c)) => {
                let will = c.will.as_ref().unwrap_or_else(|| panic!("{name}: no will"));
                for (k, wv) in v.as_object().expect("will is an object") {
                    match k.as_str() {
                        "topic" => assert_eq!(wv.as_str(), Some(will.topic.as_str()), "{name}: will topic"),
                        "payload" => {
                            assert_eq!(json_bytes(wv), will.payload.as_ref(), "{name}: will payload")
                        }
                        "qos" => assert_eq!(json_u64(wv), will.qos as u64, "{name}: will qos"),
                        "retain" => assert_eq!(json_bool(wv), will.retain, "{name}: will retain"),
                        other => panic!("{name}: will field {other} has no mapping"),
                    }
                }
            }
            ("returnCode", Packet::ConnAck(c)) => assert_eq!(json_u64(v), c.code as u64, "{name}"),
            ("sessionPresent", Packet::ConnAck(c)) => assert_eq!(json_bool(v), c.session_present, "{name}"),
            ("subscriptions", Packet::Subscribe(s)) => {
                let expected: Vec<(String, u64)> = v
                    .as_array()
                    .expect("subscriptions is an array")
                    .iter()
                    .map(|s| (s["topic"].as_str().expect("topic").to_string(), json_u64(&s["qos"])))
                    .collect();
                let got: Vec<(String, u64)> =
                    s.filters.iter().map(|(f, q)| (f.to_string(), *q as u64)).collect();
                assert_eq!(got, expected, "{name}: subscriptions");
            }
            ("granted", Packet::SubAck(s)) => {
                let expected: Vec<u64> =
                    v.as_array().expect("granted is an array").iter().map(json_u64).collect();
                let got: Vec<u64> = s.codes.iter().map(|c| u64::from(c.to_u8())).collect();
                assert_eq!(got, expected, "{name}: granted");
            }
            ("unsubscriptions", Packet::Unsubscribe(u)) => {
                let expected: Vec<&str> =
                    v.as_array().expect("an array").iter().map(|f| f.as_str().expect("a string")).collect();
                assert_eq!(u.filters, expected, "{name}: unsubscriptions");
            }
            (key, p) => panic!("{name}: field {key} has no mapping for {}", p.name()),
        }
    }
    // mqtt-packet leaves out what the packet does not carry.
    if let Packet::Connect(c) = packet {
        assert_eq!(c.will.is_some(), json.contains_key("will"), "{name}: will");
        assert_eq!(c.username.is_some(), json.contains_key("username"), "{name}: username");
        assert_eq!(c.password.is_some(), json.contains_key("password"), "{name}: password");
    }
    if let Packet::Publish(p) = packet {
        if !json.contains_key("messageId") {
            assert_eq!(p.pkid, 0, "{name}: packet id without messageId");
        }
    }
}

/// A CONNECT of MQTT 3.1 ("MQIsdp", level 3) or with the name "MQTT" but level 3, rewritten as
/// the same CONNECT in 3.1.1 ("MQTT", level 4). Returns the bytes and how much shorter they are;
/// `None` for anything else (bridge levels 0x83/0x84 included: no standard defines them).
fn to_mqtt_311(bytes: &[u8]) -> Option<(Vec<u8>, usize)> {
    const MQISDP_3: &[u8] = b"\x00\x06MQIsdp\x03";
    const MQTT_3: &[u8] = b"\x00\x04MQTT\x03";
    let (&byte1, rest) = bytes.split_first()?;
    let (&len, body) = rest.split_first()?;
    if byte1 >> 4 != 1 || len >= 0x80 {
        return None;
    }
    let (prefix, shrunk) = [(MQISDP_3, 2), (MQTT_3, 0)].into_iter().find(|(p, _)| body.starts_with(p))?;
    Some((cat(&[&[byte1, len - shrunk as u8], b"\x00\x04MQTT\x04", &body[prefix.len()..]]), shrunk))
}

/// How the cases were handled; every case lands in exactly one bucket, and none is skipped.
#[derive(Debug, Default, PartialEq)]
struct Tally {
    /// `accept`: decoded, every field equal, re-encoded to the same bytes.
    accepted: usize,
    /// `reject`: decoding failed (never "incomplete").
    rejected: usize,
    /// `accept` in mqtt-packet, but MQTT 3.1 ("MQIsdp", level 3): refused with
    /// InvalidProtocolName [MQTT-3.1.2-1], then checked as an `accept` once rewritten as 3.1.1.
    mqtt31_refused_then_accepted_as_311: usize,
    /// `accept` in mqtt-packet, but "bridge mode" levels 0x83/0x84 with the 3.1 name: refused
    /// with InvalidProtocolName [MQTT-3.1.2-1]; not rewritten, as no standard defines bit 7.
    bridge_refused: usize,
    /// `reject` cases with a 3.1 header: refused as they are, and refused again once rewritten
    /// as 3.1.1, so the rule they were written for is reached, not just the level check.
    rejected_again_as_311: usize,
    /// Cases not checked. Must stay 0.
    skipped: usize,
}

fn check_accept(name: &str, bytes: &[u8], json: &Map<String, Value>, translated: bool, shrunk: usize) {
    let packet = decode_all(bytes).unwrap_or_else(|e| panic!("{name}: {} refused: {e}", to_hex(bytes)));
    check_fields(name, &packet, bytes, json, translated, shrunk);
    assert_eq!(to_hex(&packet.to_bytes().unwrap()), to_hex(bytes), "{name}: re-encoding");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn mqtt_packet_vectors() {
    let cases: Vec<Value> = serde_json::from_str(super::MQTT_PACKET_VECTORS).expect("vectors are JSON");
    let mut t = Tally::default();
    for case in &cases {
        let name = case["name"].as_str().expect("name");
        let bytes = hex(case["hex"].as_str().expect("hex"));
        match case["expect"].as_str() {
            Some("accept") => {
                let json = case["packet"].as_object().expect("packet");
                let protocol_id = json.get("protocolId").and_then(Value::as_str);
                if protocol_id == Some("MQIsdp") {
                    refused(&bytes, CodecError::InvalidProtocolName);
                    if let Some((rewritten, shrunk)) = to_mqtt_311(&bytes) {
                        assert_eq!(case["protocol"], "3.1", "{name}");
                        check_accept(name, &rewritten, json, true, shrunk);
                        t.mqtt31_refused_then_accepted_as_311 += 1;
                    } else {
                        assert_eq!(json["bridgeMode"], true, "{name}: a 3.1 case that is not rewritten");
                        t.bridge_refused += 1;
                    }
                } else {
                    check_accept(name, &bytes, json, false, 0);
                    t.accepted += 1;
                }
            }
            Some("reject") => {
                assert!(decode_all(&bytes).is_err(), "{name}");
                t.rejected += 1;
                if let Some((rewritten, _)) = to_mqtt_311(&bytes) {
                    assert!(decode_all(&rewritten).is_err(), "{name}: accepted once rewritten as 3.1.1");
                    t.rejected_again_as_311 += 1;
                }
            }
            other => {
                panic!("{name}: unknown expectation {other:?}");
            }
        }
    }
    assert_eq!(cases.len(), 80, "the vector file changed: review the counts below");
    let expected = Tally {
        accepted: 23,
        rejected: 44,
        mqtt31_refused_then_accepted_as_311: 11,
        bridge_refused: 2,
        rejected_again_as_311: 12,
        skipped: 0,
    };
    assert_eq!(t, expected);
    assert_eq!(
        t.accepted + t.rejected + t.mqtt31_refused_then_accepted_as_311 + t.bridge_refused,
        cases.len()
    );
}

/// Specific errors for some vector cases, once rewritten as 3.1.1, so each reaches its rule.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn mqtt_packet_connect_rejects_reach_their_rule() {
    let cases = [
        ("120a00044d5154540302001e", CodecError::InvalidHeaderFlags { packet_type: 1, flags: 2 }),
        ("100a00044d5154540303001e", CodecError::ConnectReservedFlag),
        ("100a00044d5154540322001e", CodecError::WillFlagsWithoutWill),
        ("100a00044d5154540312001e", CodecError::WillFlagsWithoutWill),
        ("100a00044d515454030a001e", CodecError::WillFlagsWithoutWill),
        ("101000064d514973647003f6001e00020000", CodecError::NullCharacter),
        ("100a00064d514973647003f6001e", CodecError::UnexpectedEnd),
    ];
    for (h, err) in cases {
        let (rewritten, _) = to_mqtt_311(&hex(h)).expect("a 3.1 CONNECT");
        refused(&rewritten, err);
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn mosquitto_topic_match_vectors() {
    let cases: Vec<Value> = serde_json::from_str(super::TOPIC_VECTORS).expect("vectors are JSON");
    let (mut invalid, mut valid) = (0, 0);
    for case in &cases {
        let filter = case["filter"].as_str().expect("filter");
        let topic = case["topic"].as_str().expect("topic");
        let expected = case["match"].as_bool().expect("match");
        let got = try_matches(filter, topic);
        match case["rc"].as_str() {
            Some("MOSQ_ERR_INVAL") => {
                assert!(got.is_err(), "{filter:?} / {topic:?}: {got:?}, Mosquitto says invalid");
                invalid += 1;
            }
            None | Some("MOSQ_ERR_SUCCESS") => {
                assert_eq!(got, Ok(expected), "{filter:?} / {topic:?}");
                assert_eq!(matches(filter, topic), expected);
                valid += 1;
            }
            Some(other) => panic!("unknown rc {other}"),
        }
    }
    assert_eq!((valid, invalid), (24, 39));
    assert_eq!(cases.len(), 63);
}

/// The examples of 4.7.1 and 4.7.2.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn topic_matching_standard_examples_mqtt_4_7() {
    let cases = [
        ("sport/tennis/player1/#", "sport/tennis/player1", true),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking", true),
        ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true),
        ("sport/#", "sport", true),
        ("sport/tennis/+", "sport/tennis/player1", true),
        ("sport/tennis/+", "sport/tennis/player1/ranking", false),
        ("sport/+", "sport", false),
        ("sport/+", "sport/", true),
        ("+/+", "/finance", true),
        ("/+", "/finance", true),
        ("+", "/finance", false),
        ("#", "$SYS/uptime", false),
        ("+/monitor/Clients", "$SYS/monitor/Clients", false),
        ("$SYS/#", "$SYS/uptime", true),
        ("$SYS/monitor/+", "$SYS/monitor/Clients", true),
        ("ACCOUNTS", "Accounts", false),
        ("a b/+", "a b/c d", true),
    ];
    for (filter, topic, expected) in cases {
        assert_eq!(try_matches(filter, topic), Ok(expected), "{filter} / {topic}");
    }
    assert_eq!(try_matches("sport/tennis#", "sport/tennis"), Err(CodecError::InvalidTopicFilter));
    assert_eq!(try_matches("sport/tennis/#/ranking", "x"), Err(CodecError::InvalidTopicFilter));
    assert_eq!(try_matches("sport+", "x"), Err(CodecError::InvalidTopicFilter));
    assert_eq!(try_matches("", "x"), Err(CodecError::EmptyTopic));
    assert_eq!(try_matches("#", ""), Err(CodecError::EmptyTopic));
}
