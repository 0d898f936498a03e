//! Async framing: read or write exactly one length-prefixed message on a tokio stream.
//!
//! The length prefix is checked against the limit before the body buffer is allocated, so
//! a peer announcing a huge message cannot make us reserve memory for it.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{decode_message, encode_message, Message, MsgHeader, WireError, HEADER_LEN};

/// Why reading a frame failed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream failed or closed in the middle of a message.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes received are not a valid message.
    #[error("malformed message: {0}")]
    Wire(#[from] WireError),
}

/// Reads the raw bytes of one message (header included), checking the announced length
/// against `max_len` first. Returns `Ok(None)` on a clean end of stream before any byte of
/// a new message.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_len: i32,
) -> Result<Option<Vec<u8>>, FrameError> {
    let mut header = [0u8; HEADER_LEN];
    let first = reader.read(&mut header).await?;
    if first == 0 {
        return Ok(None);
    }
    if first < HEADER_LEN {
        reader.read_exact(&mut header[first..]).await?;
    }
    let parsed = MsgHeader::decode_with_limit(&header, max_len)?;
    // decode_with_limit guarantees 16 <= message_length <= max_len.
    let total = usize::try_from(parsed.message_length).map_err(|_| WireError::BadLength {
        length: i64::from(parsed.message_length),
        min: HEADER_LEN as i64,
        max: i64::from(max_len),
    })?;
    let mut bytes = vec![0u8; total];
    bytes[..HEADER_LEN].copy_from_slice(&header);
    reader.read_exact(&mut bytes[HEADER_LEN..]).await?;
    Ok(Some(bytes))
}

/// Reads and decodes one message; `Ok(None)` on a clean end of stream.
pub async fn read_message<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_len: i32,
) -> Result<Option<Message>, FrameError> {
    match read_frame(reader, max_len).await? {
        Some(bytes) => Ok(Some(decode_message(&bytes)?)),
        None => Ok(None),
    }
}

/// Encodes and writes one message, then flushes.
pub async fn write_message<W: AsyncWrite + Unpin>(
    writer: &mut W,
    message: &Message,
) -> Result<(), FrameError> {
    let bytes = encode_message(message)?;
    writer.write_all(&bytes).await?;
    writer.flush().await?;
    Ok(())
}
