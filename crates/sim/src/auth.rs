//! Users and authentication, as a mongod started with `--auth` and users created in
//! `admin` behaves towards a client:
//! - `saslStart` / `saslContinue` run SCRAM-SHA-256 (from 4.0) and SCRAM-SHA-1 against a
//!   real salted verifier (`auth/scram_server.rs`); `options: {skipEmptyExchange: true}` ends the
//!   conversation one step earlier (from 4.4);
//! - the handshake answers `saslSupportedMechs: "<db>.<user>"` with the user's mechanisms
//!   (omitted for an unknown user) and `speculativeAuthenticate` (from 4.4) with the reply
//!   to the embedded `saslStart` (omitted when it fails);
//! - before authentication only the commands whose `requiresAuth()` is false in the server
//!   run (hello/isMaster in hello.cpp, `ping` and `buildInfo` in generic.cpp, `saslStart` /
//!   `saslContinue` in sasl_commands.cpp, `getnonce` while it exists); any other command
//!   gets code 13 Unauthorized. Recent servers (8.x, `buildInfoAuthMode`) require
//!   authentication for `buildInfo` by default; the simulator does not emulate that.
//! - a wrong password or an unknown user: code 18 AuthenticationFailed,
//!   "Authentication failed.".

mod mechanisms;
mod scram_server;
mod x509;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use bson::spec::BinarySubtype;
use bson::{doc, Binary, Bson, Document};
use mongo_topology_core::auth::ScramVersion;

use super::reply::error_reply;
use super::versions::ServerVersion;
use scram_server::{parse_client_first, server_first, AwaitingProof, StepError, Verifier};

pub use mechanisms::ScramMechanism;
pub use scram_server::{SHA1_ITERATIONS, SHA256_ITERATIONS};

/// A user of the simulated deployment, created in `admin` with SCRAM-SHA-1 and
/// SCRAM-SHA-256 credentials. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SimUser {
    /// The username.
    pub name: String,
    /// The password.
    pub password: String,
}

impl SimUser {
    /// A user `name` with `password`.
    pub fn new(name: &str, password: &str) -> SimUser {
        SimUser {
            name: name.to_owned(),
            password: password.to_owned(),
        }
    }

    /// Parses `USER:PASSWORD` (the password may contain `:`; the user may not).
    pub fn parse(text: &str) -> Result<SimUser, String> {
        match text.split_once(':') {
            Some((name, password)) if !name.is_empty() => Ok(SimUser::new(name, password)),
            _ => Err("expected USER:PASSWORD with a non-empty user".to_owned()),
        }
    }
}

impl fmt::Debug for SimUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimUser")
            .field("name", &self.name)
            .field("password", &"*****")
            .finish()
    }
}

/// How many SASL steps the deployment's nodes served, for tests that count round trips.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthCounts {
    /// `saslStart` commands.
    pub sasl_start_commands: u64,
    /// `saslContinue` commands.
    pub sasl_continue_commands: u64,
    /// `speculativeAuthenticate` conversations started in a handshake.
    pub speculative_starts: u64,
    /// Conversations that ended authenticated.
    pub successes: u64,
    /// Conversations refused with AuthenticationFailed.
    pub failures: u64,
}

struct StoredUser {
    name: String,
    sha1: Verifier,
    sha256: Verifier,
}

/// The users of a deployment (in `admin`) and its counters.
#[derive(Default)]
pub(crate) struct UserStore {
    users: Vec<StoredUser>,
    sasl_starts: AtomicU64,
    sasl_continues: AtomicU64,
    speculative_starts: AtomicU64,
    successes: AtomicU64,
    failures: AtomicU64,
    /// MONGODB-X509 users: client certificate subjects.
    x509_users: Vec<String>,
    /// The SCRAM mechanisms offered; `None`: both.
    mechanisms: Option<Vec<ScramMechanism>>,
}

impl UserStore {
    /// Derives each user's verifiers (a fresh salt each; 10,000 / 15,000 iterations).
    /// A user whose password SASLprep rejects is left out with a warning, as mongod's
    /// `createUser` refuses it.
    pub(crate) fn new(users: &[SimUser]) -> UserStore {
        let users = users
            .iter()
            .filter_map(|user| {
                let sha1 = Verifier::new(ScramVersion::Sha1, &user.name, &user.password);
                let sha256 = Verifier::new(ScramVersion::Sha256, &user.name, &user.password);
                match (sha1, sha256) {
                    (Some(sha1), Some(sha256)) => Some(StoredUser {
                        name: user.name.clone(),
                        sha1,
                        sha256,
                    }),
                    _ => {
                        tracing::warn!(user = %user.name, "password rejected by SASLprep: user not created");
                        None
                    }
                }
            })
            .collect();
        UserStore {
            users,
            ..UserStore::default()
        }
    }

    /// This store with MONGODB-X509 users (certificate subjects in `$external`).
    pub(crate) fn with_x509_users(mut self, subjects: &[String]) -> UserStore {
        self.x509_users = subjects.to_vec();
        self
    }

    /// This store offering only `mechanisms` (the server's `authenticationMechanisms`).
    pub(crate) fn with_mechanisms(mut self, mechanisms: Option<Vec<ScramMechanism>>) -> UserStore {
        self.mechanisms = mechanisms;
        self
    }

    /// Whether `mechanism` is offered.
    fn offers(&self, mechanism: ScramMechanism) -> bool {
        self.mechanisms
            .as_ref()
            .is_none_or(|offered| offered.contains(&mechanism))
    }

    /// Whether authentication is on (any user configured).
    pub(crate) fn enabled(&self) -> bool {
        !self.users.is_empty() || !self.x509_users.is_empty()
    }

    /// The counters so far.
    pub(crate) fn counts(&self) -> AuthCounts {
        AuthCounts {
            sasl_start_commands: self.sasl_starts.load(Ordering::Relaxed),
            sasl_continue_commands: self.sasl_continues.load(Ordering::Relaxed),
            speculative_starts: self.speculative_starts.load(Ordering::Relaxed),
            successes: self.successes.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }

    fn find(&self, db: &str, name: &str) -> Option<&StoredUser> {
        (db == "admin")
            .then(|| self.users.iter().find(|u| u.name == name))
            .flatten()
    }

    fn failed(&self) -> Document {
        self.failures.fetch_add(1, Ordering::Relaxed);
        error_reply(18, "AuthenticationFailed", "Authentication failed.")
    }
}

/// Commands a client may run before authenticating (their `requiresAuth()` is false).
fn allowed_unauthenticated(name: &str) -> bool {
    matches!(
        name,
        "hello"
            | "isMaster"
            | "ismaster"
            | "ping"
            | "buildInfo"
            | "buildinfo"
            | "saslStart"
            | "saslContinue"
            | "authenticate"
            | "getnonce"
    )
}

/// A conversation in progress on a connection.
enum Conversation {
    AwaitingProof {
        state: AwaitingProof,
        skip_empty_exchange: bool,
    },
    /// Pre-4.4 servers: the signature was sent with `done: false`; an empty step ends it.
    AwaitingEmpty,
}

/// One connection's authentication state.
#[derive(Default)]
pub(crate) struct AuthSession {
    authenticated: bool,
    conversation: Option<Conversation>,
    /// The subject of the client's TLS certificate, if it presented one.
    client_subject: Option<String>,
}

/// The conversation id mongod uses: always 1 (one conversation per connection).
const CONVERSATION_ID: i32 = 1;

impl AuthSession {
    /// A session on a connection whose client presented a certificate with `subject`.
    pub(crate) fn with_client_subject(subject: Option<String>) -> AuthSession {
        AuthSession {
            client_subject: subject,
            ..AuthSession::default()
        }
    }

    /// Answers `name` if authentication decides it: a SASL command, or a refusal before
    /// authentication. `None`: run the command normally.
    pub(crate) fn intercept(
        &mut self,
        users: &UserStore,
        version: ServerVersion,
        name: &str,
        db: &str,
        command: &Document,
    ) -> Option<Document> {
        if !users.enabled() {
            return None;
        }
        match name {
            "saslStart" => {
                users.sasl_starts.fetch_add(1, Ordering::Relaxed);
                Some(self.sasl_start(users, version, db, command))
            }
            "authenticate" => Some(self.authenticate_x509(users, db, command)),
            "saslContinue" => {
                users.sasl_continues.fetch_add(1, Ordering::Relaxed);
                Some(self.sasl_continue(users, command))
            }
            _ if self.authenticated || allowed_unauthenticated(name) => None,
            _ => Some(error_reply(
                13,
                "Unauthorized",
                format!("Command {name} requires authentication"),
            )),
        }
    }

    /// Adds `saslSupportedMechs` and `speculativeAuthenticate` to a successful hello reply.
    pub(crate) fn complete_hello(
        &mut self,
        users: &UserStore,
        version: ServerVersion,
        command: &Document,
        reply: &mut Document,
    ) {
        if !users.enabled() || version < ServerVersion::V4_0 {
            return;
        }
        if let Ok(requested) = command.get_str("saslSupportedMechs") {
            let found = requested
                .split_once('.')
                .and_then(|(db, user)| users.find(db, user));
            if found.is_some() {
                let offered: Vec<&str> = ScramMechanism::ALL
                    .into_iter()
                    .filter(|m| users.offers(*m))
                    .map(ScramMechanism::name)
                    .collect();
                reply.insert("saslSupportedMechs", offered);
            }
        }
        let Ok(speculative) = command.get_document("speculativeAuthenticate") else {
            return;
        };
        if version < ServerVersion::V4_4 {
            return;
        }
        users.speculative_starts.fetch_add(1, Ordering::Relaxed);
        let db = speculative.get_str("db").unwrap_or("");
        let mut answer = if speculative.contains_key("authenticate") {
            self.authenticate_x509(users, db, speculative)
        } else {
            self.sasl_start(users, version, db, speculative)
        };
        if answer.get_f64("ok").ok() == Some(1.0) {
            answer.remove("ok");
            reply.insert("speculativeAuthenticate", answer);
        }
    }

    fn sasl_start(
        &mut self,
        users: &UserStore,
        version: ServerVersion,
        db: &str,
        command: &Document,
    ) -> Document {
        self.conversation = None;
        let mechanism = command.get_str("mechanism").unwrap_or("");
        let offers = |m| users.offers(m);
        let scram = match mechanism {
            "SCRAM-SHA-1" if offers(ScramMechanism::Sha1) => ScramVersion::Sha1,
            "SCRAM-SHA-256" if version >= ServerVersion::V4_0 && offers(ScramMechanism::Sha256) => {
                ScramVersion::Sha256
            }
            other => {
                return error_reply(
                    334,
                    "MechanismUnavailable",
                    format!("Received authentication for mechanism {other} which is not enabled"),
                )
            }
        };
        let Some(payload) = payload(command) else {
            return error_reply(14, "TypeMismatch", "saslStart needs a binary payload");
        };
        let (user, nonce, bare) = match parse_client_first(&payload) {
            Ok(parsed) => parsed,
            Err(error) => return step_error(users, error),
        };
        let Some(stored) = users.find(db, &user) else {
            return users.failed();
        };
        let verifier = match scram {
            ScramVersion::Sha1 => &stored.sha1,
            ScramVersion::Sha256 => &stored.sha256,
        };
        let (message, state) = server_first(scram, verifier, &nonce, &bare);
        let skip_empty_exchange = version >= ServerVersion::V4_4
            && command
                .get_document("options")
                .ok()
                .and_then(|o| o.get_bool("skipEmptyExchange").ok())
                .unwrap_or(false);
        self.conversation = Some(Conversation::AwaitingProof {
            state,
            skip_empty_exchange,
        });
        sasl_reply(false, message.as_bytes())
    }

    fn sasl_continue(&mut self, users: &UserStore, command: &Document) -> Document {
        let id_matches = matches!(
            command.get("conversationId"),
            Some(Bson::Int32(CONVERSATION_ID))
        ) || matches!(command.get("conversationId"), Some(Bson::Int64(1)));
        let Some(conversation) = self.conversation.take().filter(|_| id_matches) else {
            return error_reply(17, "ProtocolError", "No SASL session state found");
        };
        let payload = payload(command).unwrap_or_default();
        match conversation {
            Conversation::AwaitingProof {
                state,
                skip_empty_exchange,
            } => match state.server_final(&payload) {
                Ok(signature) => {
                    if skip_empty_exchange {
                        self.succeeded(users);
                    } else {
                        self.conversation = Some(Conversation::AwaitingEmpty);
                    }
                    sasl_reply(skip_empty_exchange, signature.as_bytes())
                }
                Err(error) => step_error(users, error),
            },
            Conversation::AwaitingEmpty => {
                self.succeeded(users);
                sasl_reply(true, &[])
            }
        }
    }

    fn succeeded(&mut self, users: &UserStore) {
        self.authenticated = true;
        users.successes.fetch_add(1, Ordering::Relaxed);
    }
}

fn payload(command: &Document) -> Option<Vec<u8>> {
    match command.get("payload") {
        Some(Bson::Binary(binary)) => Some(binary.bytes.clone()),
        _ => None,
    }
}

fn sasl_reply(done: bool, payload: &[u8]) -> Document {
    doc! {
        "conversationId": CONVERSATION_ID,
        "done": done,
        "payload": Binary { subtype: BinarySubtype::Generic, bytes: payload.to_vec() },
        "ok": 1.0,
    }
}

fn step_error(users: &UserStore, error: StepError) -> Document {
    match error {
        StepError::Malformed(what) => {
            error_reply(2, "BadValue", format!("Invalid SCRAM message: {what}"))
        }
        StepError::Failed => users.failed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_parse_from_the_command_line_and_hide_their_password() {
        let user = SimUser::parse("alice:pa:ss").unwrap();
        assert_eq!(user, SimUser::new("alice", "pa:ss"));
        assert!(!format!("{user:?}").contains("pa:ss"));
        assert!(SimUser::parse(":pw").is_err());
        assert!(SimUser::parse("nopassword").is_err());
    }

    #[test]
    fn before_authentication_only_the_handshake_ping_buildinfo_and_sasl_run() {
        let users = UserStore::new(&[SimUser::new("alice", "pw")]);
        let mut session = AuthSession::default();
        let v = ServerVersion::V7_0;
        for allowed in ["hello", "isMaster", "ping", "buildInfo"] {
            assert_eq!(
                session.intercept(&users, v, allowed, "admin", &doc! {}),
                None
            );
        }
        for refused in ["find", "insert", "replSetGetStatus", "endSessions"] {
            let reply = session
                .intercept(&users, v, refused, "admin", &doc! {})
                .unwrap();
            assert_eq!(reply.get_i32("code").ok(), Some(13), "{refused}");
        }
        // Without users nothing is intercepted.
        let open = UserStore::new(&[]);
        assert_eq!(session.intercept(&open, v, "find", "admin", &doc! {}), None);
    }
}
