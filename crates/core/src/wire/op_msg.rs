//! OP_MSG (opCode 2013): flag bits, a kind-0 body and kind-1 document sequences, with the
//! optional CRC-32C checksum.

use bson::{Document, RawDocumentBuf};

use super::bytes::{put_cstring, put_document, Cursor};
use super::checksum;
use super::error::WireError;
use super::header::HEADER_LEN;

/// OP_MSG flag bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MsgFlags(pub u32);

impl MsgFlags {
    /// Bit 0: the message ends with a CRC-32C checksum.
    pub const CHECKSUM_PRESENT: MsgFlags = MsgFlags(1);
    /// Bit 1: another message follows without the receiver asking for it.
    pub const MORE_TO_COME: MsgFlags = MsgFlags(1 << 1);
    /// Bit 16: the sender accepts several replies (exhaust) to this request.
    pub const EXHAUST_ALLOWED: MsgFlags = MsgFlags(1 << 16);
    /// Bits a receiver must understand (0-15); the ones defined so far.
    const KNOWN_REQUIRED: u32 = 0b11;

    /// An empty flag set.
    pub const fn empty() -> MsgFlags {
        MsgFlags(0)
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: MsgFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// This set plus the bits of `other`.
    pub const fn with(self, other: MsgFlags) -> MsgFlags {
        MsgFlags(self.0 | other.0)
    }
}

/// A kind-1 section: a named sequence of documents (e.g. `documents` of an insert).
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentSequence {
    /// The command argument this sequence stands for.
    pub identifier: String,
    /// The documents, in order.
    pub documents: Vec<Document>,
}

/// An OP_MSG message body.
#[derive(Debug, Clone, PartialEq)]
pub struct OpMsg {
    /// Flag bits. Encoding appends a checksum when CHECKSUM_PRESENT is set.
    pub flags: MsgFlags,
    /// The kind-0 body section (the command or reply).
    pub body: Document,
    /// The kind-1 sections.
    pub sequences: Vec<DocumentSequence>,
}

impl OpMsg {
    /// A message with just a body and no flags.
    pub fn new(body: Document) -> OpMsg {
        OpMsg {
            flags: MsgFlags::empty(),
            body,
            sequences: Vec::new(),
        }
    }
}

/// An OP_MSG whose body is kept as received: its bytes were checked (every element well
/// formed, nesting bounded) but not decoded. Document sequences, which replies do not carry,
/// are checked and dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct RawOpMsg {
    /// Flag bits.
    pub flags: MsgFlags,
    /// The kind-0 body section.
    pub body: RawDocumentBuf,
}

/// The sections of one OP_MSG, each document read by the caller's reader.
struct Sections<D> {
    flags: MsgFlags,
    body: D,
    sequences: Vec<(String, Vec<D>)>,
}

/// Decodes the OP_MSG whose complete bytes (header included) are `whole`; `body` is `whole`
/// without the header.
pub(crate) fn decode(whole: &[u8], body: &[u8]) -> Result<OpMsg, WireError> {
    let sections = decode_sections(whole, body, |cur, what| cur.document(what))?;
    Ok(OpMsg {
        flags: sections.flags,
        body: sections.body,
        sequences: sections
            .sequences
            .into_iter()
            .map(|(identifier, documents)| DocumentSequence {
                identifier,
                documents,
            })
            .collect(),
    })
}

/// [`decode`], keeping the body as received.
pub(crate) fn decode_raw(whole: &[u8], body: &[u8]) -> Result<RawOpMsg, WireError> {
    let sections = decode_sections(whole, body, |cur, what| cur.raw_document(what))?;
    let body =
        RawDocumentBuf::from_bytes(sections.body.to_vec()).map_err(|e| WireError::InvalidBson {
            what: "OP_MSG body section",
            reason: e.to_string(),
        })?;
    Ok(RawOpMsg {
        flags: sections.flags,
        body,
    })
}

/// [`decode`] of a reply whose contents are ignored (an RTT check's): the flags, the
/// checksum and the framing of every section are checked, the documents only skipped by
/// their length prefixes.
pub(crate) fn decode_flags(whole: &[u8], body: &[u8]) -> Result<MsgFlags, WireError> {
    decode_sections(whole, body, |cur, what| cur.document_extent(what)).map(|s| s.flags)
}

/// The flags and sections of an OP_MSG, its checksum verified, every document read with
/// `read_document`.
fn decode_sections<'a, D>(
    whole: &[u8],
    body: &'a [u8],
    read_document: impl Fn(&mut Cursor<'a>, &'static str) -> Result<D, WireError>,
) -> Result<Sections<D>, WireError> {
    let mut cur = Cursor::new(body);
    let flags = MsgFlags(cur.i32("OP_MSG flagBits")? as u32);
    let unknown = flags.0 & 0xFFFF & !MsgFlags::KNOWN_REQUIRED;
    if unknown != 0 {
        return Err(WireError::UnknownRequiredFlags(unknown));
    }
    let mut sections = cur.remaining();
    if flags.contains(MsgFlags::CHECKSUM_PRESENT) {
        sections = sections.checked_sub(4).ok_or(WireError::Truncated {
            what: "OP_MSG checksum",
            needed: 4,
            available: sections,
        })?;
        let covered = whole.len() - 4;
        let (data, tail) = whole.split_at(covered);
        let expected = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        let actual = checksum::crc32c(data);
        if expected != actual {
            return Err(WireError::ChecksumMismatch { expected, actual });
        }
    }
    let mut cur = Cursor::new(cur.take(sections, "OP_MSG sections")?);
    let mut bodies = Vec::new();
    let mut sequences = Vec::new();
    while !cur.is_empty() {
        match cur.u8("OP_MSG section kind")? {
            0 => bodies.push(read_document(&mut cur, "OP_MSG body section")?),
            1 => sequences.push(decode_sequence(&mut cur, &read_document)?),
            other => return Err(WireError::UnknownSectionKind(other)),
        }
    }
    let count = bodies.len();
    match (bodies.pop(), count) {
        (Some(body), 1) => Ok(Sections {
            flags,
            body,
            sequences,
        }),
        _ => Err(WireError::BodyCount(count)),
    }
}

fn decode_sequence<'a, D>(
    cur: &mut Cursor<'a>,
    read_document: &impl Fn(&mut Cursor<'a>, &'static str) -> Result<D, WireError>,
) -> Result<(String, Vec<D>), WireError> {
    let size = cur.i32("OP_MSG document sequence size")?;
    // The size counts itself (4 bytes) and everything after it in the section.
    let size = usize::try_from(size)
        .ok()
        .and_then(|s| s.checked_sub(4))
        .ok_or(WireError::Truncated {
            what: "OP_MSG document sequence",
            needed: 4,
            available: cur.remaining(),
        })?;
    let mut seq = Cursor::new(cur.take(size, "OP_MSG document sequence")?);
    let identifier = seq
        .cstring("OP_MSG document sequence identifier")?
        .to_owned();
    let mut documents = Vec::new();
    while !seq.is_empty() {
        documents.push(read_document(&mut seq, "OP_MSG document sequence")?);
    }
    Ok((identifier, documents))
}

/// Appends the OP_MSG body (flags and sections; not the checksum) to `out`.
pub(crate) fn encode_body(msg: &OpMsg, out: &mut Vec<u8>) -> Result<(), WireError> {
    out.extend_from_slice(&msg.flags.0.to_le_bytes());
    out.push(0);
    put_document(&msg.body, "OP_MSG body section", out)?;
    for seq in &msg.sequences {
        out.push(1);
        let start = out.len();
        out.extend_from_slice(&[0u8; 4]);
        put_cstring(&seq.identifier, "OP_MSG document sequence identifier", out)?;
        for doc in &seq.documents {
            put_document(doc, "OP_MSG document sequence", out)?;
        }
        let size = i32::try_from(out.len() - start).map_err(|_| WireError::TooLarge(out.len()))?;
        out[start..start + 4].copy_from_slice(&size.to_le_bytes());
    }
    debug_assert!(out.len() >= HEADER_LEN);
    Ok(())
}
