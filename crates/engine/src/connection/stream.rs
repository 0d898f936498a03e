//! The two halves of a connection's byte stream, plain TCP or TLS, behind one type each so
//! that [`crate::Connection`] reads and writes them the same way.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The read half of a connection's stream.
pub(crate) struct ReadStream(Box<dyn AsyncRead + Send + Sync + Unpin>);

/// The write half of a connection's stream.
pub(crate) struct WriteStream(Box<dyn AsyncWrite + Send + Sync + Unpin>);

/// Splits `stream` into halves. A TCP stream is split without a lock
/// ([`tokio::net::TcpStream::into_split`]); a TLS stream with [`tokio::io::split`].
pub(crate) fn split<S>(stream: S) -> (ReadStream, WriteStream)
where
    S: AsyncRead + AsyncWrite + Send + Sync + 'static,
{
    let (read, write) = tokio::io::split(stream);
    (ReadStream(Box::new(read)), WriteStream(Box::new(write)))
}

/// Splits a TCP stream into its owned halves.
pub(crate) fn split_tcp(stream: tokio::net::TcpStream) -> (ReadStream, WriteStream) {
    let (read, write) = stream.into_split();
    (ReadStream(Box::new(read)), WriteStream(Box::new(write)))
}

impl fmt::Debug for ReadStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReadStream")
    }
}

impl fmt::Debug for WriteStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WriteStream")
    }
}

impl AsyncRead for ReadStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}
