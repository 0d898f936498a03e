//! An incremental, sans-IO message decoder that owns a reusable receive buffer.
//!
//! Bytes go in as they arrive ([`MessageDecoder::extend`], or straight into the spare space
//! from [`MessageDecoder::spare_mut`] followed by [`MessageDecoder::commit`]); complete
//! messages come out of [`MessageDecoder::decode`] (or [`MessageDecoder::decode_frame`] for
//! the raw bytes). Nothing here performs I/O, so a caller that stops reading half way (a
//! timeout, a `select!`) loses nothing: the bytes stay buffered for the next call.
//!
//! The length prefix is checked against the size limit as soon as its 4 bytes are
//! buffered, before any space is reserved for the body. Taking a message out only moves
//! an offset; the remaining bytes are moved to the front of the buffer when more space is
//! needed, so the buffer is allocated once and then reused.

use super::error::WireError;
use super::header::HEADER_LEN;
use super::message::{decode_message, Message};

/// How many bytes [`MessageDecoder::spare_mut`] offers at least, so that several small
/// messages can arrive in one read. 512 bytes hold a mongos's hello reply whole; every
/// connection keeps this much allocated while idle (one or two monitoring connections per
/// server: at 8 KiB, a third of the exporter's memory at 3,000 servers; at 2 KiB, 20 MB of
/// a client of 10,000 mongos), and a larger message (a replica set member's reply) grows
/// the buffer once its header is in, after which the buffer keeps its size.
const MIN_READ: usize = 512;

/// How many bytes [`MessageDecoder::spare_mut`] offers at most, so that a peer announcing a
/// large (but allowed) message gets memory as it sends bytes, not for the announcement.
const MAX_READ: usize = 1024 * 1024;

/// Splits a byte stream into wire protocol messages, keeping partial input between calls.
#[derive(Debug, Clone)]
pub struct MessageDecoder {
    /// Storage: `buf[start..filled]` are received bytes not yet taken; `buf[filled..]` is
    /// zeroed spare space for the next read.
    buf: Vec<u8>,
    /// Offset of the first byte not yet taken.
    start: usize,
    /// Offset just past the last received byte.
    filled: usize,
    /// The largest messageLength accepted.
    max_message_size: i32,
}

impl MessageDecoder {
    /// A decoder accepting messages of at most `max_message_size` bytes (header included).
    pub fn new(max_message_size: i32) -> MessageDecoder {
        MessageDecoder {
            buf: Vec::new(),
            start: 0,
            filled: 0,
            max_message_size,
        }
    }

    /// The largest messageLength accepted.
    pub fn max_message_size(&self) -> i32 {
        self.max_message_size
    }

    /// Changes the limit (e.g. to a hello reply's `maxMessageSizeBytes`); it applies to
    /// every message not yet taken.
    pub fn set_max_message_size(&mut self, max_message_size: i32) {
        self.max_message_size = max_message_size;
    }

    /// Whether no received byte is waiting (the stream is between messages).
    pub fn is_empty(&self) -> bool {
        self.start == self.filled
    }

    /// How many received bytes are waiting to be taken.
    pub fn buffered_len(&self) -> usize {
        self.filled - self.start
    }

    /// Appends received bytes.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.make_room(bytes.len());
        self.buf[self.filled..self.filled + bytes.len()].copy_from_slice(bytes);
        self.filled += bytes.len();
    }

    /// Spare space to read received bytes into; report how many were written with
    /// [`MessageDecoder::commit`]. Its size follows what the message being received still
    /// needs (at least 512 bytes, at most 1 MiB). Calling this without committing changes no
    /// buffered byte.
    pub fn spare_mut(&mut self) -> &mut [u8] {
        let wanted = self.missing_bytes().clamp(MIN_READ, MAX_READ);
        self.make_room(wanted);
        &mut self.buf[self.filled..]
    }

    /// Records that the first `n` bytes of the last [`MessageDecoder::spare_mut`] were
    /// filled with received bytes (capped at the spare space offered).
    pub fn commit(&mut self, n: usize) {
        self.filled = (self.filled + n).min(self.buf.len());
    }

    /// The length of the complete message at the front of the buffer, if all its bytes
    /// are there. An error when its announced length is outside `16..=max_message_size`
    /// (checked as soon as the 4 length bytes are buffered): the stream cannot be
    /// resynchronised, so the connection should be closed.
    pub fn next_frame_len(&self) -> Result<Option<usize>, WireError> {
        let Some(len) = self.announced_len()? else {
            return Ok(None);
        };
        Ok((self.buffered_len() >= len).then_some(len))
    }

    /// Takes the raw bytes (header included) of the next complete message; `Ok(None)` when
    /// more bytes are needed. Errors as [`MessageDecoder::next_frame_len`]; after an error
    /// nothing is taken.
    pub fn decode_frame(&mut self) -> Result<Option<&[u8]>, WireError> {
        let Some(len) = self.next_frame_len()? else {
            return Ok(None);
        };
        let frame = self.start..self.start + len;
        self.start = frame.end;
        if self.start == self.filled {
            // Everything was taken: reuse the buffer from its beginning, without copying.
            self.start = 0;
            self.filled = 0;
        }
        Ok(Some(&self.buf[frame]))
    }

    /// Takes and decodes the next complete message; `Ok(None)` when more bytes are needed.
    /// A message whose contents are invalid is taken (the framing stays intact, the caller
    /// may go on); an invalid length is not (see [`MessageDecoder::next_frame_len`]).
    pub fn decode(&mut self) -> Result<Option<Message>, WireError> {
        match self.decode_frame()? {
            Some(frame) => decode_message(frame).map(Some),
            None => Ok(None),
        }
    }

    /// The messageLength of the message at the front, once its 4 bytes are buffered.
    fn announced_len(&self) -> Result<Option<usize>, WireError> {
        if self.buffered_len() < 4 {
            return Ok(None);
        }
        let Some(prefix) = self.buf.get(self.start..self.start + 4) else {
            return Ok(None);
        };
        let length = i32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        let bad = || WireError::BadLength {
            length: i64::from(length),
            min: HEADER_LEN as i64,
            max: i64::from(self.max_message_size),
        };
        if length > self.max_message_size {
            return Err(bad());
        }
        usize::try_from(length)
            .ok()
            .filter(|len| *len >= HEADER_LEN)
            .map(Some)
            .ok_or_else(bad)
    }

    /// How many more bytes the message at the front needs (0 if unknown or complete).
    fn missing_bytes(&self) -> usize {
        match self.announced_len() {
            Ok(Some(len)) => len.saturating_sub(self.buffered_len()),
            _ => 0,
        }
    }

    /// Ensures at least `n` bytes of spare space after `filled`, first moving the waiting
    /// bytes to the front of the buffer. Grows the buffer only when that is not enough.
    fn make_room(&mut self, n: usize) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.start = 0;
        }
        let needed = self.filled + n;
        if self.buf.len() < needed {
            self.buf.resize(needed, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize, fill: u8) -> Vec<u8> {
        let mut bytes = vec![fill; len];
        bytes[..4].copy_from_slice(&i32::try_from(len).unwrap().to_le_bytes());
        bytes
    }

    #[test]
    fn frames_come_out_whole_and_in_order() {
        let mut d = MessageDecoder::new(1024);
        let (a, b) = (frame(20, 1), frame(30, 2));
        d.extend(&a[..3]);
        assert_eq!(d.decode_frame(), Ok(None));
        d.extend(&a[3..]);
        d.extend(&b[..10]);
        assert_eq!(d.decode_frame(), Ok(Some(&a[..])));
        assert_eq!(d.decode_frame(), Ok(None));
        assert_eq!(d.buffered_len(), 10);
        d.extend(&b[10..]);
        assert_eq!(d.decode_frame(), Ok(Some(&b[..])));
        assert!(d.is_empty());
    }

    #[test]
    fn the_buffer_is_reused_once_grown() {
        let mut d = MessageDecoder::new(1024);
        let f = frame(100, 7);
        for _ in 0..1000 {
            let spare = d.spare_mut();
            spare[..f.len()].copy_from_slice(&f);
            d.commit(f.len());
            assert_eq!(d.decode_frame(), Ok(Some(&f[..])));
        }
        assert_eq!(d.buf.len(), MIN_READ);
    }

    #[test]
    fn an_uncommitted_spare_changes_nothing() {
        let mut d = MessageDecoder::new(1024);
        let f = frame(40, 3);
        d.extend(&f[..25]);
        d.spare_mut().fill(0xAA);
        d.extend(&f[25..]);
        assert_eq!(d.decode_frame(), Ok(Some(&f[..])));
    }

    #[test]
    fn lengths_outside_the_limits_are_rejected_from_the_prefix() {
        for length in [i32::MIN, -1, 0, 15, 1025, i32::MAX] {
            let mut d = MessageDecoder::new(1024);
            d.extend(&length.to_le_bytes());
            assert!(
                matches!(d.decode_frame(), Err(WireError::BadLength { .. })),
                "{length}"
            );
        }
    }
}
