//! The two SCRAM variants MongoDB speaks and their primitives (RFC 5802, RFC 7677): the hash,
//! HMAC, `Hi` (PBKDF2) and how each prepares the password (Authentication spec, "SCRAM-SHA-1"
//! and "SCRAM-SHA-256"). Used by the client conversation and by the simulator's server side.

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::Sha256;

use super::error::ScramError;

/// A SCRAM mechanism: SCRAM-SHA-1 or SCRAM-SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScramVersion {
    /// SCRAM-SHA-1 over MongoDB's hashed password (`HEX(MD5("user:mongo:password"))`).
    Sha1,
    /// SCRAM-SHA-256 over the SASLprep'd password.
    Sha256,
}

impl ScramVersion {
    /// The SASL mechanism name: `"SCRAM-SHA-1"` or `"SCRAM-SHA-256"`.
    pub fn mechanism_name(self) -> &'static str {
        match self {
            ScramVersion::Sha1 => "SCRAM-SHA-1",
            ScramVersion::Sha256 => "SCRAM-SHA-256",
        }
    }

    /// The password as this mechanism feeds it to `Hi`:
    /// - SCRAM-SHA-1: `HEX(MD5(UTF8(username + ":mongo:" + password)))`, neither prepared
    ///   with SASLprep;
    /// - SCRAM-SHA-256: SASLprep(password); the username is not used.
    ///
    /// Errors: [`ScramError::InvalidPassword`] when SASLprep rejects the password
    /// (prohibited or unassigned characters, bad bidirectional text).
    pub fn prepare_password(self, username: &str, password: &str) -> Result<String, ScramError> {
        match self {
            ScramVersion::Sha1 => {
                let mut md5 = Md5::new();
                md5.update(username.as_bytes());
                md5.update(b":mongo:");
                md5.update(password.as_bytes());
                Ok(hex(&md5.finalize()))
            }
            ScramVersion::Sha256 => stringprep::saslprep(password)
                .map(|prepared| prepared.into_owned())
                .map_err(|_| ScramError::InvalidPassword),
        }
    }

    /// `Hi(password, salt, iterations)`: PBKDF2 with this version's HMAC, one hash long.
    pub fn salted_password(self, prepared_password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
        let password = prepared_password.as_bytes();
        match self {
            ScramVersion::Sha1 => {
                let mut out = [0u8; 20];
                pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, &mut out);
                out.to_vec()
            }
            ScramVersion::Sha256 => {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out.to_vec()
            }
        }
    }

    /// `HMAC(key, data)` with this version's hash.
    pub fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            ScramVersion::Sha1 => hmac_of::<Hmac<Sha1>>(key, data),
            ScramVersion::Sha256 => hmac_of::<Hmac<Sha256>>(key, data),
        }
    }

    /// Whether `HMAC(key, data)` equals `expected`, compared in constant time.
    pub fn verify_hmac(self, key: &[u8], data: &[u8], expected: &[u8]) -> bool {
        match self {
            ScramVersion::Sha1 => verify_hmac_of::<Hmac<Sha1>>(key, data, expected),
            ScramVersion::Sha256 => verify_hmac_of::<Hmac<Sha256>>(key, data, expected),
        }
    }

    /// `H(data)` with this version's hash.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramVersion::Sha1 => Sha1::digest(data).to_vec(),
            ScramVersion::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    /// `ClientKey := HMAC(SaltedPassword, "Client Key")`.
    pub fn client_key(self, salted_password: &[u8]) -> Vec<u8> {
        self.hmac(salted_password, b"Client Key")
    }

    /// `ServerKey := HMAC(SaltedPassword, "Server Key")`.
    pub fn server_key(self, salted_password: &[u8]) -> Vec<u8> {
        self.hmac(salted_password, b"Server Key")
    }
}

fn hmac_of<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length: the error case cannot happen, and an empty MAC
    // would only make the conversation fail.
    match <M as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn verify_hmac_of<M: Mac + KeyInit>(key: &[u8], data: &[u8], expected: &[u8]) -> bool {
    match <M as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.verify_slice(expected).is_ok()
        }
        Err(_) => false,
    }
}

/// Lower-case hexadecimal.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `a XOR b`, byte by byte (equal lengths: both are one hash long).
pub(crate) fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_password_is_the_hex_md5_of_user_mongo_password() {
        // The mongo shell's digest of user "user", password "pencil".
        let prepared = ScramVersion::Sha1
            .prepare_password("user", "pencil")
            .unwrap();
        assert_eq!(prepared, "1c33006ec1ffd90f9cadcbcc0e118200");
    }

    #[test]
    fn sha256_password_goes_through_saslprep() {
        let v = ScramVersion::Sha256;
        // U+00AD (soft hyphen) maps to nothing; U+2163 (ROMAN NUMERAL FOUR) becomes "IV".
        assert_eq!(v.prepare_password("u", "I\u{00AD}X").unwrap(), "IX");
        assert_eq!(v.prepare_password("u", "\u{2163}").unwrap(), "IV");
        // A control character is prohibited.
        assert_eq!(
            v.prepare_password("u", "pass\u{0007}"),
            Err(ScramError::InvalidPassword)
        );
    }

    #[test]
    fn hmac_verification_rejects_a_different_mac() {
        let v = ScramVersion::Sha256;
        let mac = v.hmac(b"key", b"data");
        assert!(v.verify_hmac(b"key", b"data", &mac));
        let mut wrong = mac.clone();
        wrong[0] ^= 1;
        assert!(!v.verify_hmac(b"key", b"data", &wrong));
        assert!(!v.verify_hmac(b"key", b"data", &mac[..10]));
    }
}
