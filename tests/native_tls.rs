//! TLS against Mosquitto with certificates made at test time: a trusted CA file, SNI / server
//! name, mutual TLS; an untrusted, an expired and a wrong-host certificate each refused; the
//! loudly named opt-out.
#![cfg(all(feature = "native", feature = "tls"))]

mod native_common;

use mq::codec::QoS;
use mq::native::{Client, Error, Options, Reconnect, Roots, TlsOptions};
use mq::proto::ErrorCode;
use native_common::*;
use std::path::Path;

/// Mosquitto with one TLS listener per certificate, plus one requiring client certificates.
struct TlsBroker {
    _broker: Mosquitto,
    ca: std::path::PathBuf,
    dir: std::path::PathBuf,
    good: u16,
    expired: u16,
    wronghost: u16,
    untrusted: u16,
    mutual: u16,
}

impl TlsBroker {
    fn start() -> TlsBroker {
        let mut ports: Vec<u16> = Vec::new();
        let mut dir = None;
        let broker = Mosquitto::with_setup(|d: &Path| {
            ports = (0..5).map(|_| free_port()).collect();
            let (good, expired, wronghost, untrusted, mutual) =
                (ports[0], ports[1], ports[2], ports[3], ports[4]);
            Certs::generate(d);
            dir = Some(d.to_path_buf());
            let listener = |port: u16, cert: &str, mutual: bool| {
                let mut s = format!(
                    "listener {port} {HOST}\ncertfile {d}/{cert}.crt\nkeyfile {d}/{cert}.key\n",
                    d = d.display()
                );
                if mutual {
                    s += &format!("cafile {}/ca.crt\nrequire_certificate true\n", d.display());
                }
                s
            };
            let conf = ["allow_anonymous true\n".to_string()]
                .into_iter()
                .chain([
                    listener(good, "server", false),
                    listener(expired, "expired", false),
                    listener(wronghost, "wronghost", false),
                    listener(untrusted, "untrusted", false),
                    listener(mutual, "server", true),
                ])
                .collect::<String>();
            (conf, ports.clone())
        });
        let dir = dir.unwrap();
        let (good, expired, wronghost, untrusted, mutual) =
            (ports[0], ports[1], ports[2], ports[3], ports[4]);
        TlsBroker {
            _broker: broker,
            ca: dir.join("ca.crt"),
            dir,
            good,
            expired,
            wronghost,
            untrusted,
            mutual,
        }
    }

    fn options(&self, port: u16, id: &str) -> Options {
        let mut o = Options::from_url(&format!("mqtts://{HOST}:{port}")).unwrap().client_id(id);
        o.tls = Some(TlsOptions::with_ca_file(&self.ca));
        o.reconnect = Reconnect::disabled();
        o
    }
}

async fn refused(o: Options) -> Error {
    within(Client::connect(o)).await.expect_err("the connection must be refused")
}

#[tokio::test]
async fn round_trip_over_tls_with_a_ca_file() {
    let b = TlsBroker::start();
    let (c, mut msgs) = Client::connect(b.options(b.good, "tls-rt")).await.unwrap();
    within(c.subscribe("tls/#", QoS::ExactlyOnce)).await.unwrap();
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        within(c.publish("tls/t", vec![b'x'; 70_000], qos, false)).await.unwrap();
        let m = next(&mut msgs).await;
        assert_eq!(m.payload.len(), 70_000);
        assert_eq!(m.qos, qos);
    }
    within(c.disconnect()).await.unwrap();
}

#[tokio::test]
async fn server_name_overrides_sni_and_the_name_checked() {
    let b = TlsBroker::start();
    let mut o = b.options(b.good, "tls-sni");
    o.tls.as_mut().unwrap().server_name = Some("broker.test".into());
    let (c, _) = Client::connect(o.clone()).await.unwrap();
    within(c.disconnect()).await.unwrap();
    o.tls.as_mut().unwrap().server_name = Some("elsewhere.test".into());
    let e = refused(o).await;
    assert_eq!(e.code(), ErrorCode::TlsError, "{e}");
}

#[tokio::test]
async fn untrusted_certificate_is_refused() {
    let b = TlsBroker::start();
    let e = refused(b.options(b.untrusted, "tls-untrusted")).await;
    assert_eq!(e.code(), ErrorCode::TlsError, "{e}");
    assert!(e.to_string().to_lowercase().contains("issuer"), "{e}");
    // The bundled public roots do not trust it either.
    let mut o = b.options(b.good, "tls-public");
    o.tls.as_mut().unwrap().roots = Roots::Bundled;
    assert_eq!(refused(o).await.code(), ErrorCode::TlsError);
}

#[tokio::test]
async fn expired_certificate_is_refused() {
    let b = TlsBroker::start();
    let e = refused(b.options(b.expired, "tls-expired")).await;
    assert_eq!(e.code(), ErrorCode::TlsError, "{e}");
    assert!(e.to_string().to_lowercase().contains("expired"), "{e}");
}

#[tokio::test]
async fn wrong_host_certificate_is_refused() {
    let b = TlsBroker::start();
    let e = refused(b.options(b.wronghost, "tls-wronghost")).await;
    assert_eq!(e.code(), ErrorCode::TlsError, "{e}");
    assert!(e.to_string().to_lowercase().contains("name"), "{e}");
}

#[tokio::test]
async fn dangerous_opt_out_accepts_any_certificate() {
    let b = TlsBroker::start();
    for port in [b.untrusted, b.expired, b.wronghost] {
        let mut o = b.options(port, "tls-insecure");
        o.tls.as_mut().unwrap().dangerous_accept_any_certificate = true;
        let (c, _) = within(Client::connect(o)).await.unwrap();
        within(c.publish("tls/insecure", "x", QoS::AtLeastOnce, false)).await.unwrap();
    }
}

#[tokio::test]
async fn mutual_tls_needs_the_client_certificate() {
    let b = TlsBroker::start();
    // Without a client certificate the broker ends the handshake (with TLS 1.3 the client may
    // only learn it when reading after the handshake: either way, no connection).
    assert!(within(Client::connect(b.options(b.mutual, "mtls-none"))).await.is_err());
    let mut o = b.options(b.mutual, "mtls");
    o.tls.as_mut().unwrap().client_cert = Some((b.dir.join("client.crt"), b.dir.join("client.key")));
    let (c, mut msgs) = within(Client::connect(o)).await.unwrap();
    within(c.subscribe("mtls/t", QoS::AtLeastOnce)).await.unwrap();
    within(c.publish("mtls/t", "authenticated", QoS::AtLeastOnce, false)).await.unwrap();
    assert_eq!(&next(&mut msgs).await.payload[..], b"authenticated");
}

#[tokio::test]
async fn bad_tls_files_are_reported() {
    let b = TlsBroker::start();
    let mut o = b.options(b.good, "tls-badfile");
    o.tls = Some(TlsOptions::with_ca_file(b.dir.join("missing.crt")));
    let e = refused(o).await;
    assert_eq!(e.code(), ErrorCode::TlsError, "{e}");
    assert!(e.to_string().contains("missing.crt"), "{e}");
}
