//! One test per rule, named after its statement id: each `CodecError` from decode and, where a
//! packet can express the mistake, refused by encode with the output buffer left unchanged.

use super::*;

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn reserved_packet_types_are_malformed_mqtt_2_2_1() {
    refused(&hex("0000"), CodecError::ReservedPacketType(0));
    refused(&hex("f000"), CodecError::ReservedPacketType(15));
    refused(&hex("000100"), CodecError::ReservedPacketType(0));
}

/// A minimal valid body for each type (PUBLISH aside), to test the header flags alone.
fn body_for(packet_type: u8) -> Vec<u8> {
    match packet_type {
        1 => connect_body(0x02, &field(b"")),
        2 => vec![0, 0],
        4..=7 | 11 => vec![0, 1],
        8 => cat(&[&[0, 1], &field(b"a"), &[0]]),
        9 => vec![0, 1, 0],
        10 => cat(&[&[0, 1], &field(b"a")]),
        _ => vec![],
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn fixed_header_flags_must_match_the_type_mqtt_2_2_2_1_and_2() {
    for packet_type in (1..=14u8).filter(|t| *t != 3) {
        let required = if matches!(packet_type, 6 | 8 | 10) { 0b0010 } else { 0 };
        let body = body_for(packet_type);
        assert!(decode_all(&frame(packet_type << 4 | required, &body)).is_ok(), "type {packet_type}");
        for flags in (0..16u8).filter(|f| *f != required) {
            refused(
                &frame(packet_type << 4 | flags, &body),
                CodecError::InvalidHeaderFlags { packet_type, flags },
            );
        }
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn remaining_length_over_four_bytes_is_malformed_mqtt_2_2_3() {
    refused(&hex("30ffffffff01"), CodecError::MalformedRemainingLength);
    refused(&hex("c080808080"), CodecError::MalformedRemainingLength);
    refused(&hex("10ffffff80"), CodecError::MalformedRemainingLength);
    // Four continuation bytes are enough to know: the fifth need not arrive.
    assert_eq!(decode_slice(&hex("30ffffffff"), MAX), Err(CodecError::MalformedRemainingLength));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn field_past_the_remaining_length_is_malformed_mqtt_2_2_3() {
    refused(&hex("400100"), CodecError::UnexpectedEnd); // PUBACK with half an id
    refused(&hex("4000"), CodecError::UnexpectedEnd);
    refused(&hex("200100"), CodecError::UnexpectedEnd);
    refused(&hex("3003000574"), CodecError::UnexpectedEnd); // topic longer than the packet
    refused(&hex("3203000174"), CodecError::UnexpectedEnd); // QoS 1, no packet id
    refused(&frame(0x10, &connect_body(0xC2, &field(b"id"))), CodecError::UnexpectedEnd); // no user
    refused(&frame(0x82, &cat(&[&[0, 1], &field(b"a")])), CodecError::UnexpectedEnd);
    // no QoS byte
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn bytes_after_the_last_field_are_malformed_mqtt_2_2_3() {
    refused(&hex("4003000100"), CodecError::TrailingBytes);
    refused(&hex("b003000100"), CodecError::TrailingBytes);
    refused(&hex("2003000000"), CodecError::TrailingBytes);
    refused(&hex("c00100"), CodecError::TrailingBytes);
    refused(&hex("d00100"), CodecError::TrailingBytes);
    refused(&hex("e00100"), CodecError::TrailingBytes);
    refused(&frame(0x10, &connect_body(0x02, &cat(&[&field(b"id"), &[0]]))), CodecError::TrailingBytes);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn publish_qos3_is_malformed_mqtt_3_3_1_4() {
    refused(&hex("3606000474657374"), CodecError::InvalidQoS(3));
    refused(&publish_bytes(3, b"t"), CodecError::InvalidQoS(3));
    assert_eq!(QoS::from_u8(3), Err(CodecError::InvalidQoS(3)));
    assert_eq!(QoS::from_u8(2), Ok(QoS::ExactlyOnce));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn will_qos3_is_malformed_mqtt_3_1_2_14() {
    let will = cat(&[&field(b"id"), &field(b"w"), &field(b"")]);
    refused(&frame(0x10, &connect_body(0x1E, &will)), CodecError::InvalidQoS(3));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn subscribe_qos3_is_malformed_mqtt_3_8_3_4() {
    refused(&hex("8209000600047465737403"), CodecError::InvalidQoS(3));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn subscribe_reserved_qos_bits_are_malformed_mqtt_3_8_3_4() {
    // Bit 2 alone would otherwise read as QoS 4: the reserved-bits rule comes first.
    refused(&hex("8209000600047465737404"), CodecError::SubscribeReservedBits(0x04));
    refused(&hex("8209000600047465737407"), CodecError::SubscribeReservedBits(0x07));
    refused(&hex("8209000600047465737408"), CodecError::SubscribeReservedBits(0x08));
    refused(&hex("8209000600047465737480"), CodecError::SubscribeReservedBits(0x80));
    refused(&hex("82090006000474657374ff"), CodecError::SubscribeReservedBits(0xFF));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn dup_on_qos0_publish_is_malformed_mqtt_3_3_1_2() {
    refused(&hex("3806000474657374"), CodecError::DupWithQoS0);
    encode_refused(
        &Packet::Publish(Publish { dup: true, ..publish("t", QoS::AtMostOnce, 0, b"") }),
        CodecError::DupWithQoS0,
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn ill_formed_utf8_is_malformed_mqtt_1_5_3_1() {
    let bad: [&[u8]; 5] = [
        b"\xff",             // never valid
        b"\xc0\x80",         // overlong U+0000
        b"\xed\xa0\x80",     // U+D800, a surrogate [MQTT-1.5.3-1]
        b"a\xe2\x82",        // truncated sequence
        b"\xf4\x90\x80\x80", // above U+10FFFF
    ];
    for s in bad {
        refused(&publish_bytes(0, s), CodecError::InvalidUtf8);
        refused(&frame(0x10, &connect_body(0x02, &field(s))), CodecError::InvalidUtf8);
        refused(&frame(0x82, &cat(&[&[0, 1], &field(s), &[0]])), CodecError::InvalidUtf8);
        refused(&frame(0xA2, &cat(&[&[0, 1], &field(s)])), CodecError::InvalidUtf8);
        refused(
            &frame(0x10, &connect_body(0x82, &cat(&[&field(b"id"), &field(s)]))),
            CodecError::InvalidUtf8,
        );
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn null_character_is_malformed_mqtt_1_5_3_2() {
    refused(&publish_bytes(1, b"a\0b"), CodecError::NullCharacter);
    refused(&frame(0x10, &connect_body(0x02, &field(b"\0"))), CodecError::NullCharacter);
    refused(&hex("820e007b000a68696a6b6c2f6d6e6f00"), CodecError::NullCharacter);
    let err = CodecError::NullCharacter;
    topic_refused("a\0", err.clone());
    encode_refused(&Packet::Connect(connect("id\0")), err.clone());
    encode_refused(&Packet::Connect(Connect { username: Some("\0".into()), ..connect("id") }), err.clone());
    filter_refused("a/\0", err.clone());
    filter_refused("\0", err);
    // Binary data may hold zero bytes.
    let with_zero =
        Connect { username: Some("u".into()), password: Some(Bytes::from_static(b"\0")), ..connect("id") };
    assert_eq!(
        decode_all(&Packet::Connect(with_zero.clone()).to_bytes().unwrap()),
        Ok(Packet::Connect(with_zero))
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn bom_and_noncharacters_are_kept_mqtt_1_5_3_3() {
    for topic in ["\u{FEFF}a", "a\u{FFFF}", "\u{1}\u{7F}\u{9F}"] {
        let packet = Packet::Publish(publish(topic, QoS::AtMostOnce, 0, b""));
        let Ok(Packet::Publish(p)) = decode_all(&packet.to_bytes().unwrap()) else { panic!("{topic:?}") };
        assert_eq!(p.topic, topic);
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn fields_longer_than_65535_are_refused_mqtt_1_5_3() {
    let long = "a".repeat(65_536);
    let longest = "a".repeat(65_535);
    let err = CodecError::StringTooLong(65_536);
    topic_refused(&long, err.clone());
    encode_refused(&Packet::Connect(connect(&long)), err.clone());
    encode_refused(&Packet::Connect(Connect { username: Some(long.clone()), ..connect("") }), err.clone());
    let password = Some(Bytes::from(vec![0u8; 65_536]));
    encode_refused(
        &Packet::Connect(Connect { username: Some("u".into()), password, ..connect("") }),
        err.clone(),
    );
    let will = LastWill {
        topic: Topic::from_static("w"),
        payload: Bytes::from(vec![0u8; 65_536]),
        qos: QoS::AtMostOnce,
        retain: false,
    };
    encode_refused(&Packet::Connect(Connect { will: Some(will), ..connect("") }), err.clone());
    filter_refused(&long, err);
    // 65,535 bytes is the largest field, and it round-trips.
    let packet = Packet::Connect(Connect { username: Some(longest.clone()), ..connect(&longest) });
    assert_eq!(decode_all(&packet.to_bytes().unwrap()), Ok(packet));
    let packet = Packet::Publish(publish(&longest, QoS::AtLeastOnce, 7, b"p"));
    assert_eq!(decode_all(&packet.to_bytes().unwrap()), Ok(packet));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn protocol_name_must_be_mqtt_mqtt_3_1_2_1() {
    for name in [&b"MQIsdp"[..], b"MQTX", b"mqtt", b"", b"MQTTT"] {
        let body = cat(&[&field(name), &[4, 2, 0, 60], &field(b"id")]);
        refused(&frame(0x10, &body), CodecError::InvalidProtocolName);
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn protocol_level_other_than_4_is_refused_mqtt_3_1_2_2() {
    for level in [0u8, 3, 5, 0x83, 0x84, 0xFF] {
        let body = cat(&[&field(b"MQTT"), &[level, 2, 0, 60], &field(b"id")]);
        refused(&frame(0x10, &body), CodecError::UnsupportedProtocolLevel(level));
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn connect_reserved_flag_is_malformed_mqtt_3_1_2_3() {
    refused(&frame(0x10, &connect_body(0x03, &field(b"id"))), CodecError::ConnectReservedFlag);
    refused(&frame(0x10, &connect_body(0x01, &field(b"id"))), CodecError::ConnectReservedFlag);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn will_qos_and_retain_need_the_will_flag_mqtt_3_1_2_11_13_15() {
    for flags in [0x22u8, 0x0A, 0x12, 0x1A, 0x3A] {
        refused(&frame(0x10, &connect_body(flags, &field(b"id"))), CodecError::WillFlagsWithoutWill);
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn password_without_user_name_is_malformed_mqtt_3_1_2_22() {
    refused(
        &frame(0x10, &connect_body(0x42, &cat(&[&field(b"id"), &field(b"pw")]))),
        CodecError::PasswordWithoutUsername,
    );
    let packet = Connect { password: Some(Bytes::from_static(b"pw")), ..connect("id") };
    encode_refused(&Packet::Connect(packet), CodecError::PasswordWithoutUsername);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn connack_reserved_flags_are_malformed_mqtt_3_2_2_1() {
    for flags in [0x02u8, 0x80, 0xFE, 0xFF] {
        refused(&[0x20, 2, flags, 0], CodecError::ConnAckReservedFlags);
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn connack_return_code_above_5_is_malformed_mqtt_3_2_2_6() {
    for code in [6u8, 0x80, 0xFF] {
        refused(&[0x20, 2, 0, code], CodecError::InvalidConnAckCode(code));
        assert_eq!(ConnectReturnCode::from_u8(code), Err(CodecError::InvalidConnAckCode(code)));
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn session_present_with_a_refusal_is_malformed_mqtt_3_2_2_4() {
    for code in 1..=5u8 {
        refused(&[0x20, 2, 1, code], CodecError::SessionPresentWithRefusal);
        let code = ConnectReturnCode::from_u8(code).unwrap();
        encode_refused(
            &Packet::ConnAck(ConnAck { session_present: true, code }),
            CodecError::SessionPresentWithRefusal,
        );
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn packet_id_zero_is_refused_mqtt_2_3_1_1() {
    for byte1 in [0x40u8, 0x50, 0x62, 0x70, 0xB0] {
        refused(&[byte1, 2, 0, 0], CodecError::ZeroPacketId);
    }
    refused(&hex("3206000174000078"), CodecError::ZeroPacketId); // PUBLISH QoS 1
    refused(&hex("3406000174000078"), CodecError::ZeroPacketId); // PUBLISH QoS 2
    refused(&frame(0x82, &cat(&[&[0, 0], &field(b"a"), &[0]])), CodecError::ZeroPacketId);
    refused(&hex("9003000000"), CodecError::ZeroPacketId);
    refused(&frame(0xA2, &cat(&[&[0, 0], &field(b"a")])), CodecError::ZeroPacketId);
    let zero = CodecError::ZeroPacketId;
    for packet in
        [Packet::PubAck(0), Packet::PubRec(0), Packet::PubRel(0), Packet::PubComp(0), Packet::UnsubAck(0)]
    {
        encode_refused(&packet, zero.clone());
    }
    encode_refused(&Packet::Publish(publish("t", QoS::AtLeastOnce, 0, b"")), zero.clone());
    encode_refused(&Packet::Publish(publish("t", QoS::ExactlyOnce, 0, b"")), zero.clone());
    encode_refused(&subscribe(0, &[("a", QoS::AtMostOnce)]), zero.clone());
    encode_refused(&Packet::SubAck(SubAck { pkid: 0, codes: vec![SubAckCode::Failure] }), zero.clone());
    encode_refused(&unsubscribe(0, &["a"]), zero);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn wildcards_in_a_topic_name_are_refused_mqtt_3_3_2_2() {
    let err = CodecError::WildcardInTopicName;
    for topic in ["a/+", "#", "a/#", "+", "a+b", "sport/tennis#"] {
        refused(&publish_bytes(0, topic.as_bytes()), err.clone());
        refused(&publish_bytes(2, topic.as_bytes()), err.clone());
        // The same constructor makes a PUBLISH's topic and a will's.
        topic_refused(topic, err.clone());
        let body = connect_body(0x06, &cat(&[&field(b"id"), &field(topic.as_bytes()), &field(b"")]));
        refused(&frame(0x10, &body), err.clone());
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn empty_topics_are_refused_mqtt_4_7_3_1() {
    let err = CodecError::EmptyTopic;
    refused(&publish_bytes(0, b""), err.clone());
    refused(&frame(0x82, &cat(&[&[0, 1], &field(b""), &[0]])), err.clone());
    refused(&frame(0xA2, &cat(&[&[0, 1], &field(b"")])), err.clone());
    refused(&frame(0x10, &connect_body(0x06, &cat(&[&field(b"id"), &field(b""), &field(b"")]))), err.clone());
    topic_refused("", err.clone());
    filter_refused("", err);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn misplaced_wildcards_in_a_filter_are_refused_mqtt_4_7_1_2_and_3() {
    let err = CodecError::InvalidTopicFilter;
    for filter in ["a/#/b", "#/", "a#", "#a", "a/b#", "+a", "a+", "a/+b/c", "++", "##"] {
        refused(&frame(0x82, &cat(&[&[0, 1], &field(filter.as_bytes()), &[1]])), err.clone());
        refused(&frame(0xA2, &cat(&[&[0, 1], &field(filter.as_bytes())])), err.clone());
        filter_refused(filter, err.clone());
    }
    for filter in ["#", "+", "+/+", "/+/", "a/+/#", "/#", "//"] {
        let packet = subscribe(9, &[(filter, QoS::ExactlyOnce)]);
        assert_eq!(decode_all(&packet.to_bytes().unwrap()), Ok(packet), "{filter}");
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn subscribe_without_filters_is_a_violation_mqtt_3_8_3_3() {
    refused(&hex("82020001"), CodecError::NoTopicFilters);
    encode_refused(&subscribe(1, &[]), CodecError::NoTopicFilters);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn unsubscribe_without_filters_is_a_violation_mqtt_3_10_3_2() {
    refused(&hex("a2020001"), CodecError::NoTopicFilters);
    encode_refused(&unsubscribe(1, &[]), CodecError::NoTopicFilters);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn suback_return_codes_are_0_1_2_or_0x80_mqtt_3_9_3_2() {
    for code in [3u8, 4, 0x7F, 0x81, 0xFF] {
        refused(&[0x90, 3, 0, 1, code], CodecError::InvalidSubAckCode(code));
        assert_eq!(SubAckCode::from_u8(code), Err(CodecError::InvalidSubAckCode(code)));
    }
    // The codec leaves matching the count to the session: an empty list decodes.
    golden(&Packet::SubAck(SubAck { pkid: 1, codes: vec![] }), &hex("90020001"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn every_error_names_its_statement() {
    use CodecError::*;
    let all = [
        (ReservedPacketType(0), "MQTT-2.2.1"),
        (InvalidHeaderFlags { packet_type: 6, flags: 0 }, "MQTT-2.2.2-2"),
        (MalformedRemainingLength, "MQTT-2.2.3"),
        (PacketTooLarge { size: 2, max: 1 }, "MQTT-2.2.3"),
        (UnexpectedEnd, "MQTT-2.2.3"),
        (TrailingBytes, "MQTT-2.2.3"),
        (InvalidQoS(3), "MQTT-3.3.1-4"),
        (DupWithQoS0, "MQTT-3.3.1-2"),
        (InvalidUtf8, "MQTT-1.5.3-1"),
        (NullCharacter, "MQTT-1.5.3-2"),
        (StringTooLong(65_536), "MQTT-1.5.3"),
        (InvalidProtocolName, "MQTT-3.1.2-1"),
        (UnsupportedProtocolLevel(3), "MQTT-3.1.2-2"),
        (ConnectReservedFlag, "MQTT-3.1.2-3"),
        (WillFlagsWithoutWill, "MQTT-3.1.2-11"),
        (PasswordWithoutUsername, "MQTT-3.1.2-22"),
        (ConnAckReservedFlags, "MQTT-3.2.2-1"),
        (InvalidConnAckCode(6), "MQTT-3.2.2-6"),
        (SessionPresentWithRefusal, "MQTT-3.2.2-4"),
        (ZeroPacketId, "MQTT-2.3.1-1"),
        (WildcardInTopicName, "MQTT-3.3.2-2"),
        (EmptyTopic, "MQTT-4.7.3-1"),
        (InvalidTopicFilter, "MQTT-4.7.1-2"),
        (NoTopicFilters, "MQTT-3.8.3-3"),
        (SubscribeReservedBits(4), "MQTT-3.8.3-4"),
        (InvalidSubAckCode(3), "MQTT-3.9.3-2"),
    ];
    for (err, statement) in all {
        assert_eq!(err.statement(), statement);
        assert!(err.to_string().ends_with(&format!(" [{statement}]")), "{err}");
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn qos0_publish_with_a_packet_id_is_not_encoded_mqtt_2_3_1_5() {
    encode_refused(&Packet::Publish(publish("t", QoS::AtMostOnce, 7, b"x")), CodecError::PacketIdWithQoS0);
}
