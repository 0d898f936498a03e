//! Nothing vanishes without a reason (issue 17 item 2): `discover` (table and JSON) lists
//! every server the client saw and removed with why, and `watch` (plain and NDJSON) says why
//! at the removal, against a simulated replica set whose member reports another set name
//! (`fault N wrong-setname`), and one that advertises `localhost` names while seeded with
//! `127.0.0.1` (`sim --host localhost`).

use std::process::{Output, Stdio};
use std::time::Duration;

use mongo_topology_sim::{Deployment, DeploymentSpec, FaultKind, MemberRef};
use serde_json::Value;
use tokio::process::Command;

/// How long any one command may take before the test fails instead of hanging.
const GUARD: Duration = Duration::from_secs(20);

async fn run(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mongo-topology"));
    command
        .args(args)
        .env_remove("MONGODB_URI")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    tokio::time::timeout(GUARD, command.output())
        .await
        .expect("the command exits in time")
        .expect("run the binary")
}

fn text(output: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A 3-member set `rs0` whose member 1 reports the set name `rs0-wrong`.
async fn set_with_a_stranger() -> (Deployment, Vec<String>) {
    let sim = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    sim.fault(&MemberRef::Index(1), FaultKind::WrongSetName)
        .unwrap();
    let addresses = sim.addresses();
    (sim, addresses)
}

fn all_seeds(addresses: &[String]) -> String {
    format!("mongodb://{}/?replicaSet=rs0", addresses.join(","))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_lists_a_member_of_another_set_with_the_name_it_reported() {
    let (_sim, addresses) = set_with_a_stranger().await;
    let uri = all_seeds(&addresses);
    let stranger = &addresses[1];

    let output = run(&["discover", "--timeout-ms", "5000", &uri]).await;
    let shown = text(&output);
    let line = shown
        .lines()
        .find(|line| line.trim_start().starts_with(&format!("{stranger} at +")))
        .unwrap_or_else(|| panic!("no removed line for {stranger}:\n{shown}"));
    assert!(
        line.ends_with(r#"reported set name "rs0-wrong", expected "rs0""#),
        "{line}"
    );
    assert!(shown.contains("removed servers"), "{shown}");
    let hint = shown
        .lines()
        .find(|line| line.starts_with("hint: replica set name"))
        .unwrap_or_else(|| panic!("no set name hint:\n{shown}"));
    assert!(
        hint.contains(&format!(r#"{stranger} reported "rs0-wrong""#)),
        "{hint}"
    );
    assert!(!shown.contains("advertised host names"), "{shown}");

    let output = run(&["discover", "--json", "--timeout-ms", "5000", &uri]).await;
    let json: Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&output)));
    let removed = json["removed"].as_array().expect("a removed array");
    let entry = removed
        .iter()
        .find(|entry| entry["address"] == stranger.as_str())
        .unwrap_or_else(|| panic!("{stranger} not in {json}"));
    assert_eq!(entry["reason"]["kind"], "set_name_mismatch");
    assert_eq!(entry["reason"]["reported_set_name"], "rs0-wrong");
    assert_eq!(entry["reason"]["expected_set_name"], "rs0");
    assert!(entry["removed_at_ms"].is_u64(), "{entry}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_says_why_a_member_of_another_set_is_removed() {
    let (_sim, addresses) = set_with_a_stranger().await;
    let uri = all_seeds(&addresses);
    let stranger = &addresses[1];

    let output = run(&["watch", "--duration", "2", &uri]).await;
    let shown = text(&output);
    let expected =
        format!(r#"server {stranger} removed: reported set name "rs0-wrong", expected "rs0""#);
    assert!(
        shown.lines().any(|line| line.ends_with(&expected)),
        "{shown}"
    );

    let output = run(&["watch", "--json", "--duration", "2", &uri]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let closed: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .filter(|line| line["event"] == "server_closed")
        .collect();
    let event = closed
        .iter()
        .find(|event| event["address"] == stranger.as_str())
        .unwrap_or_else(|| panic!("no server_closed for {stranger}: {}", text(&output)));
    assert_eq!(event["reason"]["kind"], "set_name_mismatch");
    assert_eq!(event["reason"]["reported_set_name"], "rs0-wrong");
    assert_eq!(event["reason"]["expected_set_name"], "rs0");
}

/// `sim --host localhost`: members advertise `localhost:PORT`; seeded with `127.0.0.1:PORT`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advertised_names_other_than_the_seeds_get_their_own_reason_and_hint() {
    let mut spec = DeploymentSpec::replica_set("rs0", 2, 0, 0);
    spec.host = "localhost".to_string();
    let sim = Deployment::start(spec).await.unwrap();
    let seed = format!("127.0.0.1:{}", sim.ports()[0]);
    let advertised = format!("localhost:{}", sim.ports()[0]);
    let uri = format!("mongodb://{seed}/?replicaSet=rs0");

    let output = run(&["discover", "--timeout-ms", "5000", &uri]).await;
    let shown = text(&output);
    assert!(
        shown.contains(&format!("{seed} at +"))
            && shown.contains(&format!("it advertises itself as {advertised} (me)")),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("{seed} advertises itself as {advertised}")),
        "{shown}"
    );
    assert!(
        !shown.contains("hint: replica set name"),
        "the set name is fine: {shown}"
    );

    let output = run(&["discover", "--json", "--timeout-ms", "5000", &uri]).await;
    let json: Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&output)));
    let entry = json["removed"]
        .as_array()
        .and_then(|removed| removed.iter().find(|e| e["address"] == seed.as_str()))
        .unwrap_or_else(|| panic!("{seed} not removed in {json}"));
    assert_eq!(entry["reason"]["kind"], "advertised_name_mismatch");
    assert_eq!(entry["reason"]["me"], advertised.as_str());

    let output = run(&["watch", "--json", "--duration", "2", &uri]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout
            .lines()
            .any(|line| line.contains("\"event\":\"server_closed\"")
                && line.contains("\"kind\":\"advertised_name_mismatch\"")),
        "{}",
        text(&output)
    );
    let output = run(&["watch", "--duration", "2", &uri]).await;
    let expected = format!("server {seed} removed: it advertises itself as {advertised} (me)");
    assert!(text(&output).contains(&expected), "{}", text(&output));
}

/// Seeded directly (`directConnection=true`), the member of another set stays, Unknown with
/// its error; the hint still names the set name it reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_seed_of_another_set_gets_a_hint_naming_its_set_name() {
    let (_sim, addresses) = set_with_a_stranger().await;
    let uri = format!(
        "mongodb://{}/?directConnection=true&replicaSet=rs0",
        addresses[1]
    );
    let output = run(&["discover", "--timeout-ms", "5000", &uri]).await;
    let shown = text(&output);
    let hint = shown
        .lines()
        .find(|line| line.starts_with("hint: replica set name"))
        .unwrap_or_else(|| panic!("no set name hint:\n{shown}"));
    assert!(hint.contains(r#"the server reports "rs0-wrong""#), "{hint}");
}

/// A member seeded twice under two names (`127.0.0.1:P` and `localhost:P`), and once more
/// verbatim: the removed name says which member it duplicates (text and JSON), the hints
/// name the repeated seed and do not blame the set name, which is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_that_duplicates_a_member_under_another_name_says_so() {
    let sim = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let addresses = sim.addresses();
    let member = &addresses[0];
    let port = member.rsplit(':').next().unwrap();
    let alias = format!("localhost:{port}");
    let uri = format!(
        "mongodb://{member},{alias},{member},{}/?replicaSet=rs0",
        addresses[1]
    );

    let output = run(&["discover", "--timeout-ms", "5000", &uri]).await;
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    let line = shown
        .lines()
        .find(|line| line.trim_start().starts_with(&format!("{alias} at +")))
        .unwrap_or_else(|| panic!("no removal line for {alias}:\n{shown}"));
    assert!(
        line.contains(&format!("a duplicate seed: the same server as {member}")),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("names {member} more than once")),
        "{shown}"
    );
    assert!(!shown.contains("hint: replica set name"), "{shown}");

    let output = run(&["discover", "--json", "--timeout-ms", "5000", &uri]).await;
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let removed = report["removed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["address"] == alias.as_str())
        .unwrap_or_else(|| panic!("{alias} not in removed: {report}"));
    assert_eq!(
        removed["duplicate_of"]["member"],
        member.as_str(),
        "{report}"
    );
    assert_eq!(
        removed["duplicate_of"]["socket_address"],
        member.as_str(),
        "{report}"
    );
    sim.shutdown().await;
}
