//! BSON nesting limit. Decoding a document into [`bson::Document`] recurses once per
//! nesting level, so a message of a few megabytes of nested documents would overflow the
//! stack and abort the process. This walks the raw bytes iteratively first and rejects
//! documents nested deeper than [`MAX_BSON_DEPTH`], like a server's BSON depth limit.

use bson::{RawBsonRef, RawDocument};

use super::error::WireError;

/// The deepest nesting of documents and arrays accepted (the top-level document is 1).
pub const MAX_BSON_DEPTH: usize = 200;

/// The nested value to descend into, if `child` contains documents.
fn container(child: RawBsonRef<'_>) -> Option<RawBsonRef<'_>> {
    match child {
        RawBsonRef::Document(_) | RawBsonRef::Array(_) => Some(child),
        RawBsonRef::JavaScriptCodeWithScope(code) => Some(RawBsonRef::Document(code.scope)),
        _ => None,
    }
}

/// Checks that `bytes` is one structurally valid BSON document nested at most
/// [`MAX_BSON_DEPTH`] levels deep, without recursion.
pub fn check_depth(bytes: &[u8], what: &'static str) -> Result<(), WireError> {
    let invalid = |reason: String| WireError::InvalidBson { what, reason };
    let root = RawDocument::from_bytes(bytes).map_err(|e| invalid(e.to_string()))?;
    let mut pending: Vec<(RawBsonRef<'_>, usize)> = vec![(RawBsonRef::Document(root), 1)];
    while let Some((value, depth)) = pending.pop() {
        if depth > MAX_BSON_DEPTH {
            return Err(invalid(format!(
                "nested deeper than {MAX_BSON_DEPTH} levels"
            )));
        }
        match value {
            RawBsonRef::Document(doc) => {
                for element in doc {
                    let (_, child) = element.map_err(|e| invalid(e.to_string()))?;
                    if let Some(next) = container(child) {
                        pending.push((next, depth + 1));
                    }
                }
            }
            RawBsonRef::Array(array) => {
                for element in array {
                    let child = element.map_err(|e| invalid(e.to_string()))?;
                    if let Some(next) = container(child) {
                        pending.push((next, depth + 1));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document nested `depth` levels deep: {a: {a: ... {}}}, built in linear time.
    fn nested(depth: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 * depth);
        for level in (1..depth).rev() {
            // The document at this level holds `level` more nested documents.
            let size = (5 + 8 * level) as i32;
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&[0x03, b'a', 0]);
        }
        out.extend_from_slice(&[5, 0, 0, 0, 0]);
        out.extend(std::iter::repeat_n(0u8, depth.saturating_sub(1)));
        out
    }

    #[test]
    fn accepts_up_to_the_limit_and_rejects_beyond() {
        assert!(check_depth(&nested(1), "t").is_ok());
        assert!(
            bson::Document::from_reader(&nested(3)[..]).is_ok(),
            "helper builds valid BSON"
        );
        assert!(check_depth(&nested(MAX_BSON_DEPTH), "t").is_ok());
        assert!(check_depth(&nested(MAX_BSON_DEPTH + 1), "t").is_err());
        // Deep enough to overflow a recursive decoder: rejected without recursion.
        assert!(check_depth(&nested(200_000), "t").is_err());
    }

    #[test]
    fn arrays_count_as_levels() {
        let doc = bson::doc! { "a": [[[1]]] };
        let bytes = doc.to_vec().unwrap();
        assert!(check_depth(&bytes, "t").is_ok());
    }
}
