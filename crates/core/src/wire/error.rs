//! Why wire bytes could not be decoded or encoded, and the size limits a server announces.

use thiserror::Error;

/// The largest message a server accepts (`maxMessageSizeBytes` in a hello reply).
pub const MAX_MESSAGE_SIZE_BYTES: i32 = 48_000_000;

/// The largest BSON document a server accepts (`maxBsonObjectSize` in a hello reply).
pub const MAX_BSON_OBJECT_SIZE: i32 = 16 * 1024 * 1024;

/// The largest number of writes in one batch (`maxWriteBatchSize` in a hello reply).
pub const MAX_WRITE_BATCH_SIZE: i32 = 100_000;

/// Why bytes could not be decoded into a message, or a message could not be encoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WireError {
    /// Fewer bytes than the header or a field needs.
    #[error("truncated {what}: need {needed} bytes, have {available}")]
    Truncated {
        /// Which part of the message was cut short.
        what: &'static str,
        /// How many bytes the part needs.
        needed: usize,
        /// How many bytes remain.
        available: usize,
    },
    /// The header's messageLength is below the header size or above the limit.
    #[error("messageLength {length} is outside the allowed range {min}..={max}")]
    BadLength {
        /// The length announced by the header.
        length: i64,
        /// The smallest acceptable length.
        min: i64,
        /// The largest acceptable length.
        max: i64,
    },
    /// The header's messageLength disagrees with the bytes given.
    #[error("messageLength {announced} does not match the {actual} bytes of the message")]
    LengthMismatch {
        /// The length announced by the header.
        announced: i64,
        /// The number of bytes actually present.
        actual: usize,
    },
    /// An opCode this codec does not handle.
    #[error("unsupported opCode {0}")]
    UnsupportedOpCode(i32),
    /// A BSON document (at the named place) is invalid.
    #[error("invalid BSON in {what}: {reason}")]
    InvalidBson {
        /// Which document was invalid.
        what: &'static str,
        /// What the BSON decoder said.
        reason: String,
    },
    /// A C string (at the named place) has no terminating NUL or is not UTF-8.
    #[error("invalid C string in {0}")]
    InvalidCString(&'static str),
    /// OP_MSG flag bits that a receiver must reject (required bits 0-15 that are unknown).
    #[error("OP_MSG has unknown required flag bits {0:#x}")]
    UnknownRequiredFlags(u32),
    /// OP_MSG section kind other than 0 or 1.
    #[error("OP_MSG section kind {0} is unknown")]
    UnknownSectionKind(u8),
    /// OP_MSG must carry exactly one kind-0 body section.
    #[error("OP_MSG has {0} body sections, expected exactly one")]
    BodyCount(usize),
    /// The CRC-32C checksum at the end of an OP_MSG does not match its contents.
    #[error(
        "OP_MSG checksum mismatch: message says {expected:#010x}, contents give {actual:#010x}"
    )]
    ChecksumMismatch {
        /// The checksum carried by the message.
        expected: u32,
        /// The checksum computed over the message.
        actual: u32,
    },
    /// A message being encoded would exceed the size limit.
    #[error("encoded message of {0} bytes exceeds maxMessageSizeBytes")]
    TooLarge(usize),
}
