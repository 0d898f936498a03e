use super::*;

fn record(target: &str, port: u16) -> SrvRecord {
    SrvRecord::new(target, port)
}

fn txt(strings: &[&str]) -> Vec<Vec<u8>> {
    strings.iter().map(|s| s.as_bytes().to_vec()).collect()
}

fn first(_: usize) -> usize {
    0
}

#[test]
fn the_query_name_prefixes_service_and_protocol() {
    assert_eq!(
        srv_query_name("test1.example.com", None),
        "_mongodb._tcp.test1.example.com"
    );
    assert_eq!(
        srv_query_name("test22.example.com", Some("customname")),
        "_customname._tcp.test22.example.com"
    );
}

#[test]
fn the_domain_name_drops_the_subdomain_only_with_three_parts_or_more() {
    assert_eq!(
        srv_domain_name("cluster_1.tests.mongodb.co.uk"),
        "tests.mongodb.co.uk"
    );
    assert_eq!(srv_domain_name("hosts_34.example.com"), "example.com");
    assert_eq!(srv_domain_name("mongodb.local"), "mongodb.local");
    assert_eq!(srv_domain_name("localhost"), "localhost");
}

#[test]
fn targets_in_the_parent_domain_are_accepted() {
    let host = "test1.test.build.10gen.cc";
    for target in [
        "localhost.test.build.10gen.cc.",
        "localhost.sub.test.build.10gen.cc",
        "LOCALHOST.Test.Build.10gen.cc",
    ] {
        let address = check_target(host, &record(target, 27018)).unwrap();
        assert_eq!(address.port(), Some(27018));
        assert!(
            address.host().ends_with("test.build.10gen.cc"),
            "{address:?}"
        );
    }
    // Prose test 1: hosts with fewer than three parts are allowed.
    assert!(check_target("localhost", &record("a.localhost", 1)).is_ok());
    assert!(check_target("mongo.local", &record("test_1.mongo.local", 1)).is_ok());
}

#[test]
fn targets_outside_the_parent_domain_are_rejected() {
    let cases = [
        // The spec test records test12 to test17 and test19.
        ("test12.test.build.10gen.cc", "localhost.build.10gen.cc."),
        ("test13.test.build.10gen.cc", "test.build.10gen.cc."),
        (
            "test14.test.build.10gen.cc",
            "localhost.not-test.build.10gen.cc.",
        ),
        (
            "test15.test.build.10gen.cc",
            "localhost.test.not-build.10gen.cc.",
        ),
        (
            "test16.test.build.10gen.cc",
            "localhost.test.build.not-10gen.cc.",
        ),
        (
            "test17.test.build.10gen.cc",
            "localhost.test.build.10gen.not-cc.",
        ),
        (
            "test19.test.build.10gen.cc",
            "localhost.evil.build.10gen.cc.",
        ),
        // Prose test 2: not ending with the domain.
        ("localhost", "localhost.mongodb"),
        ("mongo.local", "test_1.evil.local"),
        ("blogs.mongodb.com", "blogs.evil.com"),
        // Prose test 3: identical to a host name of fewer than three parts.
        ("localhost", "localhost"),
        ("mongo.local", "mongo.local"),
        // Prose test 4: the shared part is not preceded by a ".".
        ("localhost", "test_1.cluster_1localhost"),
        ("mongo.local", "test_1.my_hostmongo.local"),
        ("blogs.mongodb.com", "cluster.testmongodb.com"),
    ];
    for (host, target) in cases {
        let error = check_target(host, &record(target, 27017)).unwrap_err();
        assert!(
            matches!(error, SrvError::OutsideParentDomain { .. }),
            "{host} -> {target}: {error:?}"
        );
        assert!(error.to_string().contains("parent domain"), "{error}");
    }
}

#[test]
fn malformed_targets_are_rejected_with_the_reason() {
    let host = "test1.example.com";
    let long_label = format!("{}.example.com", "a".repeat(64));
    let long_name = format!("{}example.com", "abcdefghi.".repeat(30));
    for (target, reason) in [
        ("", "empty"),
        (".", "empty"),
        ("a..example.com", "empty label"),
        ("a b.example.com", "character"),
        ("a/b.example.com", "character"),
        ("\u{e9}.example.com", "character"),
        (long_label.as_str(), "63"),
        (long_name.as_str(), "253"),
    ] {
        let error = check_target(host, &record(target, 27017)).unwrap_err();
        assert!(
            error.to_string().contains(reason),
            "{target:?}: {error} (expected {reason})"
        );
    }
    let error = check_target(host, &record("a.example.com", 0)).unwrap_err();
    assert!(error.to_string().contains("port 0"), "{error}");
}

#[test]
fn the_seed_list_needs_records_and_drops_duplicates() {
    let host = "test1.test.build.10gen.cc";
    let error = seeds_from_srv(host, Some("customname"), &[]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the SRV lookup of _customname._tcp.test1.test.build.10gen.cc returned no records"
    );
    let records = [
        record("localhost.test.build.10gen.cc.", 27017),
        record("localhost.test.build.10gen.cc.", 27018),
        record("LOCALHOST.test.build.10gen.cc", 27017),
    ];
    let seeds = seeds_from_srv(host, None, &records).unwrap();
    let shown: Vec<String> = seeds.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "localhost.test.build.10gen.cc:27017",
            "localhost.test.build.10gen.cc:27018"
        ]
    );
    // One bad record fails the initial lookup.
    let mixed = [
        record("localhost.evil.build.10gen.cc.", 27017),
        record("localhost.test.build.10gen.cc.", 27017),
    ];
    assert!(seeds_from_srv(host, None, &mixed).is_err());
}

#[test]
fn txt_records_give_only_the_three_allowed_options() {
    assert_eq!(txt_options(&[]).unwrap(), Vec::<(String, String)>::new());
    let pairs = txt_options(&[txt(&["replicaSet=repl0&authSource=thisDB"])]).unwrap();
    assert_eq!(
        pairs,
        [
            ("replicaSet".to_string(), "repl0".to_string()),
            ("authSource".to_string(), "thisDB".to_string())
        ]
    );
    // Several strings of one record are concatenated in order.
    let pairs = txt_options(&[txt(&["replicaS", "et=rep", "l0"])]).unwrap();
    assert_eq!(pairs, [("replicaSet".to_string(), "repl0".to_string())]);

    let two = [txt(&["replicaSet=repl0"]), txt(&["authSource=otherDB"])];
    assert_eq!(
        txt_options(&two).unwrap_err(),
        SrvError::MultipleTxtRecords(2)
    );
    for (text, option) in [
        ("ssl=false", "ssl"),
        ("socketTimeoutMS=500", "socketTimeoutMS"),
    ] {
        let error = txt_options(&[txt(&[text])]).unwrap_err();
        assert_eq!(
            error,
            SrvError::TxtOptionNotAllowed {
                option: option.to_string()
            }
        );
    }
    let error = txt_options(&[txt(&["authSource"])]).unwrap_err();
    assert!(matches!(error, SrvError::TxtMisformatted(_)), "{error:?}");
    let error = txt_options(&[txt(&["authSource=%zz"])]).unwrap_err();
    assert!(matches!(error, SrvError::TxtMisformatted(_)), "{error:?}");
    assert_eq!(
        txt_options(&[vec![vec![0xff, 0xfe]]]).unwrap_err(),
        SrvError::TxtNotText
    );
}

#[test]
fn a_huge_txt_record_is_rejected_without_echoing_it() {
    let chunk = "a".repeat(255);
    let strings: Vec<&str> = std::iter::repeat_n(chunk.as_str(), 200).collect();
    let error = txt_options(&[txt(&strings)]).unwrap_err();
    assert_eq!(error, SrvError::TxtTooLong(255 * 200));
    assert!(error.to_string().len() < 200, "{error}");
}

#[test]
fn srv_max_hosts_keeps_all_or_picks_at_random() {
    let hosts: Vec<ServerAddress> = (1..=5)
        .map(|i| ServerAddress::tcp("h.example.com", 27016 + i))
        .collect();
    assert_eq!(choose_hosts(hosts.clone(), 0, &mut first), hosts);
    assert_eq!(choose_hosts(hosts.clone(), 5, &mut first), hosts);
    assert_eq!(choose_hosts(hosts.clone(), 9, &mut first), hosts);
    // random_below always answering 0 moves each last element to the front in turn.
    let mut calls = Vec::new();
    let chosen = choose_hosts(hosts.clone(), 2, &mut |n| {
        calls.push(n);
        0
    });
    assert_eq!(calls, [5, 4, 3, 2]);
    assert_eq!(chosen.len(), 2);
    // Always the top index keeps the order.
    let chosen = choose_hosts(hosts.clone(), 3, &mut |n| n - 1);
    assert_eq!(chosen, hosts[..3]);
    // Every host can be chosen, none twice.
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..50usize {
        let mut state = seed;
        let chosen = choose_hosts(hosts.clone(), 2, &mut |n| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        });
        assert_ne!(chosen[0], chosen[1]);
        seen.extend(chosen);
    }
    assert_eq!(seen.len(), 5);
}

fn resolve(
    uri: &str,
    srv: &[SrvRecord],
    txt_records: &[Vec<Vec<u8>>],
) -> Result<ConnectionString, SrvError> {
    ConnectionString::parse(uri)
        .unwrap()
        .with_srv_results(srv, txt_records, &mut first)
}

fn two_records() -> Vec<SrvRecord> {
    vec![
        record("localhost.test.build.10gen.cc.", 27017),
        record("localhost.test.build.10gen.cc.", 27018),
    ]
}

#[test]
fn uri_options_override_txt_options() {
    let resolved = resolve(
        "mongodb+srv://test5.test.build.10gen.cc/?authSource=otherDB",
        &two_records(),
        &[txt(&["replicaSet=repl0&authSource=thisDB"])],
    )
    .unwrap();
    assert_eq!(resolved.auth_source(), Some("otherDB"));
    assert_eq!(resolved.replica_set(), Some("repl0"));
    assert_eq!(resolved.hosts().len(), 2);
    assert!(resolved.tls(), "tls stays on by default for mongodb+srv");
    assert_eq!(resolved.srv_hostname(), Some("test5.test.build.10gen.cc"));
}

#[test]
fn validation_runs_after_merging_the_txt_options() {
    let error = resolve(
        "mongodb+srv://test1.test.build.10gen.cc/?srvMaxHosts=1",
        &two_records(),
        &[txt(&["replicaSet=repl0"])],
    )
    .unwrap_err();
    assert!(error.to_string().contains("srvMaxHosts"), "{error}");
    let error = resolve(
        "mongodb+srv://test20.test.build.10gen.cc/?srvMaxHosts=1",
        &two_records()[..1],
        &[txt(&["loadBalanced=true"])],
    )
    .unwrap_err();
    assert!(error.to_string().contains("loadBalanced"), "{error}");
    // loadBalanced=true with two SRV hosts.
    let error = resolve(
        "mongodb+srv://test1.test.build.10gen.cc/?loadBalanced=true",
        &two_records(),
        &[],
    )
    .unwrap_err();
    assert!(error.to_string().contains("multiple hosts"), "{error}");
    // srvMaxHosts=0 is no limit and allows both.
    let resolved = resolve(
        "mongodb+srv://test1.test.build.10gen.cc/?srvMaxHosts=0",
        &two_records(),
        &[txt(&["replicaSet=repl0"])],
    )
    .unwrap();
    assert_eq!(resolved.hosts().len(), 2);
}

#[test]
fn srv_max_hosts_applies_to_the_resolved_seeds() {
    let resolved = resolve(
        "mongodb+srv://test1.test.build.10gen.cc/?srvMaxHosts=1",
        &two_records(),
        &[],
    )
    .unwrap();
    assert_eq!(resolved.hosts().len(), 1);
    assert!(resolve("mongodb://a/", &two_records(), &[]).is_err());
}
