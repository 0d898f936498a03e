//! The Authentication spec's two example conversations, replayed byte for byte, and the
//! ways a server can lie.

use super::*;

struct Example {
    version: ScramVersion,
    nonce: &'static str,
    client_first: &'static str,
    server_first: &'static str,
    client_final: &'static str,
    server_final: &'static str,
}

const SHA1: Example = Example {
    version: ScramVersion::Sha1,
    nonce: "fyko+d2lbbFgONRv9qkxdawL",
    client_first: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
    server_first: "r=fyko+d2lbbFgONRv9qkxdawLHo+Vgk7qvUOKUwuWLIWg4l/9SraGMHEE,s=rQ9ZY3MntBeuP3E1TDVC4w==,i=10000",
    client_final: "c=biws,r=fyko+d2lbbFgONRv9qkxdawLHo+Vgk7qvUOKUwuWLIWg4l/9SraGMHEE,p=MC2T8BvbmWRckDw8oWl5IVghwCY=",
    server_final: "v=UMWeI25JD1yNYZRMpZ4VHvhZ9e0=",
};

const SHA256: Example = Example {
    version: ScramVersion::Sha256,
    nonce: "rOprNGfwEbeRWgbNEkqO",
    client_first: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    server_first: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    client_final: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    server_final: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

fn start(example: &Example) -> ScramClient {
    ScramClient::new(example.version, "user", "pencil", example.nonce).unwrap()
}

#[test]
fn the_spec_conversations_are_reproduced_byte_for_byte() {
    for example in [SHA1, SHA256] {
        let client = start(&example);
        assert_eq!(client.client_first(), example.client_first.as_bytes());
        let cache = ScramKeyCache::default();
        let last = client
            .receive_server_first(example.server_first.as_bytes(), &cache)
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(last.client_final()),
            example.client_final
        );
        last.receive_server_final(example.server_final.as_bytes())
            .unwrap();
    }
}

#[test]
fn the_key_cache_serves_a_second_conversation_with_the_same_salt() {
    let cache = ScramKeyCache::default();
    for _ in 0..2 {
        let last = start(&SHA256)
            .receive_server_first(SHA256.server_first.as_bytes(), &cache)
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(last.client_final()),
            SHA256.client_final
        );
    }
    assert_eq!(cache.len(), 1);
}

#[test]
fn a_wrong_server_signature_is_rejected() {
    for example in [SHA1, SHA256] {
        let last = start(&example)
            .receive_server_first(example.server_first.as_bytes(), &ScramKeyCache::default())
            .unwrap();
        let wrong = "v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        assert_eq!(
            last.receive_server_final(wrong.as_bytes()),
            Err(ScramError::ServerSignatureMismatch)
        );
    }
}

#[test]
fn a_server_error_attribute_ends_the_conversation() {
    let last = start(&SHA256)
        .receive_server_first(SHA256.server_first.as_bytes(), &ScramKeyCache::default())
        .unwrap();
    assert_eq!(
        last.receive_server_final(b"e=invalid-proof"),
        Err(ScramError::ServerError("invalid-proof".into()))
    );
}

fn server_first_error(server_first: &str) -> ScramError {
    match start(&SHA256).receive_server_first(server_first.as_bytes(), &ScramKeyCache::default()) {
        Ok(_) => panic!("{server_first} was accepted"),
        Err(error) => error,
    }
}

#[test]
fn a_nonce_that_does_not_extend_ours_is_rejected() {
    for nonce in ["someoneElsesNonce123", "rOprNGfwEbeRWgbNEkqO", "rOprNGfw"] {
        let message = format!("r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
        assert_eq!(server_first_error(&message), ScramError::NonceMismatch);
    }
}

#[test]
fn iteration_counts_outside_the_bounds_are_rejected() {
    let with = |i: &str| format!("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i={i}");
    assert_eq!(
        server_first_error(&with("1")),
        ScramError::IterationCountTooLow {
            count: 1,
            minimum: 4096
        }
    );
    assert_eq!(
        server_first_error(&with("4095")),
        ScramError::IterationCountTooLow {
            count: 4095,
            minimum: 4096
        }
    );
    assert_eq!(
        server_first_error(&with("4000000000")),
        ScramError::IterationCountTooHigh {
            count: 4_000_000_000,
            maximum: MAX_ITERATION_COUNT
        }
    );
    for bad in ["-1", "0x1000", "", "99999999999999"] {
        assert!(
            matches!(server_first_error(&with(bad)), ScramError::Malformed { .. }),
            "i={bad}"
        );
    }
}

#[test]
fn malformed_server_first_messages_are_typed_errors() {
    for message in [
        "",
        "garbage",
        "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOxyz,i=4096",
        "r=rOprNGfwEbeRWgbNEkqOxyz,s=not*base64,i=4096",
        "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==",
        "m=ext,r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    ] {
        assert!(
            matches!(server_first_error(message), ScramError::Malformed { .. }),
            "{message:?}"
        );
    }
    let not_utf8 = start(&SHA256).receive_server_first(&[0xff, 0xfe], &ScramKeyCache::default());
    assert!(matches!(not_utf8, Err(ScramError::Malformed { .. })));
}

#[test]
fn usernames_are_escaped_not_saslprepped() {
    let client = ScramClient::new(ScramVersion::Sha256, "a=b,c\u{2168}", "pw", "nonce").unwrap();
    assert_eq!(
        String::from_utf8_lossy(&client.client_first()),
        "n,,n=a=3Db=2Cc\u{2168},r=nonce"
    );
}

#[test]
fn debug_never_shows_the_password() {
    let client = ScramClient::new(ScramVersion::Sha1, "user", "hunter2-secret", "nonce").unwrap();
    let shown = format!("{client:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    // Nor its SCRAM-SHA-1 digest.
    let digest = ScramVersion::Sha1
        .prepare_password("user", "hunter2-secret")
        .unwrap();
    assert!(!shown.contains(&digest), "{shown}");
}

#[test]
fn a_server_sending_a_new_salt_every_time_cannot_grow_the_key_cache() {
    let cache = ScramKeyCache::default();
    for i in 0..MAX_CACHED_KEYS + 8 {
        let salt = BASE64.encode(format!("salt number {i}"));
        let server_first = format!("r={}server,s={salt},i=4096", SHA256.nonce);
        start(&SHA256)
            .receive_server_first(server_first.as_bytes(), &cache)
            .unwrap();
        assert!(cache.len() <= MAX_CACHED_KEYS, "{} entries", cache.len());
    }
    assert_eq!(cache.len(), MAX_CACHED_KEYS);
}
