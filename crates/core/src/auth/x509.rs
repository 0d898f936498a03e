//! MONGODB-X509 (Authentication spec, "MONGODB-X509"): the client proves its identity with
//! the certificate it presented in the TLS handshake; the one command only names it.

use bson::{doc, Document};

use super::credential::MongoCredential;

/// `{authenticate: 1, mechanism: "MONGODB-X509"}`, with `user` when the credential names
/// one (servers 3.4+ derive the user from the client certificate's subject otherwise).
/// Run on `$external`.
pub fn x509_authenticate(credential: &MongoCredential) -> Document {
    let mut command = doc! { "authenticate": 1, "mechanism": "MONGODB-X509" };
    if let Some(user) = &credential.username {
        command.insert("user", user.as_str());
    }
    command
}

/// The handshake's `speculativeAuthenticate` for MONGODB-X509: the authenticate command
/// plus `db: "$external"` (MongoDB Handshake spec, "Speculative Authentication").
pub fn x509_speculative(credential: &MongoCredential) -> Document {
    let mut command = x509_authenticate(credential);
    command.insert("db", credential.source.as_str());
    command
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::ConnectionString;

    fn credential(uri: &str) -> MongoCredential {
        let uri = ConnectionString::parse(uri).unwrap();
        MongoCredential::from_connection_string(&uri)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn names_the_user_only_when_given() {
        let named = credential("mongodb://CN%3Dclient@h/?authMechanism=MONGODB-X509");
        assert_eq!(
            x509_authenticate(&named),
            doc! { "authenticate": 1, "mechanism": "MONGODB-X509", "user": "CN=client" }
        );
        let anonymous = credential("mongodb://h/?authMechanism=MONGODB-X509");
        assert_eq!(
            x509_speculative(&anonymous),
            doc! { "authenticate": 1, "mechanism": "MONGODB-X509", "db": "$external" }
        );
    }
}
