//! Showing a connection string without its secrets: `Display` renders a URI in which the
//! password and secret option values are replaced by [`MASK`]; `Debug` uses that rendering.
//!
//! The rendering is rebuilt from the parsed values, never from the original text, so
//! unknown options (whose values might be secrets) are left out and nothing can slip
//! through a parsing corner case.

use std::fmt::{self, Write as _};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::connection_string::ConnectionString;
use super::credential::AuthMechanismProperties;
use super::option_value::OptionValue;
use super::secret::MASK;
use crate::address::ServerAddress;

/// Everything but RFC 3986 "unreserved" characters is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn encode(text: &str) -> impl fmt::Display + '_ {
    utf8_percent_encode(text, COMPONENT)
}

impl fmt::Display for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_srv() {
            "mongodb+srv://"
        } else {
            "mongodb://"
        })?;
        if let Some(username) = &self.username {
            write!(f, "{}", encode(username))?;
            if self.password.is_some() {
                write!(f, ":{MASK}")?;
            }
            f.write_char('@')?;
        }
        match &self.srv_hostname {
            Some(hostname) => f.write_str(hostname)?,
            None => {
                for (i, host) in self.hosts.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    match host {
                        ServerAddress::Unix { path } => write!(f, "{}", encode(path))?,
                        // An IPv6 zone ("fe80::1%eth0") needs its "%" encoded.
                        ServerAddress::Tcp { host, port } if host.contains(':') => {
                            write!(f, "[{}]:{port}", host.replace('%', "%25"))?
                        }
                        tcp => write!(f, "{tcp}")?,
                    }
                }
            }
        }
        f.write_char('/')?;
        if let Some(database) = &self.database {
            write!(f, "{}", encode(database))?;
        }
        let mut separator = '?';
        for (name, value) in &self.options {
            let sets = match value {
                OptionValue::TagSets(sets) => sets.iter().collect(),
                _ => Vec::new(),
            };
            if sets.is_empty() {
                write!(f, "{separator}{name}=")?;
                write_value(f, value)?;
                separator = '&';
            }
            for set in sets {
                write!(f, "{separator}{name}=")?;
                write_pairs(f, set.iter().map(|(k, v)| (k.as_str(), v.as_str(), false)))?;
                separator = '&';
            }
        }
        Ok(())
    }
}

fn write_value(f: &mut fmt::Formatter<'_>, value: &OptionValue) -> fmt::Result {
    match value {
        OptionValue::Bool(b) => write!(f, "{b}"),
        OptionValue::Int(n) => write!(f, "{n}"),
        OptionValue::String(s) => write!(f, "{}", encode(s)),
        OptionValue::Secret(_) => f.write_str(MASK),
        OptionValue::List(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_char(',')?;
                }
                write!(f, "{}", encode(item))?;
            }
            Ok(())
        }
        OptionValue::Properties(properties) => write_pairs(
            f,
            properties.iter().map(|(k, v)| {
                let secret = AuthMechanismProperties::is_secret_property(k);
                (k, v, secret)
            }),
        ),
        // Rendered one instance per tag set by the caller.
        OptionValue::TagSets(_) => Ok(()),
    }
}

/// `key:value,key:value`, with the value of each secret pair masked.
fn write_pairs<'a>(
    f: &mut fmt::Formatter<'_>,
    pairs: impl Iterator<Item = (&'a str, &'a str, bool)>,
) -> fmt::Result {
    for (i, (key, value, secret)) in pairs.enumerate() {
        if i > 0 {
            f.write_char(',')?;
        }
        write!(f, "{}:", encode(key))?;
        if secret {
            f.write_str(MASK)?;
        } else {
            write!(f, "{}", encode(value))?;
        }
    }
    Ok(())
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionString")
            .field("uri", &format_args!("{self}"))
            .field("warnings", &self.warnings)
            .finish()
    }
}

impl fmt::Debug for AuthMechanismProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (key, value) in self.iter() {
            if AuthMechanismProperties::is_secret_property(key) {
                map.entry(&key, &format_args!("{MASK}"));
            } else {
                map.entry(&key, &value);
            }
        }
        map.finish()
    }
}
