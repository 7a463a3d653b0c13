//! Wire primitives shared by every packet: the fixed header, the remaining length, two-byte
//! integers, UTF-8 strings and binary data [MQTT-1.5, MQTT-2.2].

use super::CodecError;
use alloc::vec::Vec;
use bytes::Bytes;

/// The largest remaining length four bytes can express [MQTT-2.2.3].
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// A parsed fixed header: the first byte and where the body starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    /// Byte 1: packet type in bits 7-4, flags in bits 3-0.
    pub byte1: u8,
    /// Length of the fixed header (2 to 5 bytes).
    pub header_len: usize,
    /// The remaining length: the body's size.
    pub remaining: usize,
}

impl FixedHeader {
    pub fn packet_type(&self) -> u8 {
        self.byte1 >> 4
    }
    pub fn flags(&self) -> u8 {
        self.byte1 & 0x0F
    }
    /// Size of the whole packet.
    pub fn total_len(&self) -> usize {
        self.header_len + self.remaining
    }
}

/// Parses a fixed header from the front of `buf`.
///
/// `Ok(None)` means more bytes are needed. The remaining length is checked against `max_packet`
/// here, before the body is buffered, so a hostile length costs nothing.
#[inline]
pub fn parse_header(buf: &[u8], max_packet: usize) -> Result<Option<FixedHeader>, CodecError> {
    let Some(&byte1) = buf.first() else {
        return Ok(None);
    };
    let mut remaining = 0usize;
    let mut i = 1;
    loop {
        let Some(&b) = buf.get(i) else {
            // Even a partial length can already prove the packet too large.
            if i + remaining > max_packet {
                return Err(CodecError::PacketTooLarge { size: i + remaining, max: max_packet });
            }
            return Ok(None);
        };
        remaining |= ((b & 0x7F) as usize) << (7 * (i - 1));
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        // [MQTT-2.2.3]: at most four bytes.
        if i == 5 {
            return Err(CodecError::MalformedRemainingLength);
        }
    }
    let header = FixedHeader { byte1, header_len: i, remaining };
    if header.total_len() > max_packet {
        return Err(CodecError::PacketTooLarge { size: header.total_len(), max: max_packet });
    }
    Ok(Some(header))
}

/// Number of bytes the remaining length `len` takes.
#[inline]
pub fn remaining_len_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Byte 1, the remaining length `len` (at most [`MAX_REMAINING_LENGTH`]) and `next` (two bytes,
/// big-endian: what follows the fixed header) in the first bytes of a word, built in a register:
/// the bytes and how many of them hold the fixed header.
#[inline(always)]
pub fn header_and(byte1: u8, mut len: usize, next: u16) -> ([u8; 8], usize) {
    let mut w = byte1 as u64;
    let mut n = 1;
    loop {
        let b = (len & 0x7F) as u64;
        len >>= 7;
        if len == 0 || n == 4 {
            w |= b << (8 * n);
            n += 1;
            break;
        }
        w |= (b | 0x80) << (8 * n);
        n += 1;
    }
    w |= (next.swap_bytes() as u64) << (8 * n);
    (w.to_le_bytes(), n)
}

/// Writes byte 1 and the remaining length. `len` must be at most [`MAX_REMAINING_LENGTH`].
#[inline]
pub fn write_header(out: &mut Vec<u8>, byte1: u8, len: usize) {
    let (h, n) = header_and(byte1, len, 0);
    extend_prefix(out, &h, n);
}

/// Appends the first `n` (at most `N`) bytes of `bytes`: a copy of a size known when compiling,
/// which needs no call to `memcpy`, then a truncate.
#[inline(always)]
pub fn extend_prefix<const N: usize>(out: &mut Vec<u8>, bytes: &[u8; N], n: usize) {
    out.extend_from_slice(bytes);
    out.truncate(out.len() - (N - n));
}

/// Checks a remaining length before anything is written.
pub fn check_remaining(len: usize) -> Result<usize, CodecError> {
    if len > MAX_REMAINING_LENGTH {
        return Err(CodecError::PacketTooLarge { size: len + 5, max: MAX_REMAINING_LENGTH + 5 });
    }
    Ok(len)
}

/// Checks a string to be encoded: at most 65,535 bytes, no U+0000 [MQTT-1.5.3-1..3].
/// Returns its encoded size (with the 2-byte length).
pub fn check_str(s: &str) -> Result<usize, CodecError> {
    if s.len() > u16::MAX as usize {
        return Err(CodecError::StringTooLong(s.len()));
    }
    if has_nul(s.as_bytes()) {
        return Err(CodecError::NullCharacter);
    }
    Ok(2 + s.len())
}

/// Checks binary data to be encoded: at most 65,535 bytes. Returns its encoded size.
pub fn check_binary(b: &[u8]) -> Result<usize, CodecError> {
    if b.len() > u16::MAX as usize {
        return Err(CodecError::StringTooLong(b.len()));
    }
    Ok(2 + b.len())
}

/// Writes a length-prefixed field; its length was checked before.
#[inline]
pub fn write_binary(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

/// Validates decoded string bytes as MQTT UTF-8: well-formed, no U+0000 [MQTT-1.5.3-1, -2].
///
/// U+D800..U+DFFF cannot occur in well-formed UTF-8, so `from_utf8` covers [MQTT-1.5.3-1].
/// Non-characters such as U+FFFF are allowed: [MQTT-1.5.3-3] forbids stripping them.
#[inline]
pub fn validate_utf8(b: &[u8]) -> Result<&str, CodecError> {
    let s = core::str::from_utf8(b).map_err(|_| CodecError::InvalidUtf8)?;
    if has_nul(b) {
        return Err(CodecError::NullCharacter);
    }
    Ok(s)
}

/// Whether `b` holds a zero byte: a plain loop, where `<[u8]>::contains` is core's word-at-a-time
/// search (~0.4 KB of wasm, for strings that are topic names and client ids).
#[allow(clippy::manual_contains)] // On purpose: see above.
fn has_nul(b: &[u8]) -> bool {
    b.iter().any(|&c| c == 0)
}

/// A cursor over a packet body.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pos == self.buf.len()
    }
    #[inline]
    pub fn u8(&mut self) -> Result<u8, CodecError> {
        let b = *self.buf.get(self.pos).ok_or(CodecError::UnexpectedEnd)?;
        self.pos += 1;
        Ok(b)
    }
    #[inline]
    pub fn u16(&mut self) -> Result<u16, CodecError> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    /// A packet identifier: two bytes, never zero [MQTT-2.3.1-1].
    #[inline]
    pub fn packet_id(&mut self) -> Result<u16, CodecError> {
        match self.u16()? {
            0 => Err(CodecError::ZeroPacketId),
            id => Ok(id),
        }
    }
    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.remaining() < n {
            return Err(CodecError::UnexpectedEnd);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    /// Length-prefixed binary data.
    #[inline]
    pub fn binary(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.u16()? as usize;
        self.take(n)
    }
    /// A length-prefixed UTF-8 string [MQTT-1.5.3].
    #[inline]
    pub fn str(&mut self) -> Result<&'a str, CodecError> {
        let b = self.binary()?;
        validate_utf8(b)
    }
    #[inline]
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }
    /// Fails unless every byte was read.
    #[inline]
    pub fn finish(&self) -> Result<(), CodecError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(CodecError::TrailingBytes)
        }
    }
}

/// Slices `owner` at the position of `part`, which must lie inside it. Zero-copy.
#[inline]
pub fn slice_of(owner: &Bytes, part: &[u8]) -> Bytes {
    if part.is_empty() {
        return Bytes::new();
    }
    owner.slice_ref(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `header_and` against the remaining length written a byte at a time [MQTT-2.2.3], at every
    /// size boundary.
    #[test]
    fn header_and_agrees_with_the_byte_by_byte_encoding() {
        let lens = [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, MAX_REMAINING_LENGTH];
        for len in lens {
            let mut want = alloc::vec![0x32];
            let mut l = len;
            loop {
                let b = (l & 0x7F) as u8;
                l >>= 7;
                want.push(if l > 0 { b | 0x80 } else { b });
                if l == 0 {
                    break;
                }
            }
            assert_eq!(want.len(), 1 + remaining_len_size(len));
            want.extend_from_slice(&0xABCDu16.to_be_bytes());
            let (h, n) = header_and(0x32, len, 0xABCD);
            assert_eq!(&h[..n + 2], &want[..], "length {len}");
            let mut out = alloc::vec![7];
            write_header(&mut out, 0x32, len);
            assert_eq!(&out[1..], &want[..n], "length {len}");
        }
    }
}
