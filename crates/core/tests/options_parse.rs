//! Connection string parsing beyond the spec suites: typed accessors, the options list,
//! warnings, and errors that name the part that is wrong.

use std::time::Duration;

use mongo_topology_core::options::{ConnectionString, OptionValue, UriError, UriWarning};
use mongo_topology_core::ServerAddress;

fn parse(uri: &str) -> ConnectionString {
    ConnectionString::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"))
}

fn error(uri: &str) -> UriError {
    match ConnectionString::parse(uri) {
        Ok(parsed) => panic!("{uri} should fail, parsed {parsed:?}"),
        Err(e) => e,
    }
}

#[test]
fn topology_accessors() {
    let uri = parse(
        "mongodb://A.example.com:27018,b.example.com/?replicaSet=rs0&heartbeatFrequencyMS=500\
         &localThresholdMS=0&serverSelectionTimeoutMS=1500&readPreference=secondaryPreferred\
         &readPreferenceTags=dc:ny,rack:1&readPreferenceTags=dc:sf&readPreferenceTags=\
         &maxStalenessSeconds=90&directConnection=false",
    );
    assert_eq!(
        uri.hosts(),
        &[
            ServerAddress::tcp("a.example.com", 27018),
            ServerAddress::tcp("b.example.com", 27017)
        ]
    );
    assert!(!uri.is_srv());
    assert_eq!(uri.replica_set(), Some("rs0"));
    assert_eq!(uri.direct_connection(), Some(false));
    assert_eq!(uri.load_balanced(), None);
    assert_eq!(uri.heartbeat_frequency(), Some(Duration::from_millis(500)));
    assert_eq!(uri.local_threshold(), Some(Duration::ZERO));
    assert_eq!(
        uri.server_selection_timeout(),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(uri.read_preference(), Some("secondaryPreferred"));
    let tags = uri.read_preference_tags();
    assert_eq!(tags.len(), 3);
    assert_eq!(tags[0].get("rack").map(String::as_str), Some("1"));
    assert_eq!(tags[1].get("dc").map(String::as_str), Some("sf"));
    assert!(tags[2].is_empty());
    assert_eq!(uri.max_staleness_seconds(), Some(90));
    assert!(uri.warnings().is_empty());
}

#[test]
fn max_staleness_minus_one_means_none() {
    let uri = parse("mongodb://h/?readPreference=primary&maxStalenessSeconds=-1");
    assert_eq!(uri.max_staleness_seconds(), None);
    assert_eq!(
        uri.option("maxstalenessseconds"),
        Some(&OptionValue::Int(-1))
    );
    // Max Staleness spec, "No validation": small values are accepted at parse time.
    assert_eq!(
        parse("mongodb://h/?readPreference=secondary&maxStalenessSeconds=1")
            .max_staleness_seconds(),
        Some(1)
    );
}

#[test]
fn options_are_listed_under_canonical_names() {
    let uri = parse("mongodb://h/?SSL=true&APPNAME=demo&maxpoolsize=5&W=majority&journal=false");
    let names: Vec<&str> = uri.options().map(|(name, _)| name).collect();
    assert_eq!(names, ["tls", "appname", "maxPoolSize", "w", "journal"]);
    assert!(uri.tls());
    assert_eq!(uri.app_name(), Some("demo"));
    assert_eq!(uri.max_pool_size(), Some(5));
    assert_eq!(uri.w(), Some(&OptionValue::String("majority".into())));
    assert_eq!(uri.journal(), Some(false));
}

#[test]
fn srv_defaults_to_tls_and_keeps_its_hostname() {
    let uri = parse("mongodb+srv://Cluster0.Example.com/app?srvMaxHosts=3");
    assert!(uri.is_srv());
    assert!(uri.tls());
    assert!(uri.hosts().is_empty());
    assert_eq!(uri.srv_hostname(), Some("cluster0.example.com"));
    assert_eq!(uri.srv_max_hosts(), Some(3));
    assert_eq!(uri.default_database(), Some("app"));
    assert!(!parse("mongodb+srv://c.example.com/?tls=false").tls());
    assert!(!parse("mongodb://c.example.com/").tls());
}

#[test]
fn credential_parts() {
    let uri = parse(
        "mongodb://user%40EXAMPLE.COM:p%40ss@h/db?authMechanism=GSSAPI\
         &authMechanismProperties=SERVICE_NAME:other,SERVICE_HOST:example.com",
    );
    let credential = uri.credential().unwrap();
    assert_eq!(credential.username.as_deref(), Some("user@EXAMPLE.COM"));
    assert_eq!(
        credential.password.as_ref().map(|p| p.expose()),
        Some("p@ss")
    );
    assert_eq!(credential.source.as_deref(), Some("db"));
    assert_eq!(credential.mechanism.as_deref(), Some("GSSAPI"));
    assert_eq!(
        credential.mechanism_properties.get("SERVICE_HOST"),
        Some("example.com")
    );
    // The database alone is not a request for authentication.
    assert!(parse("mongodb://h/db").credential().is_none());
    // authSource takes precedence over the path.
    let uri = parse("mongodb://u@h/db?authSource=other");
    assert_eq!(uri.credential().unwrap().source.as_deref(), Some("other"));
}

#[test]
fn unix_sockets_and_ip_literals() {
    let uri = parse("mongodb://%2Ftmp%2FMongo.sock,[FE80::1%25eth0]:27019,mongodb-1.sock");
    assert_eq!(
        uri.hosts(),
        &[
            ServerAddress::Unix {
                path: "/tmp/Mongo.sock".into()
            },
            ServerAddress::tcp("fe80::1%eth0", 27019),
            ServerAddress::tcp("mongodb-1.sock", 27017),
        ]
    );
}

#[test]
fn invalid_values_warn_and_are_ignored() {
    let uri = parse(
        "mongodb://h/?heartbeatFrequencyMS=499&retryWrites=yes&readPreference=PRIMARY\
         &compressors=zlib,lz4&zlibCompressionLevel=10&appname=&connectMS=1",
    );
    assert_eq!(uri.heartbeat_frequency(), None);
    assert_eq!(uri.retry_writes(), None);
    assert_eq!(uri.read_preference(), None);
    assert_eq!(uri.compressors(), None);
    assert_eq!(uri.zlib_compression_level(), None);
    // "any string": the empty appname is a value.
    assert_eq!(uri.app_name(), Some(""));
    let warnings = uri.warnings();
    assert_eq!(warnings.len(), 6, "{warnings:?}");
    assert!(matches!(
        &warnings[0],
        UriWarning::InvalidValue { option: "heartbeatFrequencyMS", value: Some(v), .. } if v == "499"
    ));
    assert_eq!(
        warnings[5],
        UriWarning::UnknownOption {
            key: "connectMS".into()
        }
    );
}

#[test]
fn at_sign_allowed_in_database_name() {
    assert_eq!(parse("mongodb://h/my@db").default_database(), Some("my@db"));
}

#[test]
fn repeated_keys() {
    let uri = parse("mongodb://h/?replicaSet=a&replicaSet=b");
    assert_eq!(uri.replica_set(), Some("b"));
    assert_eq!(
        uri.warnings(),
        &[UriWarning::Repeated {
            option: "replicaSet"
        }]
    );
    assert!(parse("mongodb://h/?tls=true&ssl=true")
        .warnings()
        .is_empty());
    assert!(matches!(
        error("mongodb://h/?ssl=true&tls=false"),
        UriError::Combination(_)
    ));
}

#[test]
fn errors_name_the_part() {
    let cases: &[(&str, &str)] = &[
        ("", "empty"),
        ("http://h", "scheme"),
        ("mongodb://", "host information"),
        ("mongodb:///tmp/m.sock", "URL encoded"),
        ("mongodb://a,,b", "host 2"),
        ("mongodb://a,b:0", "host 2 (b): port"),
        ("mongodb://a,[::1", "host 2: malformed IP literal"),
        ("mongodb://a,%2Ftmp%2Fx", "host 2: contains \"/\""),
        ("mongodb://u:p:q@h", "userinfo"),
        ("mongodb://u%zz@h", "userinfo"),
        ("mongodb://h/a$b", "auth database"),
        ("mongodb://alice:foo/bar@h", "userinfo: unescaped \"/\""),
        ("mongodb://alice/bob:foo@h/db", "userinfo: unescaped \"/\""),
        ("mongodb://h/?w=1&j", "option 2: expected key=value"),
        ("mongodb://h/?w=%zz", "option value"),
        ("mongodb+srv://a,b", "mongodb+srv"),
        ("mongodb+srv://a:1", "mongodb+srv"),
        ("mongodb+srv://[::1]", "mongodb+srv"),
        ("mongodb://a,b/?directConnection=true", "directConnection"),
        ("mongodb+srv://a/?directConnection=true", "mongodb+srv"),
        (
            "mongodb://h/?tlsInsecure=true&tlsAllowInvalidHostnames=false",
            "tlsInsecure",
        ),
        ("mongodb://h/?srvMaxHosts=1", "srvMaxHosts"),
        (
            "mongodb://h/?loadBalanced=true&replicaSet=r",
            "loadBalanced",
        ),
        (
            "mongodb://h/?readPreferenceTags=dc:ny",
            "readPreferenceTags",
        ),
        (
            "mongodb://h/?maxStalenessSeconds=120",
            "maxStalenessSeconds",
        ),
        ("mongodb://h/?proxyHost=a&proxyUsername=u", "proxyPassword"),
    ];
    for (uri, part) in cases {
        let message = error(uri).to_string();
        assert!(
            message.contains(part),
            "{uri}: {message:?} should mention {part:?}"
        );
    }
}

#[test]
fn display_renders_a_usable_uri() {
    let uri = parse("mongodb://u%3Ax@%2Ftmp%2Fm.sock,[::1]/d%3Fb?appname=a%26b&w=2");
    assert_eq!(
        uri.to_string(),
        "mongodb://u%3Ax@%2Ftmp%2Fm.sock,[::1]:27017/d%3Fb?appname=a%26b&w=2"
    );
}
