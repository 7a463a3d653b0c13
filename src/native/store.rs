//! The file session store: an append-only log per (broker, client id), fsynced per batch.
//!
//! Layout: `<root>/<broker>/<client id>/session.log`, names percent-encoded to `[A-Za-z0-9._-]`.
//! Each entry is `len: u32 BE | crc32(body): u32 BE | body`, the body being `P key_len key value`
//! (put `StoreRecord::to_bytes()` at `StoreKey`'s string) or `D key_len key` (delete).
//!
//! Crash safety: a batch (everything the core emitted for one input) is appended with one
//! `write` and made durable with `fdatasync` *before* the driver sends the bytes it protects. A
//! process killed mid-append leaves a torn last entry, which fails its length or checksum and is
//! cut off on the next open: that batch's bytes were never sent, so nothing is lost. Compaction
//! rewrites the live records into `session.log.tmp`, fsyncs it, renames it over the log and
//! fsyncs the directory. Credentials are never part of a record.

use crate::proto::{RestoreError, StoreOp, StoreRecord};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

const LOG: &str = "session.log";
const TMP: &str = "session.log.tmp";
/// Compact when the log is past this size and four times the live records.
const COMPACT_MIN: u64 = 256 * 1024;

/// A durable session store in a directory.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    log: File,
    log_len: u64,
    /// Live records: key string to `StoreRecord::to_bytes()`.
    live: BTreeMap<String, Vec<u8>>,
    live_bytes: u64,
    staged: Vec<u8>,
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
        let live_bytes = live.iter().map(|(k, v): (&String, &Vec<u8>)| (k.len() + v.len() + 12) as u64).sum();
        let mut store = FileStore { dir, log, log_len: good as u64, live, live_bytes, staged: Vec::new() };
        if store.log_len > COMPACT_MIN && store.log_len > 4 * store.live_bytes {
            store.compact()?;
        }
        Ok(store)
    }

    /// The directory holding this store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The stored records, to pass to `proto::Client::restore`.
    pub fn records(&self) -> Result<Vec<StoreRecord>, RestoreError> {
        self.live.values().map(|v| StoreRecord::from_bytes(v)).collect()
    }

    /// Whether no record is stored.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Adds an operation to the current batch (not yet durable).
    pub fn stage(&mut self, op: &StoreOp) {
        let (key, value) = match op {
            StoreOp::Put(r) => (r.key().to_string(), Some(r.to_bytes())),
            StoreOp::Delete(k) => (k.to_string(), None),
        };
        let mut body = Vec::with_capacity(2 + key.len() + value.as_ref().map_or(0, Vec::len));
        body.push(if value.is_some() { b'P' } else { b'D' });
        body.push(key.len() as u8);
        body.extend_from_slice(key.as_bytes());
        if let Some(v) = &value {
            body.extend_from_slice(v);
        }
        self.staged.extend_from_slice(&(body.len() as u32).to_be_bytes());
        self.staged.extend_from_slice(&crc32(&body).to_be_bytes());
        self.staged.extend_from_slice(&body);
        match value {
            Some(v) => {
                self.live_bytes += (key.len() + v.len() + 12) as u64;
                if let Some(old) = self.live.insert(key.clone(), v) {
                    self.live_bytes -= (key.len() + old.len() + 12) as u64;
                }
            }
            None => {
                if let Some(old) = self.live.remove(&key) {
                    self.live_bytes -= (key.len() + old.len() + 12) as u64;
                }
            }
        }
    }

    /// Makes the staged batch durable: one append, one `fdatasync`. On error the store must not
    /// be used for the bytes this batch protects.
    pub fn commit(&mut self) -> io::Result<()> {
        if self.staged.is_empty() {
            return Ok(());
        }
        self.log.write_all(&self.staged)?;
        self.log.sync_data()?;
        self.log_len += self.staged.len() as u64;
        self.staged.clear();
        if self.log_len > COMPACT_MIN && self.log_len > 4 * self.live_bytes {
            self.compact()?;
        }
        Ok(())
    }

    /// Deletes every record (durably).
    pub fn clear(&mut self) -> io::Result<()> {
        self.live.clear();
        self.live_bytes = 0;
        self.staged.clear();
        self.compact()
    }

    /// Rewrites the log with only the live records: temp file, fsync, rename, fsync directory.
    fn compact(&mut self) -> io::Result<()> {
        let live = std::mem::take(&mut self.live);
        self.live_bytes = 0;
        self.staged.clear();
        for (k, v) in &live {
            let record =
                StoreRecord::from_bytes(v).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            debug_assert_eq!(&record.key().to_string(), k);
            self.stage(&StoreOp::Put(record));
        }
        let tmp = self.dir.join(TMP);
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        f.write_all(&self.staged)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, self.dir.join(LOG))?;
        File::open(&self.dir)?.sync_all()?;
        self.log = OpenOptions::new().append(true).open(self.dir.join(LOG))?;
        self.log_len = self.staged.len() as u64;
        self.staged.clear();
        Ok(())
    }
}

/// Replays log entries into `live`; returns the length of the intact prefix.
fn replay(data: &[u8], live: &mut BTreeMap<String, Vec<u8>>) -> usize {
    let mut at = 0;
    while let Some(head) = data.get(at..at + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let sum = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        let Some(body) = data.get(at + 8..at + 8 + len) else { break };
        if crc32(body) != sum || body.len() < 2 {
            break;
        }
        let klen = body[1] as usize;
        let Some(key) = body.get(2..2 + klen).and_then(|k| core::str::from_utf8(k).ok()) else { break };
        match body[0] {
            b'P' => {
                live.insert(key.to_owned(), body[2 + klen..].to_vec());
            }
            b'D' => {
                live.remove(key);
            }
            _ => break,
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
    fn sanitize_keeps_names_inside_their_directory() {
        assert_eq!(sanitize("127.0.0.1_1883"), "127.0.0.1_1883");
        assert_eq!(sanitize(".."), "%2E.");
        assert_eq!(sanitize("a/b\\c"), "a%2Fb%5Cc");
        assert_eq!(sanitize(""), "%");
        assert_ne!(sanitize("a/b"), sanitize("a%2Fb"));
    }
}
