//! Async framing on tokio streams: [`MessageReader`] and [`MessageWriter`], thin wrappers
//! around the pure [`MessageDecoder`] and [`encode_message_into`]. This is the only part of
//! [`crate::wire`] that uses tokio.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::decoder::MessageDecoder;
use super::error::WireError;
use super::message::{encode_message_into, Message};

/// Why reading or writing a message failed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream failed, or closed in the middle of a message.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes received are not a valid message, or a message could not be encoded.
    #[error("malformed message: {0}")]
    Wire(#[from] WireError),
}

/// Reads messages from a byte stream through a [`MessageDecoder`], which keeps every byte
/// received so far between calls.
#[derive(Debug)]
pub struct MessageReader<R> {
    reader: R,
    decoder: MessageDecoder,
}

impl<R: AsyncRead + Unpin> MessageReader<R> {
    /// Reads from `reader`, accepting messages of at most `max_message_size` bytes.
    pub fn new(reader: R, max_message_size: i32) -> MessageReader<R> {
        MessageReader {
            reader,
            decoder: MessageDecoder::new(max_message_size),
        }
    }

    /// Reads the next message; `Ok(None)` on a clean end of stream between messages, an
    /// [`FrameError::Io`] of kind `UnexpectedEof` on an end of stream in the middle of one.
    ///
    /// Cancellation safe: dropping the returned future (in a `tokio::select!` or a timeout)
    /// loses no byte; the next call continues with everything received so far.
    pub async fn read_message(&mut self) -> Result<Option<Message>, FrameError> {
        while self.decoder.next_frame_len()?.is_none() {
            if self.read_available().await? == 0 {
                return self.end_of_stream();
            }
        }
        Ok(self.decoder.decode()?)
    }

    /// Like [`MessageReader::read_message`] but returns the raw bytes (header included)
    /// without decoding them. Cancellation safe too.
    pub async fn read_frame(&mut self) -> Result<Option<&[u8]>, FrameError> {
        while self.decoder.next_frame_len()?.is_none() {
            if self.read_available().await? == 0 {
                return self.end_of_stream();
            }
        }
        Ok(self.decoder.decode_frame()?)
    }

    /// Waits for at least one byte (or the end of the stream) and buffers what arrived;
    /// returns how many bytes were received, 0 at the end of the stream. Cancellation safe.
    pub async fn read_available(&mut self) -> Result<usize, FrameError> {
        let n = self.reader.read(self.decoder.spare_mut()).await?;
        self.decoder.commit(n);
        Ok(n)
    }

    /// `Ok(None)` if the stream ended between messages, an error otherwise.
    fn end_of_stream<T>(&self) -> Result<Option<T>, FrameError> {
        if self.decoder.is_empty() {
            return Ok(None);
        }
        Err(FrameError::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "stream closed in the middle of a message ({} bytes received)",
                self.decoder.buffered_len()
            ),
        )))
    }

    /// The decoder, e.g. to change the size limit.
    pub fn decoder_mut(&mut self) -> &mut MessageDecoder {
        &mut self.decoder
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// The underlying stream. Reading from it directly bypasses the buffered bytes.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.reader
    }

    /// The underlying stream; bytes still buffered are dropped.
    pub fn into_inner(self) -> R {
        self.reader
    }
}

/// Writes messages to a byte stream, encoding each into one reused buffer.
#[derive(Debug)]
pub struct MessageWriter<W> {
    writer: W,
    buf: Vec<u8>,
}

impl<W: AsyncWrite + Unpin> MessageWriter<W> {
    /// Writes to `writer`.
    pub fn new(writer: W) -> MessageWriter<W> {
        MessageWriter {
            writer,
            buf: Vec::new(),
        }
    }

    /// Encodes `message`, writes it and flushes. Not cancellation safe: a dropped future
    /// may have written part of the message, after which the stream is unusable.
    pub async fn write_message(&mut self, message: &Message) -> Result<(), FrameError> {
        self.buf.clear();
        encode_message_into(message, &mut self.buf)?;
        self.writer.write_all(&self.buf).await?;
        self.writer.flush().await?;
        Ok(())
    }

    /// Writes a message encoded beforehand (see [`super::set_request_id`]) and flushes. Not
    /// cancellation safe, as [`MessageWriter::write_message`] is not.
    pub async fn write_encoded(&mut self, message: &[u8]) -> Result<(), FrameError> {
        self.writer.write_all(message).await?;
        self.writer.flush().await?;
        Ok(())
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &W {
        &self.writer
    }

    /// The underlying stream, e.g. to write raw bytes.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.writer
    }

    /// The underlying stream.
    pub fn into_inner(self) -> W {
        self.writer
    }
}
