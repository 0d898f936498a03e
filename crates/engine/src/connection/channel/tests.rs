//! The channel's own helpers: timeouts and request ids.

use super::*;

#[test]
fn zero_timeouts_mean_none() {
    assert_eq!(non_zero(Some(Duration::ZERO)), None);
    assert_eq!(
        non_zero(Some(Duration::from_millis(1))),
        Some(Duration::from_millis(1))
    );
    assert_eq!(non_zero(None), None);
}

#[test]
fn request_ids_are_never_zero_and_differ() {
    let a = next_request_id();
    let b = next_request_id();
    assert_ne!(a, 0);
    assert_ne!(a, b);
}
