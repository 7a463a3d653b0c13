//! The file session store: what a crash at any point leaves behind restores a working session.
#![cfg(feature = "native")]

mod native_common;

use mq::codec::QoS;
use mq::native::FileStore;
use mq::proto::{Client, Config, Instant, Message, StoreOp};
use native_common::TempDir;
use std::fs::{self, OpenOptions};
use std::io::Write;

/// A client with queued messages (offline), its store ops applied to `store`.
fn client_with_queue(store: &mut FileStore, n: usize) -> Client {
    let mut c = Client::new(Config::new("store-test")).unwrap();
    let now = Instant::ZERO; // Any instant will do; nothing here is timed.
    for i in 0..n {
        c.publish(now, Message::new("s/t", format!("{i}"), QoS::AtLeastOnce)).unwrap();
    }
    drain(&mut c, store);
    c
}

fn drain(c: &mut Client, store: &mut FileStore) {
    while let Some(op) = c.poll_store() {
        store.stage(&op);
    }
    store.commit().unwrap();
}

#[test]
fn records_survive_reopening_and_restore_the_session() {
    let dir = TempDir::new("fs-restore");
    let mut s = FileStore::open(dir.path(), "127.0.0.1_1883", "store-test").unwrap();
    assert!(s.dir().starts_with(dir.path()));
    let c = client_with_queue(&mut s, 5);
    drop(s);
    let s = FileStore::open(dir.path(), "127.0.0.1_1883", "store-test").unwrap();
    let mut got = s.records().unwrap();
    let mut want = c.session_records();
    got.sort_by_key(|r| r.key());
    want.sort_by_key(|r| r.key());
    assert_eq!(got, want);
    let restored = Client::restore(Config::new("store-test"), got).unwrap();
    assert_eq!(restored.pending_requests(), c.pending_requests());
}

#[test]
fn a_torn_last_write_is_cut_off() {
    let dir = TempDir::new("fs-torn");
    let mut s = FileStore::open_dir(dir.path()).unwrap();
    let _c = client_with_queue(&mut s, 3);
    let good = s.records().unwrap();
    drop(s);
    let log = dir.path().join("session.log");
    let len = fs::metadata(&log).unwrap().len();
    // A crash mid-append: a length prefix promising more than was written.
    OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(&[0, 0, 0, 40, 1, 2, 3, 4, b'P', 1])
        .unwrap();
    let s = FileStore::open_dir(dir.path()).unwrap();
    assert_eq!(s.records().unwrap(), good);
    assert_eq!(fs::metadata(&log).unwrap().len(), len);
    // A flipped byte inside the last entry: its checksum fails, the entries before it stand.
    drop(s);
    let mut bytes = fs::read(&log).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&log, &bytes).unwrap();
    let s = FileStore::open_dir(dir.path()).unwrap();
    assert_eq!(s.records().unwrap().len(), good.len() - 1);
}

#[test]
fn compaction_keeps_exactly_the_live_records() {
    let dir = TempDir::new("fs-compact");
    let mut s = FileStore::open_dir(dir.path()).unwrap();
    let mut c = client_with_queue(&mut s, 1);
    // Many puts and deletes of one key: the log grows, the live set stays one record.
    let big = "x".repeat(10_000);
    for i in 0..100 {
        let rec = mq::proto::StoreRecord::Queued {
            request: mq::proto::RequestId(1000),
            message: Message::new("s/big", format!("{i}{big}"), QoS::ExactlyOnce),
        };
        s.stage(&StoreOp::Put(rec));
        s.commit().unwrap();
    }
    let log = dir.path().join("session.log");
    // About 1 MB was appended; compaction keeps the log near its 256 KiB threshold.
    assert!(fs::metadata(&log).unwrap().len() < 300_000, "the log was not compacted");
    drain(&mut c, &mut s);
    drop(s);
    let s = FileStore::open_dir(dir.path()).unwrap();
    let recs = s.records().unwrap();
    assert_eq!(recs.len(), 2);
    assert!(!dir.path().join("session.log.tmp").exists());
}

#[test]
fn names_cannot_escape_the_store_root() {
    let dir = TempDir::new("fs-names");
    for (broker, id) in [("../..", "x"), ("h_1", "../../etc"), ("h_1", ""), ("h_1", "a/b")] {
        let s = FileStore::open(dir.path(), broker, id).unwrap();
        assert_eq!(s.dir().parent().unwrap().parent().unwrap(), dir.path(), "{broker} {id}");
    }
}

#[test]
fn credentials_are_never_written() {
    let dir = TempDir::new("fs-creds");
    let mut s = FileStore::open_dir(dir.path()).unwrap();
    let mut config = Config::new("creds");
    config.username = Some("user-name-marker".into());
    config.password = Some("password-marker".into());
    let mut c = Client::new(config).unwrap();
    let now = Instant::ZERO; // Any instant will do.
    c.handle_connected(now);
    c.publish(now, Message::new("t", "m", QoS::ExactlyOnce)).unwrap();
    let mut sent = Vec::new();
    c.poll_transmit(&mut sent);
    drain(&mut c, &mut s);
    let bytes = fs::read(dir.path().join("session.log")).unwrap();
    let has = |m: &[u8]| bytes.windows(m.len()).any(|w| w == m);
    assert!(!has(b"password-marker") && !has(b"user-name-marker"));
    assert!(has(b"t"));
}
