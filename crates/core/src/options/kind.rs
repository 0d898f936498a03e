//! [`Kind`]: the type of a URI option's value, with the range of values it accepts. The
//! catalog gives each option its kind; `values.rs` parses a value by it.

/// The type of an option's value, with the range of accepted values (the spec table's
/// "Accepted Values" column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `"true"` or `"false"`.
    Bool,
    /// An integer in `min..=max` (32-bit unless the spec says otherwise).
    Int { min: i64, max: i64 },
    /// `maxStalenessSeconds`: -1 (no max staleness) or a positive integer.
    MaxStaleness,
    /// Any string, including the empty string.
    String,
    /// Any string, kept secret: never echoed in Display, Debug, warnings or errors.
    SecretString,
    /// One of a fixed set of strings (case-sensitive, as the spec lists them).
    OneOf(&'static [&'static str]),
    /// `w`: a non-negative integer or a string.
    WriteConcernW,
    /// `compressors`: a comma-separated list of compressor names.
    Compressors,
    /// `authMechanismProperties`: comma-separated `key:value` pairs.
    KeyValuePairs,
    /// `readPreferenceTags`: comma-separated `key:value` pairs forming one tag set; an
    /// empty value is the empty tag set.
    TagSet,
    /// `appname`: any string of at most 128 bytes (handshake spec, "Client Application Name").
    AppName,
    /// `srvServiceName`: a service name per RFC 6335 section 5.1, up to 62 characters.
    SrvServiceName,
}
