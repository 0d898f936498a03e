//! Property tests: no input makes the connection string parser panic, and whatever parses
//! renders to a string that parses again to the same hosts.

use mongo_topology_core::options::ConnectionString;
use proptest::prelude::*;

const SEEDS: &[&str] = &[
    "mongodb://alice:foo@127.0.0.1:27018,[::1]:27019,%2Ftmp%2Fmongodb-27017.sock/admin?w=1",
    "mongodb+srv://cluster0.example.com/db?srvMaxHosts=2&srvServiceName=custom&tls=false",
    "mongodb://example.com/?readPreference=secondary&readPreferenceTags=dc:ny,rack:1\
     &readPreferenceTags=&maxStalenessSeconds=120&heartbeatFrequencyMS=500",
    "mongodb://u%40x:p%3Aw@h1,h2/?authMechanism=GSSAPI&authMechanismProperties=\
     SERVICE_NAME:other,CANONICALIZE_HOST_NAME:true&compressors=zlib,snappy",
    "mongodb://localhost?authMechanismProperties=TOKEN_RESOURCE:mongodb://foo&appname=x",
    "mongodb://h/?tls=true&tlsCAFile=ca.pem&proxyHost=p&proxyPort=1080&w=majority",
];

/// Characters that matter to the parser, plus some that do not.
fn uri_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::sample::select(vec![
            ':', '/', '?', '@', '&', '=', ',', '%', '[', ']', '.', '+', ';', '#', ' ', '-', '2',
            'F', 'a', '0', '\\', '"', '$',
        ]),
        any::<char>(),
    ]
}

/// A seed URI with a few random insertions, deletions and replacements.
fn mutated_uri() -> impl Strategy<Value = String> {
    (
        prop::sample::select(SEEDS),
        prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, uri_char()), 1..6),
    )
        .prop_map(|(seed, edits)| {
            let mut chars: Vec<char> = seed.chars().collect();
            for (at, op, c) in edits {
                let i = at.index(chars.len() + 1);
                match op {
                    0 => chars.insert(i, c),
                    1 if i < chars.len() => {
                        chars.remove(i);
                    }
                    _ if i < chars.len() => chars[i] = c,
                    _ => chars.push(c),
                }
            }
            chars.into_iter().collect()
        })
}

fn check(uri: &str) {
    if let Ok(parsed) = ConnectionString::parse(uri) {
        let shown = parsed.to_string();
        let again = ConnectionString::parse(&shown)
            .unwrap_or_else(|e| panic!("{uri:?} rendered as {shown:?}, which fails: {e}"));
        assert_eq!(again.hosts(), parsed.hosts(), "{uri:?} -> {shown:?}");
        assert_eq!(again.srv_hostname(), parsed.srv_hostname());
        assert_eq!(again.default_database(), parsed.default_database());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_strings_never_panic(uri in ".*") {
        let _ = ConnectionString::parse(&uri);
    }

    #[test]
    fn strings_after_the_scheme_never_panic(rest in prop::collection::vec(uri_char(), 0..60)) {
        let rest: String = rest.into_iter().collect();
        check(&format!("mongodb://{rest}"));
        check(&format!("mongodb+srv://{rest}"));
    }

    #[test]
    fn mutated_valid_uris_never_panic(uri in mutated_uri()) {
        check(&uri);
    }
}
