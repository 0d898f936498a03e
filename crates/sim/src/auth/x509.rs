//! MONGODB-X509 on the simulated server: `authenticate` with the subject of the client's
//! TLS certificate, as mongod does (`$external` only; `user`, when given, must match).

use std::sync::atomic::Ordering;

use bson::{doc, Document};

use super::{AuthSession, UserStore};
use crate::reply::error_reply;

/// The `$external` database X509 users live in.
const EXTERNAL: &str = "$external";

impl AuthSession {
    /// Runs `{authenticate: 1, mechanism: "MONGODB-X509", user?}` on `db`.
    pub(super) fn authenticate_x509(
        &mut self,
        users: &UserStore,
        db: &str,
        command: &Document,
    ) -> Document {
        let mechanism = command.get_str("mechanism").unwrap_or("");
        if mechanism != "MONGODB-X509" {
            return error_reply(
                2,
                "BadValue",
                format!("Unsupported mechanism {mechanism} for the authenticate command"),
            );
        }
        if db != EXTERNAL {
            return error_reply(
                2,
                "BadValue",
                "X.509 authentication must always use the $external database.",
            );
        }
        let Some(subject) = self.client_subject.clone() else {
            users.failures.fetch_add(1, Ordering::Relaxed);
            return error_reply(
                18,
                "AuthenticationFailed",
                "No verified subject name available from client",
            );
        };
        if let Ok(user) = command.get_str("user") {
            if user != subject {
                users.failures.fetch_add(1, Ordering::Relaxed);
                return error_reply(
                    18,
                    "AuthenticationFailed",
                    "There is no x.509 client certificate matching the user.",
                );
            }
        }
        if !users.x509_users.contains(&subject) {
            return users.failed();
        }
        self.succeeded(users);
        doc! { "dbname": EXTERNAL, "user": subject, "ok": 1.0 }
    }
}
