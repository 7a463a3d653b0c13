//! The browser client (`MqttClient`) in headless Chromium.
//!
//! These need no broker: argument checks and failures before any broker is involved. The tests
//! against a real Mosquitto are in browser_broker.rs (feature `browser-broker-tests`).

#![cfg(all(target_arch = "wasm32", feature = "browser"))]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use mq::wasm::{error_code, MqttClient};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

fn obj(json: &str) -> JsValue {
    js_sys::JSON::parse(json).expect("test JSON")
}

async fn connect_err(url: &str, options: &str) -> String {
    match MqttClient::open(url.into(), obj(options)).await {
        Ok(_) => panic!("connected to {url} with {options}"),
        Err(e) => error_code(&e).unwrap_or_else(|| format!("no code: {e:?}")),
    }
}

#[wasm_bindgen_test]
async fn invalid_options_are_rejected_before_connecting() {
    // Nothing listens on port 1: a check that let these through would fail differently.
    let url = "ws://127.0.0.1:1";
    for options in [
        r#"{"keepalive": -1}"#,
        r#"{"keepalive": 1.5}"#,
        r#"{"keepalive": 70000}"#,
        r#"{"clean": "no"}"#,
        r#"{"clientId": 7}"#,
        r#"{"clean": false, "clientId": ""}"#,
        r#"{"session": "disk"}"#,
        r#"{"maxInflight": 0}"#,
        r#"{"will": {"topic": "a/+", "payload": "x"}}"#,
        r#"{"will": {"topic": "a", "payload": "x", "qos": 3}}"#,
        r#"{"will": {"topic": "a", "payload": 5}}"#,
        r#"{"password": "p"}"#,
        r#"{"reconnect": {"minDelay": 500, "maxDelay": 100}}"#,
        r#"{"unknownOption": 1}"#,
    ] {
        let code = connect_err(url, options).await;
        let want = if options.contains("a/+") { "INVALID_TOPIC" } else { "INVALID_ARGUMENT" };
        assert_eq!(code, want, "options {options}");
    }
}

#[wasm_bindgen_test]
async fn a_url_that_is_not_a_websocket_url_is_invalid_url() {
    assert_eq!(connect_err("http://127.0.0.1:1", "{}").await, "INVALID_URL");
    assert_eq!(connect_err("ws://[not a host", "{}").await, "INVALID_URL");
}

#[wasm_bindgen_test]
async fn a_broker_that_is_not_there_fails_the_connect() {
    assert_eq!(connect_err("ws://127.0.0.1:1", r#"{"reconnect": false}"#).await, "CONNECTION_FAILED");
    // The first connect reports its failure even when reconnecting is on.
    assert_eq!(connect_err("ws://127.0.0.1:1", "{}").await, "CONNECTION_FAILED");
}
