//! The commands of a SASL conversation and the handshake fields of authentication, as
//! documents (Authentication spec, "SASL Mechanisms", "Mechanism Negotiation via
//! Handshake", "Default Authentication Methods"; MongoDB Handshake spec, "Speculative
//! Authentication"). Building and reading documents only: the engine sends them.

use bson::spec::BinarySubtype;
use bson::{doc, Binary, Bson, Document};

use super::credential::{AuthMechanism, MongoCredential};
use super::scram_version::ScramVersion;

/// The mechanism to authenticate with, given the handshake reply:
/// - a mechanism the user named is honoured, whatever the server says;
/// - else SCRAM-SHA-256 if the reply's `saslSupportedMechs` lists it, otherwise SCRAM-SHA-1
///   (also when the field is missing, and whatever unknown names it holds: the spec forbids
///   validating it).
pub fn negotiated_mechanism(
    credential: &MongoCredential,
    handshake_reply: &Document,
) -> AuthMechanism {
    if let Some(mechanism) = credential.mechanism {
        return mechanism;
    }
    let lists_sha256 = match handshake_reply.get("saslSupportedMechs") {
        Some(Bson::Array(mechanisms)) => mechanisms
            .iter()
            .any(|m| m.as_str() == Some("SCRAM-SHA-256")),
        _ => false,
    };
    if lists_sha256 {
        AuthMechanism::ScramSha256
    } else {
        AuthMechanism::ScramSha1
    }
}

/// The SCRAM variant to try speculatively in the handshake: the one the user named, or
/// SCRAM-SHA-256 when the mechanism is negotiated (Handshake spec). `None` for mechanisms
/// other than SCRAM.
pub fn speculative_scram_version(credential: &MongoCredential) -> Option<ScramVersion> {
    match credential.mechanism {
        None => Some(ScramVersion::Sha256),
        Some(mechanism) => mechanism.scram_version(),
    }
}

/// The fields authentication adds to the initial handshake of a pool connection:
/// `saslSupportedMechs: "<source>.<username>"` when the mechanism is negotiated, and
/// `speculativeAuthenticate` (the saslStart command plus `db`) when `speculative` holds a
/// first SCRAM message.
pub fn handshake_fields(
    credential: &MongoCredential,
    speculative: Option<(ScramVersion, &[u8])>,
) -> Document {
    let mut fields = Document::new();
    if credential.mechanism.is_none() {
        fields.insert(
            "saslSupportedMechs",
            format!("{}.{}", credential.source, credential.username_or_empty()),
        );
    }
    if let Some((version, client_first)) = speculative {
        let mut start = sasl_start(version.mechanism_name(), client_first);
        start.insert("db", credential.source.as_str());
        fields.insert("speculativeAuthenticate", start);
    }
    fields
}

/// `{saslStart: 1, mechanism, payload, options: {skipEmptyExchange: true}}`.
pub fn sasl_start(mechanism: &str, payload: &[u8]) -> Document {
    doc! {
        "saslStart": 1,
        "mechanism": mechanism,
        "payload": binary(payload),
        "options": { "skipEmptyExchange": true },
    }
}

/// `{saslContinue: 1, conversationId, payload}`.
pub fn sasl_continue(conversation_id: &Bson, payload: &[u8]) -> Document {
    doc! {
        "saslContinue": 1,
        "conversationId": conversation_id.clone(),
        "payload": binary(payload),
    }
}

fn binary(bytes: &[u8]) -> Binary {
    Binary {
        subtype: BinarySubtype::Generic,
        bytes: bytes.to_vec(),
    }
}

/// One step of the server's side of the conversation: a saslStart / saslContinue reply, or
/// the `speculativeAuthenticate` document of a handshake reply.
#[derive(Debug, Clone, PartialEq)]
pub struct SaslStep {
    /// The conversation to continue.
    pub conversation_id: Bson,
    /// Whether the server considers the conversation finished.
    pub done: bool,
    /// The server's payload.
    pub payload: Vec<u8>,
}

impl SaslStep {
    /// Reads a step from a reply (`ok` is the caller's business). The payload may be
    /// binary or, from some servers, a base64 string.
    pub fn from_reply(reply: &Document) -> Result<SaslStep, String> {
        let conversation_id = reply
            .get("conversationId")
            .cloned()
            .ok_or("the reply has no conversationId")?;
        let done = match reply.get("done") {
            Some(Bson::Boolean(done)) => *done,
            None => false,
            Some(_) => return Err("the reply's done is not a boolean".to_owned()),
        };
        let payload = match reply.get("payload") {
            Some(Bson::Binary(binary)) => binary.bytes.clone(),
            Some(Bson::String(text)) => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|_| "the reply's payload string is not base64".to_owned())?
            }
            None => Vec::new(),
            Some(_) => return Err("the reply's payload is neither binary nor a string".to_owned()),
        };
        Ok(SaslStep {
            conversation_id,
            done,
            payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn negotiated() -> MongoCredential {
        MongoCredential::scram("alice", "pw", Some("shop"), None).unwrap()
    }

    #[test]
    fn sha256_is_chosen_when_listed_else_sha1() {
        let credential = negotiated();
        let cases = [
            (
                doc! { "saslSupportedMechs": ["SCRAM-SHA-1", "SCRAM-SHA-256"] },
                AuthMechanism::ScramSha256,
            ),
            (
                doc! { "saslSupportedMechs": ["SCRAM-SHA-1"] },
                AuthMechanism::ScramSha1,
            ),
            (
                doc! { "saslSupportedMechs": ["PLAIN", "FANCY-NEW"] },
                AuthMechanism::ScramSha1,
            ),
            (
                doc! { "saslSupportedMechs": "SCRAM-SHA-256" },
                AuthMechanism::ScramSha1,
            ),
            (doc! {}, AuthMechanism::ScramSha1),
        ];
        for (reply, expected) in cases {
            assert_eq!(
                negotiated_mechanism(&credential, &reply),
                expected,
                "{reply}"
            );
        }
    }

    #[test]
    fn a_named_mechanism_is_honoured_whatever_the_server_lists() {
        let credential =
            MongoCredential::scram("alice", "pw", None, Some(ScramVersion::Sha1)).unwrap();
        let reply = doc! { "saslSupportedMechs": ["SCRAM-SHA-256"] };
        assert_eq!(
            negotiated_mechanism(&credential, &reply),
            AuthMechanism::ScramSha1
        );
        assert_eq!(
            speculative_scram_version(&credential),
            Some(ScramVersion::Sha1)
        );
        assert_eq!(
            speculative_scram_version(&negotiated()),
            Some(ScramVersion::Sha256)
        );
    }

    #[test]
    fn handshake_fields_name_the_user_and_carry_sasl_start_with_db() {
        let fields = handshake_fields(
            &negotiated(),
            Some((ScramVersion::Sha256, b"n,,n=alice,r=x")),
        );
        assert_eq!(
            fields.get_str("saslSupportedMechs").ok(),
            Some("shop.alice")
        );
        let speculative = fields.get_document("speculativeAuthenticate").unwrap();
        assert_eq!(speculative.get_i32("saslStart").ok(), Some(1));
        assert_eq!(speculative.get_str("mechanism").ok(), Some("SCRAM-SHA-256"));
        assert_eq!(speculative.get_str("db").ok(), Some("shop"));
        assert_eq!(
            speculative
                .get_binary_generic("payload")
                .ok()
                .map(Vec::as_slice),
            Some(&b"n,,n=alice,r=x"[..])
        );
        assert_eq!(
            speculative
                .get_document("options")
                .unwrap()
                .get_bool("skipEmptyExchange")
                .ok(),
            Some(true)
        );
        // A named mechanism needs no negotiation.
        let named = MongoCredential::scram("alice", "pw", None, Some(ScramVersion::Sha1)).unwrap();
        assert!(!handshake_fields(&named, None).contains_key("saslSupportedMechs"));
    }

    #[test]
    fn sasl_steps_accept_binary_or_base64_payloads_and_reject_garbage() {
        let step = SaslStep::from_reply(&doc! {
            "conversationId": 1, "done": false, "payload": binary(b"r=abc"),
        })
        .unwrap();
        assert_eq!(step.payload, b"r=abc");
        assert!(!step.done);
        let step = SaslStep::from_reply(&doc! {
            "conversationId": 1, "done": true, "payload": "cj1hYmM=",
        })
        .unwrap();
        assert_eq!(step.payload, b"r=abc");
        for bad in [
            doc! { "done": false, "payload": "" },
            doc! { "conversationId": 1, "done": "yes" },
            doc! { "conversationId": 1, "payload": "***" },
            doc! { "conversationId": 1, "payload": 5 },
        ] {
            assert!(SaslStep::from_reply(&bad).is_err(), "{bad}");
        }
    }
}
