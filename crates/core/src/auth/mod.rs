//! Authentication, pure: credentials resolved and validated per mechanism, the client side
//! of SCRAM-SHA-1 and SCRAM-SHA-256 as a state machine, mechanism negotiation, and the
//! SASL commands and handshake fields (Authentication spec, MongoDB Handshake spec).
//!
//! Nothing here performs I/O or draws randomness: the engine sends the documents built
//! here over a connection and passes in a fresh client nonce. Passwords are held in
//! [`Secret`](crate::options::Secret) or in types whose `Debug` hides them, and no error
//! carries one.

mod credential;
mod error;
mod sasl;
mod scram;
mod scram_version;
mod x509;

pub use credential::{AuthMechanism, MongoCredential};
pub use error::{CredentialError, ScramError};
pub use sasl::{
    handshake_fields, negotiated_mechanism, sasl_continue, sasl_start, speculative_scram_version,
    SaslStep,
};
pub use scram::{
    ScramClient, ScramClientFinal, ScramKeyCache, MAX_CACHED_KEYS, MAX_ITERATION_COUNT,
    MIN_ITERATION_COUNT,
};
pub use scram_version::ScramVersion;
pub use x509::{x509_authenticate, x509_speculative};
