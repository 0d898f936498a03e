//! The client side of a SCRAM conversation (RFC 5802 as the Authentication spec profiles
//! it), as a pure state machine: [`ScramClient`] produces client-first, takes server-first
//! and becomes a [`ScramClientFinal`], which produces client-final and checks server-final.
//! Nothing here reads a socket, a clock or a random source: the client nonce comes in.
//!
//! | step          | client sends / checks                                            |
//! |---------------|------------------------------------------------------------------|
//! | client-first  | `n,,n=<user>,r=<client nonce>` (no channel binding: `n,,`)        |
//! | server-first  | `r=<client nonce + server nonce>,s=<salt>,i=<iterations>`: the    |
//! |               | nonce must extend ours, `i` must be ≥ 4096 and ≤ [`MAX_ITERATION_COUNT`] |
//! | client-final  | `c=biws,r=<nonce>,p=<ClientKey XOR ClientSignature>`              |
//! | server-final  | `v=<ServerSignature>`, compared in constant time; `e=<error>` fails |

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::error::ScramError;
use super::scram_version::{xor, ScramVersion};

/// The smallest iteration count accepted (Authentication spec: drivers MUST error below
/// 4096, which mitigates downgrade attacks).
pub const MIN_ITERATION_COUNT: u32 = 4096;

/// The largest iteration count accepted. mongod's defaults are 10,000 (SHA-1) and 15,000
/// (SHA-256); a million costs about half a second of CPU per new connection in an optimised
/// build. Anything above is taken as a lying server trying to burn the client's CPU.
pub const MAX_ITERATION_COUNT: u32 = 1_000_000;

/// The most derivations a [`ScramKeyCache`] remembers. A client has a handful of
/// credentials and its servers share each user's salt; a server that sends a fresh salt on
/// every conversation (lying, or fuzzed) must not make the cache grow without end, so past
/// this an arbitrary entry is forgotten.
pub const MAX_CACHED_KEYS: usize = 64;

/// The "Client Key" and "Server Key" derived from a password, salt and iteration count,
/// remembered so that each new connection does not pay for `Hi` again (Authentication
/// spec, "Caching credentials in SCRAM"). Shared by the connections of a client.
#[derive(Default)]
pub struct ScramKeyCache {
    entries: Mutex<HashMap<CacheKey, DerivedKeys>>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    version: ScramVersion,
    prepared_password: String,
    salt: Vec<u8>,
    iterations: u32,
}

#[derive(Clone)]
struct DerivedKeys {
    client_key: Vec<u8>,
    server_key: Vec<u8>,
}

impl fmt::Debug for ScramKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.entries.lock().map(|e| e.len()).unwrap_or(0);
        f.debug_struct("ScramKeyCache")
            .field("entries", &len)
            .finish()
    }
}

impl ScramKeyCache {
    /// The number of remembered derivations.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether nothing is remembered yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn keys(&self, key: CacheKey) -> DerivedKeys {
        if let Ok(entries) = self.entries.lock() {
            if let Some(found) = entries.get(&key) {
                return found.clone();
            }
        }
        let version = key.version;
        let salted = version.salted_password(&key.prepared_password, &key.salt, key.iterations);
        let derived = DerivedKeys {
            client_key: version.client_key(&salted),
            server_key: version.server_key(&salted),
        };
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_CACHED_KEYS && !entries.contains_key(&key) {
                if let Some(evicted) = entries.keys().next().cloned() {
                    entries.remove(&evicted);
                }
            }
            entries.insert(key, derived.clone());
        }
        derived
    }
}

/// A SCRAM conversation before the server's first message.
pub struct ScramClient {
    version: ScramVersion,
    prepared_password: String,
    client_nonce: String,
    client_first_bare: String,
}

impl fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramClient")
            .field("version", &self.version)
            .field("client_first_bare", &self.client_first_bare)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// Starts a conversation for `username` (sent as given: not SASLprep'd, as the spec
    /// requires) with `password`, prepared as [`ScramVersion::prepare_password`] says.
    ///
    /// `client_nonce` must be fresh, unpredictable, printable ASCII without `,` (the engine
    /// passes 24 random bytes in base64).
    pub fn new(
        version: ScramVersion,
        username: &str,
        password: &str,
        client_nonce: &str,
    ) -> Result<ScramClient, ScramError> {
        let prepared_password = version.prepare_password(username, password)?;
        let client_first_bare = format!("n={},r={client_nonce}", escape_username(username));
        Ok(ScramClient {
            version,
            prepared_password,
            client_nonce: client_nonce.to_owned(),
            client_first_bare,
        })
    }

    /// The mechanism of this conversation.
    pub fn version(&self) -> ScramVersion {
        self.version
    }

    /// The client-first message: `n,,n=<user>,r=<nonce>`.
    pub fn client_first(&self) -> Vec<u8> {
        format!("n,,{}", self.client_first_bare).into_bytes()
    }

    /// Takes the server-first message: checks the nonce and the iteration count, derives
    /// the keys (through `cache`), and returns the next state holding the client-final
    /// message.
    pub fn receive_server_first(
        self,
        server_first: &[u8],
        cache: &ScramKeyCache,
    ) -> Result<ScramClientFinal, ScramError> {
        let malformed = |reason: &str| ScramError::Malformed {
            step: "server-first",
            reason: reason.to_owned(),
        };
        let text = std::str::from_utf8(server_first).map_err(|_| malformed("not UTF-8"))?;
        let mut attributes = text.split(',');
        let nonce = attribute(attributes.next(), 'r').ok_or_else(|| malformed("no nonce (r=)"))?;
        let salt = attribute(attributes.next(), 's').ok_or_else(|| malformed("no salt (s=)"))?;
        let iterations = attribute(attributes.next(), 'i')
            .ok_or_else(|| malformed("no iteration count (i=)"))?;
        if !nonce.starts_with(&self.client_nonce) || nonce.len() <= self.client_nonce.len() {
            return Err(ScramError::NonceMismatch);
        }
        let salt = BASE64
            .decode(salt)
            .map_err(|_| malformed("the salt is not base64"))?;
        let count: u32 = iterations
            .parse()
            .map_err(|_| malformed("the iteration count is not a positive integer"))?;
        if count < MIN_ITERATION_COUNT {
            return Err(ScramError::IterationCountTooLow {
                count,
                minimum: MIN_ITERATION_COUNT,
            });
        }
        if count > MAX_ITERATION_COUNT {
            return Err(ScramError::IterationCountTooHigh {
                count,
                maximum: MAX_ITERATION_COUNT,
            });
        }
        let version = self.version;
        let keys = cache.keys(CacheKey {
            version,
            prepared_password: self.prepared_password,
            salt,
            iterations: count,
        });
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{text},{without_proof}", self.client_first_bare);
        let stored_key = version.hash(&keys.client_key);
        let client_signature = version.hmac(&stored_key, auth_message.as_bytes());
        let proof = xor(&keys.client_key, &client_signature);
        let client_final = format!("{without_proof},p={}", BASE64.encode(proof));
        Ok(ScramClientFinal {
            version,
            client_final: client_final.into_bytes(),
            server_key: keys.server_key,
            auth_message,
        })
    }
}

/// A SCRAM conversation after server-first: the client-final message is ready, and the
/// server's signature is awaited.
pub struct ScramClientFinal {
    version: ScramVersion,
    client_final: Vec<u8>,
    server_key: Vec<u8>,
    auth_message: String,
}

impl fmt::Debug for ScramClientFinal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramClientFinal")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl ScramClientFinal {
    /// The client-final message: `c=biws,r=<nonce>,p=<proof>`.
    pub fn client_final(&self) -> &[u8] {
        &self.client_final
    }

    /// Takes the server-final message and checks the server's signature. `Ok` means the
    /// server proved it knows the password: the conversation succeeded.
    pub fn receive_server_final(self, server_final: &[u8]) -> Result<(), ScramError> {
        let malformed = |reason: &str| ScramError::Malformed {
            step: "server-final",
            reason: reason.to_owned(),
        };
        let text = std::str::from_utf8(server_final).map_err(|_| malformed("not UTF-8"))?;
        let first = text.split(',').next();
        if let Some(error) = attribute(first, 'e') {
            return Err(ScramError::ServerError(summarise(error)));
        }
        let signature =
            attribute(first, 'v').ok_or_else(|| malformed("no server signature (v=)"))?;
        let signature = BASE64
            .decode(signature)
            .map_err(|_| malformed("the server signature is not base64"))?;
        let version = self.version;
        if version.verify_hmac(&self.server_key, self.auth_message.as_bytes(), &signature) {
            Ok(())
        } else {
            Err(ScramError::ServerSignatureMismatch)
        }
    }
}

/// `saslname` of RFC 5802: "=" as "=3D" and "," as "=2C".
fn escape_username(username: &str) -> String {
    username.replace('=', "=3D").replace(',', "=2C")
}

/// The value of `part` if it is the attribute `name` (`"r=abc"` for `'r'` gives `"abc"`).
fn attribute(part: Option<&str>, name: char) -> Option<&str> {
    let value = part?.strip_prefix(name)?.strip_prefix('=')?;
    Some(value)
}

/// At most 100 printable characters of a server-chosen text, for an error message.
fn summarise(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(100).collect()
}

#[cfg(test)]
#[path = "scram_tests.rs"]
mod tests;
