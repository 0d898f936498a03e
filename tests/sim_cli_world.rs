//! The `sim` command's staging flags and control commands as a process: tags, advertised
//! names, member versions and states, a balancer in front of members, SCRAM mechanisms,
//! two claimed primaries; and the usage errors of those flags.

#[path = "../crates/sim/tests/sim_support/mod.rs"]
mod sim_support;

use std::process::Stdio;
use std::time::Duration;

use bson::doc;
use sim_support::RawClient;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

fn sim(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mongo-topology"))
        .arg("sim")
        .args(["--port", "0"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the sim binary")
}

async fn line(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("a line in time")
        .unwrap()
        .expect("stdout still open")
}

/// The hosts of a `mongodb://h1,h2/?...` connection string.
fn hosts(uri: &str) -> Vec<String> {
    let rest = uri.strip_prefix("mongodb://").expect("a mongodb:// URI");
    rest.split('/')
        .next()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn staging_flags_and_commands_shape_what_members_answer() {
    let mut child = sim(&[
        "--tags",
        "dc:east,rack:1;dc:west",
        "--advertise",
        "mongo-0.invalid,-,-",
        "--member-versions",
        "-,-,4.4",
        "--member-states",
        "-,-,startup2",
        "--auth",
        "app:s3cret",
        "--auth-mechanisms",
        "SCRAM-SHA-1",
    ]);
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let uri = line(&mut out).await;
    let seeds = hosts(&uri);
    assert_eq!(seeds.len(), 3, "{uri}");
    assert!(seeds[0].starts_with("127.0.0.1:"), "seeds listen: {uri}");
    let port0 = seeds[0].rsplit_once(':').unwrap().1;
    let mut c = RawClient::connect(&seeds[0]).await;
    let hello = c
        .command(
            "admin",
            doc! { "hello": 1, "saslSupportedMechs": "admin.app" },
        )
        .await;
    assert_eq!(
        hello.get_str("me").unwrap(),
        format!("mongo-0.invalid:{port0}")
    );
    assert_eq!(
        hello.get_document("tags").unwrap(),
        &doc! { "dc": "east", "rack": "1" }
    );
    let mechanisms = hello.get_array("saslSupportedMechs").unwrap();
    assert_eq!(mechanisms.len(), 1, "{hello}");
    let old = RawClient::connect(&seeds[2]).await.hello().await;
    assert_eq!(old.get_i32("maxWireVersion").unwrap(), 9);
    assert_eq!(old.get_bool("secondary").ok(), Some(false));
    for command in ["claim-primary 0 on", "elect 1", "status"] {
        stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .unwrap();
        let reply = line(&mut out).await;
        assert!(reply.starts_with("ok"), "{command}: {reply}");
        if command == "status" {
            assert_eq!(reply.matches(" PRIMARY").count(), 2, "{reply}");
            assert!(reply.contains("STARTUP2 [version=4.4]"), "{reply}");
        }
    }
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn a_balancer_in_front_of_members_prints_its_load_balanced_string() {
    let mut child = sim(&["--load-balancer-in-front-of-members"]);
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let uri = line(&mut out).await;
    assert!(uri.ends_with("/?loadBalanced=true"), "{uri}");
    let lb = hosts(&uri).remove(0);
    let mut names = Vec::new();
    for _ in 0..3 {
        let hello = RawClient::connect(&lb).await.hello().await;
        names.push(hello.get_str("me").unwrap().to_owned());
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[tokio::test]
async fn staging_flags_refuse_what_does_not_fit() {
    for (args, expected) in [
        (vec!["--tags", "a:b;c:d;e:f;g:h"], "--tags: 4 entries"),
        (vec!["--auth-mechanisms", "SCRAM-SHA-1"], "--auth"),
        (vec!["--member-versions", "9.9"], "--member-versions"),
        (vec!["--mongos", "2", "--tags", "a:b"], "need a replica set"),
        (
            vec!["--horizon", "external=a.example"],
            "every member needs one",
        ),
        (
            vec!["--mongos", "2", "--load-balancer-in-front-of-members"],
            "--mongos",
        ),
    ] {
        let out = tokio::time::timeout(Duration::from_secs(10), sim(&args).wait_with_output())
            .await
            .unwrap()
            .unwrap();
        assert!(!out.status.success(), "{args:?} started");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}
