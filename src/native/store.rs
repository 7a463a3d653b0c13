//! The file session store: an append-only log per (broker, client id), fsynced per batch.
//!
//! Layout: `<root>/<broker>/<client id>/session.log`, names percent-encoded to `[A-Za-z0-9._-]`.
//! Each entry is `len: u32 BE | crc32(body): u32 BE | body`, the body one of
//! - `P key_len key value`: put `StoreRecord::to_bytes()` at `StoreKey`'s string;
//! - `D key_len key`: delete;
//! - `B (len: u32 BE | P-or-D body)*`: a batch of several operations, applied all or none.
//!
//! A batch of one operation is a plain `P` or `D` entry and compaction writes `P` entries only,
//! so a log written before `B` existed loads unchanged.
//!
//! Crash safety: a batch (everything the core emitted for one input) is one entry, appended with
//! one `write` and made durable with `fdatasync` *before* the driver sends the bytes it protects.
//! A process killed mid-append leaves a torn last entry, which fails its length or checksum and
//! is cut off on the next open: the store holds the state before that batch, whose bytes were
//! never sent. Compaction rewrites the live records into `session.log.tmp`, fsyncs it, renames it
//! over the log and fsyncs the directory. Credentials are never part of a record.

use super::session_store::{LoadError, SessionStore};
use crate::proto::log::{decode_entry, encode_entry, log_op, op_body, LogOp};
use crate::proto::{StoreOp, StoreRecord};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

const LOG: &str = "session.log";
const TMP: &str = "session.log.tmp";
/// Compact when the log is past this size and four times the live records.
const COMPACT_MIN: u64 = 256 * 1024;

/// A durable session store in a directory: a [`SessionStore`] on the file system.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    log: File,
    log_len: u64,
    /// Live records: key string to `StoreRecord::to_bytes()`.
    live: BTreeMap<String, Vec<u8>>,
    live_bytes: u64,
    /// An append or compaction failed: what the log holds past `log_len` is unknown until the
    /// store is reopened (which reads it back), so no more batches are taken.
    broken: bool,
}

impl FileStore {
    /// Opens (creating it) the store of `client_id` at `broker` under `root`.
    pub fn open(root: &Path, broker: &str, client_id: &str) -> io::Result<FileStore> {
        FileStore::open_dir(root.join(sanitize(broker)).join(sanitize(client_id)))
    }

    /// Opens (creating it) the store in exactly this directory.
    pub fn open_dir(dir: impl Into<PathBuf>) -> io::Result<FileStore> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        let path = dir.join(LOG);
        let mut log = OpenOptions::new().read(true).append(true).create(true).open(&path)?;
        let mut data = Vec::new();
        log.read_to_end(&mut data)?;
        let mut live = BTreeMap::new();
        let good = replay(&data, &mut live);
        if good < data.len() {
            // A torn tail from a crash mid-append: its batch was never acted upon.
            log.set_len(good as u64)?;
            log.sync_all()?;
        }
        let live_bytes = live.iter().map(|(k, v)| entry_size(k, v)).sum();
        let mut store = FileStore { dir, log, log_len: good as u64, live, live_bytes, broken: false };
        if store.log_len > COMPACT_MIN && store.log_len > 4 * store.live_bytes {
            store.compact()?;
        }
        Ok(store)
    }

    /// The directory holding this store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Rewrites the log with only the live records: temp file, fsync, rename, fsync directory.
    fn compact(&mut self) -> io::Result<()> {
        let r = self.try_compact();
        self.broken |= r.is_err();
        r
    }

    fn try_compact(&mut self) -> io::Result<()> {
        let mut data = Vec::with_capacity(self.live_bytes as usize);
        for (k, v) in &self.live {
            frame(&op_body(k, Some(v)), &mut data);
        }
        let tmp = self.dir.join(TMP);
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        f.write_all(&data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, self.dir.join(LOG))?;
        File::open(&self.dir)?.sync_all()?;
        self.log = OpenOptions::new().append(true).open(self.dir.join(LOG))?;
        self.log_len = data.len() as u64;
        Ok(())
    }
}

impl SessionStore for FileStore {
    fn records(&self) -> Result<Vec<StoreRecord>, LoadError> {
        Ok(self.live.values().map(|v| StoreRecord::from_bytes(v)).collect::<Result<_, _>>()?)
    }

    /// One entry for the batch, one append, one `fdatasync`. After an error the store takes no
    /// more batches; reopening it reads back the state before the batch or after it.
    fn apply(&mut self, batch: &[StoreOp]) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other("the session store failed earlier; reopen it"));
        }
        let ops: Vec<LogOp> = batch.iter().map(log_op).collect();
        if ops.is_empty() {
            return Ok(());
        }
        let mut entry = Vec::new();
        frame(&encode_entry(&ops), &mut entry);
        if let Err(e) = self.log.write_all(&entry).and_then(|()| self.log.sync_data()) {
            // Best effort: cut what may have been appended. Whatever stays, a reopen reads
            // either the whole entry or a torn one it cuts off.
            let _ = self.log.set_len(self.log_len).and_then(|()| self.log.sync_data());
            self.broken = true;
            return Err(e);
        }
        self.log_len += entry.len() as u64;
        for (k, v) in ops {
            let old = match v {
                Some(v) => {
                    self.live_bytes += entry_size(&k, &v);
                    self.live.insert(k.clone(), v)
                }
                None => self.live.remove(&k),
            };
            if let Some(old) = old {
                self.live_bytes -= entry_size(&k, &old);
            }
        }
        if self.log_len > COMPACT_MIN && self.log_len > 4 * self.live_bytes {
            self.compact()?;
        }
        Ok(())
    }

    /// An empty log put in place by compaction (temp file, rename): atomic.
    fn clear(&mut self) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other("the session store failed earlier; reopen it"));
        }
        self.live.clear();
        self.live_bytes = 0;
        self.compact()
    }
}

/// The bytes a live record takes in a compacted log.
fn entry_size(key: &str, value: &[u8]) -> u64 {
    (key.len() + value.len() + 10) as u64
}

/// Appends `len | crc | body`.
fn frame(body: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32(body).to_be_bytes());
    out.extend_from_slice(body);
}

/// Replays log entries into `live`; returns the length of the intact prefix.
fn replay(data: &[u8], live: &mut BTreeMap<String, Vec<u8>>) -> usize {
    let mut at = 0;
    while let Some(head) = data.get(at..at + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let sum = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        let Some(body) = data.get(at + 8..at + 8 + len) else { break };
        if crc32(body) != sum {
            break;
        }
        let Some(ops) = decode_entry(body) else { break };
        for (key, value) in ops {
            match value {
                Some(v) => live.insert(key.to_owned(), v.to_vec()),
                None => live.remove(key),
            };
        }
        at += 8 + len;
    }
    at
}

/// A path component for any string: `[A-Za-z0-9_-]` and non-leading `.` kept, the rest `%XX`;
/// the empty string is `%`.
pub(crate) fn sanitize(name: &str) -> String {
    if name.is_empty() {
        return "%".into();
    }
    let mut out = String::with_capacity(name.len());
    for (i, b) in name.bytes().enumerate() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' => out.push(b as char),
            b'.' if i > 0 => out.push('.'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// CRC-32 (IEEE), bitwise: records are small.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn key_strings_are_the_ones_logs_were_written_with() {
        use crate::proto::{RequestId, StoreKey};
        for k in [
            StoreKey::Outgoing(7),
            StoreKey::Incoming(65535),
            StoreKey::Queued(RequestId(42)),
            StoreKey::Subscriptions,
        ] {
            assert_eq!(k.to_key_string(), k.to_string());
        }
    }

    #[test]
    fn sanitize_keeps_names_inside_their_directory() {
        assert_eq!(sanitize("127.0.0.1_1883"), "127.0.0.1_1883");
        assert_eq!(sanitize(".."), "%2E.");
        assert_eq!(sanitize("a/b\\c"), "a%2Fb%5Cc");
        assert_eq!(sanitize(""), "%");
        assert_ne!(sanitize("a/b"), sanitize("a%2Fb"));
    }
}
