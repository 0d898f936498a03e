//! Standard input and output of `sim` (one process or the parent of several): control lines
//! in, one-line answers out, and the signals that stop it.

use std::io::Write;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Reads the next line of `input` (without its newline) into `line`, as bytes: a line that
/// is not UTF-8 is the caller's to answer, not the end of input. `Ok(false)` at the end of
/// input with nothing left to answer. Bytes of an interrupted read stay in `line`.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    input: &mut R,
    line: &mut Vec<u8>,
) -> std::io::Result<bool> {
    let n = input.read_until(b'\n', line).await?;
    if n == 0 && line.is_empty() {
        return Ok(false);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    Ok(true)
}

/// Prints one line on standard output and flushes it (whoever reads it may be waiting).
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// SIGINT and SIGTERM.
pub struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}
