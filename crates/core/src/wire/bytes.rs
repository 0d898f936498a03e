//! Little-endian reading and writing of the wire protocol's primitive fields: integers,
//! C strings and BSON documents, with truncation reported as [`WireError`].

use super::depth;
use super::error::WireError;

/// A little-endian reader over a byte slice that reports truncation as [`WireError`].
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if self.bytes.len() < n {
            return Err(WireError::Truncated {
                what,
                needed: n,
                available: self.bytes.len(),
            });
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.take(1, what)?.first().copied().unwrap_or_default())
    }

    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32, WireError> {
        let b = self.take(4, what)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, WireError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_le_bytes(a))
    }

    /// Reads a NUL-terminated UTF-8 string.
    pub(crate) fn cstring(&mut self, what: &'static str) -> Result<&'a str, WireError> {
        let end = self
            .bytes
            .iter()
            .position(|b| *b == 0)
            .ok_or(WireError::InvalidCString(what))?;
        let raw = self.take(end + 1, what)?;
        std::str::from_utf8(&raw[..end]).map_err(|_| WireError::InvalidCString(what))
    }

    /// Reads one BSON document, bounded by its own length prefix.
    pub(crate) fn document(&mut self, what: &'static str) -> Result<bson::Document, WireError> {
        let raw = self.raw_document(what)?;
        bson::Document::from_reader(raw).map_err(|e| WireError::InvalidBson {
            what,
            reason: e.to_string(),
        })
    }

    /// Reads the bytes of one BSON document, bounded by its own length prefix, checked as
    /// [`depth::check_depth`] checks (every element well formed, nesting bounded) but not
    /// decoded.
    pub(crate) fn raw_document(&mut self, what: &'static str) -> Result<&'a [u8], WireError> {
        let raw = self.document_extent(what)?;
        depth::check_depth(raw, what)?;
        Ok(raw)
    }

    /// Skips one BSON document by its length prefix (at least 5 bytes, within the message,
    /// ending in NUL) without reading what is inside: for a reply whose contents are ignored.
    pub(crate) fn document_extent(&mut self, what: &'static str) -> Result<&'a [u8], WireError> {
        let len_bytes = self.bytes.get(..4).ok_or(WireError::Truncated {
            what,
            needed: 4,
            available: self.bytes.len(),
        })?;
        let len = i32::from_le_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l >= 5)
            .ok_or_else(|| WireError::InvalidBson {
                what,
                reason: format!("document length {len} is invalid"),
            })?;
        let raw = self.take(len, what)?;
        if raw.last() != Some(&0) {
            return Err(WireError::InvalidBson {
                what,
                reason: "the document does not end in NUL".to_owned(),
            });
        }
        Ok(raw)
    }
}

/// Appends a BSON document to `out` (directly, without an intermediate buffer).
pub(crate) fn put_document(
    doc: &bson::Document,
    what: &'static str,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    doc.to_writer(out).map_err(|e| WireError::InvalidBson {
        what,
        reason: e.to_string(),
    })
}

/// Appends a NUL-terminated string to `out`; interior NULs are an error.
pub(crate) fn put_cstring(s: &str, what: &'static str, out: &mut Vec<u8>) -> Result<(), WireError> {
    if s.as_bytes().contains(&0) {
        return Err(WireError::InvalidCString(what));
    }
    out.extend_from_slice(s.as_bytes());
    out.push(0);
    Ok(())
}
