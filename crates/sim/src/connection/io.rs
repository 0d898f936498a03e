//! The connection's read and write sides, why a connection ends, and the simulated latency
//! (a wait that notices the peer leaving).

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use mongo_topology_core::wire::framing::{FrameError, MessageReader, MessageWriter};
use mongo_topology_core::wire::MAX_MESSAGE_SIZE_BYTES;

/// The connection's read side (TCP or TLS): buffered, so a wait may be abandoned without
/// losing bytes.
pub(super) type Reader = MessageReader<Box<dyn AsyncRead + Send + Unpin>>;

/// The connection's write side, encoding replies into one reused buffer.
pub(super) type Writer = MessageWriter<Box<dyn AsyncWrite + Send + Unpin>>;

/// Why a connection ends.
pub(super) enum Close {
    /// The peer closed, or a fault asked for it: nothing to log beyond debug.
    Quietly,
    /// The peer misbehaved or I/O failed.
    Because(String),
}

/// A reset or a close in the middle of a message: the client left, nothing was malformed.
pub(super) fn peer_went_away(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
    )
}

/// The granularity of tokio's timer.
const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// Sleeps `delay` (a node's simulated latency) while watching the connection, so that a
/// peer leaving meanwhile ends the connection at once. Bytes the peer sends meanwhile
/// (pipelined requests) stay buffered for later, up to one maximal message.
///
/// tokio's timer rounds up to whole milliseconds, which made a 5 ms latency about 6.2 ms: the
/// timer sleeps until one millisecond before the deadline, and the rest is spent yielding,
/// so the simulated latency is accurate to a few microseconds.
pub(super) async fn delay_unless_peer_leaves(
    delay: Duration,
    rd: &mut Reader,
) -> Result<(), Close> {
    let deadline = Instant::now() + delay;
    let coarse = deadline.checked_sub(TIMER_RESOLUTION).unwrap_or(deadline);
    let sleep = tokio::time::sleep_until(coarse);
    tokio::pin!(sleep);
    loop {
        let room = rd.decoder_mut().buffered_len() < MAX_MESSAGE_SIZE_BYTES as usize;
        tokio::select! {
            _ = &mut sleep => {
                while Instant::now() < deadline {
                    tokio::task::yield_now().await;
                }
                return Ok(());
            }
            read = rd.read_available(), if room => match read {
                Ok(0) => return Err(Close::Quietly),
                Ok(_) => {}
                Err(FrameError::Io(e)) if peer_went_away(&e) => return Err(Close::Quietly),
                Err(e) => return Err(Close::Because(format!("read failed: {e}"))),
            },
        }
    }
}
