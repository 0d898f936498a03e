//! `sim --reply-times` (hidden, for scripts/bench): every control reply ends with ` at=<µs>`,
//! the UNIX time taken just before the command was applied; without the flag, no stamp.

use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

fn unix_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros()
}

/// The simulator's replies to `commands`, sent one at a time.
async fn replies(flags: &[&str], commands: &[&str]) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mongo-topology"))
        .args(["sim", "--members", "3", "--port", "0"])
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the sim binary");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(next(&mut lines).await.starts_with("mongodb://"));
    let mut out = Vec::new();
    for command in commands {
        stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .unwrap();
        out.push(next(&mut lines).await);
    }
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the simulator exits in time")
        .unwrap();
    assert!(status.success(), "exit status {status}");
    out
}

async fn next(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("a line in time")
        .unwrap()
        .expect("stdout still open")
}

#[tokio::test]
async fn every_reply_is_stamped_with_the_time_before_the_command() {
    let before = unix_micros();
    let answers = replies(&["--reply-times"], &["stepdown", "elect 2", "nonsense"]).await;
    let after = unix_micros();
    let mut last = before;
    for (answer, expected_start) in answers.iter().zip(["ok", "ok", "error: "]) {
        assert!(answer.starts_with(expected_start), "{answer:?}");
        let (_, stamp) = answer.rsplit_once(" at=").expect("a stamp");
        let stamp: u128 = stamp.parse().expect("microseconds");
        assert!(
            (last..=after).contains(&stamp),
            "{stamp} not in {last}..={after}"
        );
        last = stamp;
    }
}

#[tokio::test]
async fn without_the_flag_replies_carry_no_stamp() {
    let answers = replies(&[], &["stepdown", "elect 2"]).await;
    assert_eq!(answers, ["ok", "ok"]);
}
