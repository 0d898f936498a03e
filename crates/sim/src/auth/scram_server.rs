//! The server side of SCRAM-SHA-1 and SCRAM-SHA-256 as mongod runs it: a real salted
//! verifier per user and mechanism (random salt; StoredKey and ServerKey, never the
//! password), server-first with a combined nonce, proof check, server signature.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use mongo_topology_core::auth::ScramVersion;

/// mongod's default `scramIterationCount` (SCRAM-SHA-1).
pub const SHA1_ITERATIONS: u32 = 10_000;
/// mongod's default `scramSHA256IterationCount`.
pub const SHA256_ITERATIONS: u32 = 15_000;

/// What mongod stores for one user and one mechanism.
pub struct Verifier {
    salt: Vec<u8>,
    iterations: u32,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

impl Verifier {
    /// The verifier of `password` for `username` under `version`, with a fresh random salt
    /// (16 bytes for SHA-1, 28 for SHA-256, as mongod draws them).
    pub fn new(version: ScramVersion, username: &str, password: &str) -> Option<Verifier> {
        let (salt_len, iterations) = match version {
            ScramVersion::Sha1 => (16, SHA1_ITERATIONS),
            ScramVersion::Sha256 => (28, SHA256_ITERATIONS),
        };
        let salt: Vec<u8> = (0..salt_len).map(|_| rand::random::<u8>()).collect();
        let prepared = version.prepare_password(username, password).ok()?;
        let salted = version.salted_password(&prepared, &salt, iterations);
        Some(Verifier {
            stored_key: version.hash(&version.client_key(&salted)),
            server_key: version.server_key(&salted),
            salt,
            iterations,
        })
    }
}

/// Why a step of the conversation fails (answered as the server would).
#[derive(Debug, PartialEq, Eq)]
pub enum StepError {
    /// The client's message breaks the grammar: BadValue.
    Malformed(&'static str),
    /// Wrong proof, wrong nonce: AuthenticationFailed.
    Failed,
}

/// A conversation after server-first, waiting for client-final.
pub struct AwaitingProof {
    version: ScramVersion,
    nonce: String,
    auth_message_prefix: String,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

/// Reads client-first (`n,,n=<user>,r=<nonce>`): the username (unescaped) and the bare
/// message, or why it is malformed.
pub fn parse_client_first(payload: &[u8]) -> Result<(String, String, String), StepError> {
    let text = std::str::from_utf8(payload).map_err(|_| StepError::Malformed("not UTF-8"))?;
    let bare = text
        .strip_prefix("n,,")
        .or_else(|| text.strip_prefix("y,,"))
        .ok_or(StepError::Malformed(
            "unsupported GS2 header (channel binding)",
        ))?;
    let mut parts = bare.split(',');
    let user = parts
        .next()
        .and_then(|p| p.strip_prefix("n="))
        .ok_or(StepError::Malformed("no username"))?;
    let nonce = parts
        .next()
        .and_then(|p| p.strip_prefix("r="))
        .filter(|n| !n.is_empty())
        .ok_or(StepError::Malformed("no client nonce"))?;
    let user = user.replace("=2C", ",").replace("=3D", "=");
    Ok((user, nonce.to_owned(), bare.to_owned()))
}

/// Answers client-first with server-first; returns it and the state awaiting the proof.
pub fn server_first(
    version: ScramVersion,
    verifier: &Verifier,
    client_nonce: &str,
    client_first_bare: &str,
) -> (String, AwaitingProof) {
    let server_nonce = BASE64.encode(rand::random::<[u8; 24]>());
    let nonce = format!("{client_nonce}{server_nonce}");
    let message = format!(
        "r={nonce},s={},i={}",
        BASE64.encode(&verifier.salt),
        verifier.iterations
    );
    let state = AwaitingProof {
        version,
        auth_message_prefix: format!("{client_first_bare},{message}"),
        nonce,
        stored_key: verifier.stored_key.clone(),
        server_key: verifier.server_key.clone(),
    };
    (message, state)
}

impl AwaitingProof {
    /// Checks client-final (`c=biws,r=<nonce>,p=<proof>`) and returns server-final
    /// (`v=<signature>`).
    pub fn server_final(self, payload: &[u8]) -> Result<String, StepError> {
        let text = std::str::from_utf8(payload).map_err(|_| StepError::Malformed("not UTF-8"))?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or(StepError::Malformed("no proof"))?;
        let mut parts = without_proof.split(',');
        let binding = parts.next().and_then(|p| p.strip_prefix("c="));
        if !matches!(binding, Some("biws") | Some("eSws")) {
            return Err(StepError::Malformed("unexpected channel binding"));
        }
        if parts.next().and_then(|p| p.strip_prefix("r=")) != Some(self.nonce.as_str()) {
            return Err(StepError::Failed);
        }
        let proof = BASE64
            .decode(proof)
            .map_err(|_| StepError::Malformed("the proof is not base64"))?;
        let version = self.version;
        let auth_message = format!("{},{without_proof}", self.auth_message_prefix);
        let client_signature = version.hmac(&self.stored_key, auth_message.as_bytes());
        if proof.len() != client_signature.len() {
            return Err(StepError::Failed);
        }
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        if version.hash(&client_key) != self.stored_key {
            return Err(StepError::Failed);
        }
        let signature = version.hmac(&self.server_key, auth_message.as_bytes());
        Ok(format!("v={}", BASE64.encode(signature)))
    }
}
