//! Session stores. One conformance suite every [`SessionStore`] passes — put, delete,
//! overwrite, batches, reopening, clearing, a session restored, and a crash (or a failure) at
//! every point of a batch leaving the state before it or after it, never a mix — run for
//! [`FileStore`] and [`MemoryStore`]; then the file store's own promises (the log format, torn
//! tails, compaction, names, credentials) and the driver using a store of the application's.
#![cfg(feature = "native")]

mod native_common;

use mq::codec::{Publish, QoS, Topic, TopicFilter};
use mq::native::{FileStore, MemoryStore, SessionStore};
use mq::proto::{Client, Config, ErrorCode, Instant, Message, RequestId, StoreKey, StoreOp, StoreRecord};
use native_common::{connect, within, Mosquitto, TempDir};
use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;

// ---------------------------------------------------------------------------------------------
// The conformance suite.

type State = BTreeMap<StoreKey, StoreRecord>;

/// What the store holds, by key (each key at most once).
fn state(s: &impl SessionStore) -> State {
    let records = s.records().expect("records");
    let n = records.len();
    let state: State = records.into_iter().map(|r| (r.key(), r)).collect();
    assert_eq!(state.len(), n, "two records for one key");
    state
}

fn model_apply(m: &mut State, batch: &[StoreOp]) {
    for op in batch {
        match op {
            StoreOp::Put(r) => m.insert(r.key(), r.clone()),
            StoreOp::Delete(k) => m.remove(k),
        };
    }
}

/// A record of each kind, told apart by `n`.
fn record(kind: u64, n: u64) -> StoreRecord {
    let pkid = (n % 65_535) as u16 + 1;
    let payload = format!("payload {n} {}", "x".repeat((n % 7) as usize));
    match kind % 5 {
        0 => StoreRecord::Outgoing {
            request: RequestId(n),
            publish: Publish {
                dup: false,
                qos: if n % 2 == 0 { QoS::AtLeastOnce } else { QoS::ExactlyOnce },
                retain: n % 3 == 0,
                topic: Topic::new(format!("out/{n}")).unwrap(),
                pkid,
                payload: payload.into(),
            },
        },
        1 => StoreRecord::Released { request: RequestId(n), pkid, order: n },
        2 => StoreRecord::Incoming { pkid, delivered: n % 2 == 0 },
        3 => StoreRecord::Queued {
            request: RequestId(n),
            message: Message::new(Topic::new(format!("q/{n}")).unwrap(), payload, QoS::ExactlyOnce)
                .retain(n % 2 == 1),
        },
        _ => StoreRecord::Subscriptions(
            (0..n % 4)
                .map(|i| (TopicFilter::new(format!("s/{n}/{i}/#")).unwrap(), QoS::AtLeastOnce))
                .collect(),
        ),
    }
}

fn put(kind: u64, n: u64) -> StoreOp {
    StoreOp::Put(record(kind, n))
}

fn del(kind: u64, n: u64) -> StoreOp {
    StoreOp::Delete(record(kind, n).key())
}

/// Batches covering puts of every kind, overwrites, deletes (of present and absent keys), a put
/// and a delete of one key within a batch (in both orders) and single-operation batches.
fn scripted_batches() -> Vec<Vec<StoreOp>> {
    vec![
        vec![put(0, 1), put(1, 2), put(2, 3), put(3, 4), put(4, 5)],
        vec![put(0, 10)],
        vec![put(0, 1 + 65_535), put(3, 4)], // Overwrites: Outgoing pkid 2 again, the same queued id.
        vec![del(1, 2), del(2, 999)],        // A present key and an absent one.
        vec![put(2, 7), del(2, 7)],          // Put then delete: absent after.
        vec![del(3, 4), put(3, 4)],          // Delete then put: present after.
        vec![del(0, 10)],
        vec![put(4, 6), put(1, 11), del(0, 1), put(2, 8), put(3, 12)],
    ]
}

/// A small deterministic generator (xorshift) for the random run.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// Every store passes this. `make` opens the store; a second call sees what the first wrote
/// (it is a reopen: the process "restarted"). `crashes(store, batch)` gives, for every point at
/// which applying `batch` to `store` can crash or fail, what a reopened store then holds; it
/// leaves `store` as it was.
fn conformance<S: SessionStore>(make: impl Fn() -> S, crashes: impl Fn(&S, &[StoreOp]) -> Vec<State>) {
    // Clear, durably.
    let mut s = make();
    s.clear().unwrap();
    assert!(state(&s).is_empty());
    s.apply(&[put(0, 1)]).unwrap();
    s.clear().unwrap();
    drop(s);
    let mut s = make();
    assert!(state(&s).is_empty(), "clear did not last");

    // Scripted batches: each checked against a model, after a reopen every other batch, with a
    // crash simulated at every point of each.
    let mut model = State::new();
    s.apply(&[]).unwrap();
    assert!(state(&s).is_empty(), "an empty batch changed something");
    for (i, batch) in scripted_batches().iter().enumerate() {
        let before = model.clone();
        let mut after = model.clone();
        model_apply(&mut after, batch);
        let crashed = crashes(&s, batch);
        assert!(!crashed.is_empty(), "no crash point simulated");
        for (point, got) in crashed.iter().enumerate() {
            assert!(*got == before || *got == after, "batch {i}, crash point {point}: a mix\n{got:#?}");
        }
        assert_eq!(state(&s), before, "simulating crashes changed the store");
        s.apply(batch).unwrap();
        model = after;
        assert_eq!(state(&s), model, "after batch {i}");
        if i % 2 == 1 {
            drop(s);
            s = make();
            assert_eq!(state(&s), model, "after batch {i}, reopened");
        }
    }

    // Records round-trip through their bytes, and come back as they were put.
    for r in s.records().unwrap() {
        assert_eq!(StoreRecord::from_bytes(&r.to_bytes()).as_ref(), Ok(&r));
        assert_eq!(model.get(&r.key()), Some(&r));
    }

    // A random run over a small key space: overwrites and deletes of present keys are common.
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..300 {
        let batch: Vec<StoreOp> = (0..1 + rng.next(4))
            .map(|_| {
                let (kind, n) = (rng.next(5), 1 + rng.next(6));
                if rng.next(3) == 0 {
                    del(kind, n)
                } else {
                    put(kind, n + 65_535 * rng.next(3)) // Same key, other contents.
                }
            })
            .collect();
        s.apply(&batch).unwrap();
        model_apply(&mut model, &batch);
        if round % 37 == 0 {
            drop(s);
            s = make();
        }
        assert_eq!(state(&s), model, "random round {round}");
    }

    // A real session: what the core emits, one batch per input, restores the same client.
    s.clear().unwrap();
    let mut c = Client::new(Config::new("conformance")).unwrap();
    let now = Instant::ZERO; // Any instant will do; nothing here is timed.
    for (i, qos) in [QoS::AtLeastOnce, QoS::ExactlyOnce, QoS::AtLeastOnce].into_iter().enumerate() {
        c.publish(now, Message::new(Topic::from_static("s/t"), format!("{i}"), qos)).unwrap();
        drain(&mut c, &mut s);
    }
    c.handle_connected(now);
    drain(&mut c, &mut s);
    c.poll_transmit(&mut Vec::new());
    drop(s);
    let s = make();
    let mut got = s.records().unwrap();
    let mut want = c.session_records();
    got.sort_by_key(|r| r.key());
    want.sort_by_key(|r| r.key());
    assert_eq!(got, want);
    let restored = Client::restore(Config::new("conformance"), got).unwrap();
    assert_eq!(restored.pending_requests(), c.pending_requests());
    assert_eq!(restored.pending_requests().len(), 3);

    let mut s = s;
    s.clear().unwrap();
    drop(s);
    assert!(state(&make()).is_empty());
}

/// The core's store operations since the last input, as one batch (as the driver does).
fn drain(c: &mut Client, store: &mut impl SessionStore) {
    let mut batch = Vec::new();
    while let Some(op) = c.poll_store() {
        batch.push(op);
    }
    store.apply(&batch).unwrap();
}

/// The file store "crashes" mid-append: the log cut after every byte the batch adds (so at
/// every entry boundary and inside every entry), then reopened; and a reopened torn log takes
/// new batches that a later reopen reads.
fn file_crashes(s: &FileStore, batch: &[StoreOp]) -> Vec<State> {
    let root = s.dir().with_extension("crash");
    let _ = fs::remove_dir_all(&root);
    let before = fs::read(s.dir().join("session.log")).unwrap();
    let full = root.join("full");
    fs::create_dir_all(&full).unwrap();
    fs::write(full.join("session.log"), &before).unwrap();
    let mut copy = FileStore::open_dir(&full).unwrap();
    copy.apply(batch).unwrap();
    drop(copy);
    let after = fs::read(full.join("session.log")).unwrap();
    assert!(after.starts_with(&before) && after.len() > before.len(), "one append per batch");
    let mut states = Vec::new();
    for cut in before.len()..=after.len() {
        let dir = root.join(format!("cut{cut}"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("session.log"), &after[..cut]).unwrap();
        let mut torn = FileStore::open_dir(&dir).unwrap();
        let got = state(&torn);
        // Whatever was cut off, the next batch lands where a reopen reads it.
        let probe = StoreRecord::Incoming { pkid: 65_535, delivered: true };
        torn.apply(&[StoreOp::Put(probe.clone())]).unwrap();
        drop(torn);
        let mut want = got.clone();
        want.insert(probe.key(), probe);
        assert_eq!(
            state(&FileStore::open_dir(&dir).unwrap()),
            want,
            "cut at {cut}: a batch after a torn tail"
        );
        fs::remove_dir_all(&dir).unwrap();
        states.push(got);
    }
    fs::remove_dir_all(&root).unwrap();
    states
}

/// The memory store fails after each operation of the batch (and at its end), on a copy.
fn memory_crashes(s: &MemoryStore, batch: &[StoreOp]) -> Vec<State> {
    (0..=batch.len())
        .map(|n| {
            let mut copy = MemoryStore::new();
            let all: Vec<StoreOp> = s.records().unwrap().into_iter().map(StoreOp::Put).collect();
            copy.apply(&all).unwrap();
            copy.fail_after(n);
            assert!(copy.apply(batch).is_err(), "fail_after({n}) did not fail");
            let got = state(&copy);
            copy.apply(batch).unwrap(); // Only the next batch fails.
            got
        })
        .collect()
}

#[test]
fn file_store_conforms() {
    let dir = TempDir::new("fs-conform");
    let at = dir.path().join("store");
    conformance(|| FileStore::open_dir(&at).unwrap(), file_crashes);
}

#[test]
fn file_store_opened_by_broker_and_client_id_conforms() {
    let dir = TempDir::new("fs-conform-named");
    let root = dir.path().to_path_buf();
    conformance(|| FileStore::open(&root, "127.0.0.1_1883", "conformance").unwrap(), file_crashes);
}

#[test]
fn memory_store_conforms() {
    let shared = MemoryStore::new();
    conformance(|| shared.clone(), memory_crashes);
}

#[test]
fn a_failed_memory_batch_leaves_the_state_before_it() {
    let mut s = MemoryStore::new();
    s.apply(&[put(0, 1), put(3, 2)]).unwrap();
    let before = state(&s);
    s.fail_after(2);
    // Overwrite, delete, then the failure before the third operation.
    let err = s.apply(&[put(0, 1 + 65_535), del(3, 2), put(2, 5)]).unwrap_err();
    assert!(err.to_string().contains("injected"), "{err}");
    assert_eq!(state(&s), before);
    assert_eq!(s.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// The file store's own promises.

/// CRC-32 (IEEE), written here again so the format is checked against its description.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// An entry of the log as the module docs describe it: `len | crc32(body) | body`.
fn entry(body: &[u8]) -> Vec<u8> {
    let mut e = (body.len() as u32).to_be_bytes().to_vec();
    e.extend_from_slice(&crc32(body).to_be_bytes());
    e.extend_from_slice(body);
    e
}

fn put_body(r: &StoreRecord) -> Vec<u8> {
    let key = r.key().to_string();
    let mut b = vec![b'P', key.len() as u8];
    b.extend_from_slice(key.as_bytes());
    b.extend_from_slice(&r.to_bytes());
    b
}

fn delete_body(k: StoreKey) -> Vec<u8> {
    let key = k.to_string();
    let mut b = vec![b'D', key.len() as u8];
    b.extend_from_slice(key.as_bytes());
    b
}

/// A log as the store wrote it before batches had their own entry (one entry per operation)
/// still loads; a batch of one operation is still written in exactly that form.
#[test]
fn logs_written_before_batch_entries_still_load() {
    let dir = TempDir::new("fs-old");
    let (a, b, c) = (record(0, 1), record(3, 2), record(4, 3));
    let a2 = record(0, 1 + 65_535);
    let mut log = Vec::new();
    for body in [put_body(&a), put_body(&b), put_body(&c), put_body(&a2), delete_body(b.key())] {
        log.extend(entry(&body));
    }
    fs::write(dir.path().join("session.log"), &log).unwrap();
    let mut s = FileStore::open_dir(dir.path()).unwrap();
    let want: State = [(a2.key(), a2.clone()), (c.key(), c.clone())].into_iter().collect();
    assert_eq!(state(&s), want);

    let d = record(2, 4);
    s.apply(&[StoreOp::Put(d.clone())]).unwrap();
    s.apply(&[StoreOp::Delete(c.key())]).unwrap();
    log.extend(entry(&put_body(&d)));
    log.extend(entry(&delete_body(c.key())));
    assert_eq!(fs::read(dir.path().join("session.log")).unwrap(), log, "single operations: the old entries");
}

/// A batch of several operations is one `B` entry: `B (len | P-or-D body)*`.
#[test]
fn a_batch_of_several_operations_is_one_entry() {
    let dir = TempDir::new("fs-batch");
    let mut s = FileStore::open_dir(dir.path()).unwrap();
    let (a, b) = (record(0, 1), record(3, 2));
    s.apply(&[StoreOp::Put(a.clone()), StoreOp::Put(b.clone()), StoreOp::Delete(a.key())]).unwrap();
    let mut body = vec![b'B'];
    for sub in [put_body(&a), put_body(&b), delete_body(a.key())] {
        body.extend_from_slice(&(sub.len() as u32).to_be_bytes());
        body.extend_from_slice(&sub);
    }
    assert_eq!(fs::read(dir.path().join("session.log")).unwrap(), entry(&body));
}

#[test]
fn a_torn_last_write_is_cut_off() {
    let dir = TempDir::new("fs-torn");
    let mut s = FileStore::open_dir(dir.path()).unwrap();
    for n in 1..=3 {
        s.apply(&[put(3, n)]).unwrap();
    }
    let good = state(&s);
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
    assert_eq!(state(&s), good);
    assert_eq!(fs::metadata(&log).unwrap().len(), len);
    // A flipped byte inside the last entry: its checksum fails, the entries before it stand.
    drop(s);
    let mut bytes = fs::read(&log).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&log, &bytes).unwrap();
    let s = FileStore::open_dir(dir.path()).unwrap();
    assert_eq!(state(&s).len(), good.len() - 1);
}

#[test]
fn a_half_written_compaction_is_ignored() {
    let dir = TempDir::new("fs-tmp");
    let mut s = FileStore::open_dir(dir.path()).unwrap();
    s.apply(&[put(0, 1), put(3, 2)]).unwrap();
    let good = state(&s);
    drop(s);
    // Killed while writing the compacted copy: the log itself is untouched.
    fs::write(dir.path().join("session.log.tmp"), b"\0\0\0\x09garbage").unwrap();
    let mut s = FileStore::open_dir(dir.path()).unwrap();
    assert_eq!(state(&s), good);
    s.clear().unwrap();
    assert!(!dir.path().join("session.log.tmp").exists());
    assert!(state(&FileStore::open_dir(dir.path()).unwrap()).is_empty());
}

#[test]
fn compaction_keeps_exactly_the_live_records() {
    let dir = TempDir::new("fs-compact");
    let mut s = FileStore::open_dir(dir.path()).unwrap();
    s.apply(&[put(3, 1)]).unwrap();
    // Many puts of two keys: the log grows, the live set stays three records.
    let big = "x".repeat(10_000);
    for i in 0..100 {
        let rec = StoreRecord::Queued {
            request: RequestId(1000),
            message: Message::new(Topic::from_static("s/big"), format!("{i}{big}"), QoS::ExactlyOnce),
        };
        s.apply(&[StoreOp::Put(rec), put(2, 1 + 65_535 * (i % 2))]).unwrap(); // One key each.
    }
    let log = dir.path().join("session.log");
    // About 1 MB was appended; compaction keeps the log near its 256 KiB threshold.
    assert!(fs::metadata(&log).unwrap().len() < 300_000, "the log was not compacted");
    let live = state(&s);
    drop(s);
    let s = FileStore::open_dir(dir.path()).unwrap();
    assert_eq!(state(&s), live);
    assert_eq!(live.len(), 3);
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
    c.publish(now, Message::new(Topic::from_static("t"), "m", QoS::ExactlyOnce)).unwrap();
    let mut sent = Vec::new();
    c.poll_transmit(&mut sent);
    drain(&mut c, &mut s);
    let bytes = fs::read(dir.path().join("session.log")).unwrap();
    let has = |m: &[u8]| bytes.windows(m.len()).any(|w| w == m);
    assert!(!has(b"password-marker") && !has(b"user-name-marker"));
    assert!(has(b"t"));
}

// ---------------------------------------------------------------------------------------------
// The driver with a store of the application's.

fn has_subscriptions(store: &MemoryStore) -> bool {
    store.records().unwrap().iter().any(|r| matches!(r, StoreRecord::Subscriptions(s) if !s.is_empty()))
}

/// A kept session in a `MemoryStore` outlives the client: the next client on the same store
/// resumes it (its subscription is restored and the broker's kept messages arrive).
#[tokio::test]
async fn a_memory_store_carries_a_session_to_the_next_client() {
    let b = Mosquitto::start();
    let store = MemoryStore::new();
    let shared = store.clone();
    let mut o = b.options("mem-kept").with_store(move |_| Ok(shared.clone()));
    o.config.clean_session = false;
    let (c1, _) = connect(o.clone()).await;
    within(c1.subscribe("mem/t", QoS::AtLeastOnce)).await.unwrap();
    within(c1.disconnect()).await.unwrap();
    assert!(has_subscriptions(&store), "the driver wrote nothing to the store");

    let (p, _) = connect(b.options("mem-pub")).await;
    within(p.publish("mem/t", "kept", QoS::AtLeastOnce, false)).await.unwrap();
    let (c2, mut msgs) = connect(o).await;
    assert_eq!(&native_common::next(&mut msgs).await.payload[..], b"kept");
    within(c2.disconnect()).await.unwrap();
}

/// A store that fails stops the client before the message its batch protects is sent.
#[tokio::test]
async fn a_failing_store_stops_the_client_before_the_bytes_it_protects() {
    let b = Mosquitto::start();
    let (watch, mut seen) = connect(b.options("mem-watch")).await;
    within(watch.subscribe("failing/#", QoS::AtLeastOnce)).await.unwrap();

    let store = MemoryStore::new();
    let shared = store.clone();
    let (c, _) = connect(b.options("mem-failing").with_store(move |_| Ok(shared.clone()))).await;
    store.fail_after(0);
    let e = within(c.publish("failing/t", "never sent", QoS::AtLeastOnce, false)).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::StoreFailed, "{e}");
    assert!(native_common::none_within(&mut seen, 500).await, "the protected message went out");
    assert!(store.is_empty());
}

#[tokio::test]
async fn a_store_and_a_session_dir_together_are_refused() {
    let dir = TempDir::new("fs-both");
    let mut o = mq::native::Options::new("127.0.0.1", 1).with_store(|_| Ok(MemoryStore::new()));
    o.session_dir = Some(dir.path().to_path_buf());
    let e = mq::native::Client::connect(o).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
}
