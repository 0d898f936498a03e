//! The reply reader on well-formed and hostile replies.

use bson::oid::ObjectId;
use bson::{doc, Bson};

use super::*;

#[test]
fn ok_is_one_in_any_numeric_form_or_true() {
    for reply in [
        doc! { "ok": 1.0 },
        doc! { "ok": 1 },
        doc! { "ok": 1i64 },
        doc! { "ok": true },
    ] {
        assert_eq!(ok(&reply), Ok(true), "{reply}");
        assert!(succeeded(&reply));
    }
}

#[test]
fn ok_zero_other_numbers_nan_and_missing_are_failures() {
    for reply in [
        doc! { "ok": 0.0 },
        doc! { "ok": 0 },
        doc! { "ok": 0i64 },
        doc! { "ok": false },
        doc! { "ok": 2 },
        doc! { "ok": 1.5 },
        doc! { "ok": f64::NAN },
        doc! { "ok": f64::INFINITY },
        doc! { "isWritablePrimary": true },
    ] {
        assert_eq!(ok(&reply), Ok(false), "{reply}");
        assert!(!succeeded(&reply));
    }
}

#[test]
fn an_ok_of_another_type_is_malformed_and_not_a_success() {
    for reply in [
        doc! { "ok": "1" },
        doc! { "ok": [1] },
        doc! { "ok": Bson::Null },
        doc! { "ok": { "ok": 1 } },
    ] {
        let error = ok(&reply).expect_err("malformed");
        assert_eq!(error.field, "ok", "{reply}");
        assert!(!succeeded(&reply));
    }
}

#[test]
fn code_accepts_int32_int64_and_integral_doubles_in_range() {
    assert_eq!(code(&doc! { "code": 10107 }), Some(10107));
    assert_eq!(code(&doc! { "code": 10107i64 }), Some(10107));
    assert_eq!(code(&doc! { "code": 10107.0 }), Some(10107));
    assert_eq!(code(&doc! { "code": -1.0 }), Some(-1));
    assert_eq!(code(&doc! { "code": f64::from(i32::MAX) }), Some(i32::MAX));
    for holder in [
        doc! {},
        doc! { "code": Bson::Null },
        doc! { "code": "10107" },
        doc! { "code": 10107.5 },
        doc! { "code": f64::NAN },
        doc! { "code": f64::INFINITY },
        doc! { "code": 1e300 },
        doc! { "code": i64::MAX },
        doc! { "code": f64::from(i32::MAX) + 1.0 },
        doc! { "code": [10107] },
    ] {
        assert_eq!(code(&holder), None, "{holder}");
    }
}

#[test]
fn code_name_is_a_bounded_string() {
    assert_eq!(
        code_name(&doc! { "codeName": "NotWritablePrimary" }).as_deref(),
        Some("NotWritablePrimary")
    );
    assert_eq!(code_name(&doc! { "codeName": 10107 }), None);
    assert_eq!(code_name(&doc! {}), None);
    let huge = "N".repeat(1 << 20);
    let kept = code_name(&doc! { "codeName": huge }).expect("a string");
    assert_eq!(kept.len(), MAX_CODE_NAME_BYTES);
}

#[test]
fn errmsg_is_a_bounded_string_and_falls_back_to_legacy_err() {
    assert_eq!(
        error_message(&doc! { "errmsg": "not primary" }).as_deref(),
        Some("not primary")
    );
    assert_eq!(
        error_message(&doc! { "$err": "not master and slaveOk=false" }).as_deref(),
        Some("not master and slaveOk=false")
    );
    assert_eq!(error_message(&doc! { "errmsg": 5 }), None);
    assert_eq!(error_message(&doc! { "errmsg": Bson::Null }), None);
    assert_eq!(error_message(&doc! {}), None);
    let huge = "x".repeat(10 * 1024 * 1024);
    let kept = error_message(&doc! { "errmsg": huge }).expect("a string");
    assert_eq!(kept.len(), MAX_MESSAGE_BYTES);
}

#[test]
fn a_cut_never_splits_a_character() {
    // 3-byte characters: MAX_MESSAGE_BYTES (4096) is not a multiple of 3.
    let wide = "€".repeat(MAX_MESSAGE_BYTES);
    let kept = error_message(&doc! { "errmsg": wide }).expect("a string");
    assert!(kept.len() <= MAX_MESSAGE_BYTES);
    assert!(kept.len() > MAX_MESSAGE_BYTES - 3);
    assert!(kept.chars().all(|c| c == '€'));
}

#[test]
fn error_labels_keep_bounded_strings_only() {
    assert_eq!(
        error_labels(&doc! { "errorLabels": ["RetryableWriteError", 5, Bson::Null, "B"] }),
        vec!["RetryableWriteError".to_string(), "B".to_string()]
    );
    assert!(error_labels(&doc! { "errorLabels": "RetryableWriteError" }).is_empty());
    assert!(error_labels(&doc! {}).is_empty());
    let too_long = "L".repeat(MAX_LABEL_BYTES + 1);
    assert!(error_labels(&doc! { "errorLabels": [too_long] }).is_empty());
    let many: Vec<Bson> = (0..100_000)
        .map(|i| Bson::String(format!("L{i}")))
        .collect();
    assert_eq!(
        error_labels(&doc! { "errorLabels": many }).len(),
        MAX_ERROR_LABELS
    );
}

#[test]
fn topology_version_is_read_or_named_as_malformed() {
    let process_id = ObjectId::new();
    for counter in [Bson::Int64(7), Bson::Int32(7), Bson::Double(7.0)] {
        let reply = doc! { "topologyVersion": { "processId": process_id, "counter": counter } };
        assert_eq!(
            topology_version(&reply),
            Ok(Some(TopologyVersion {
                process_id,
                counter: 7
            }))
        );
    }
    assert_eq!(topology_version(&doc! {}), Ok(None));
    assert_eq!(
        topology_version(&doc! { "topologyVersion": Bson::Null }),
        Ok(None)
    );
    let cases = [
        (doc! { "topologyVersion": 1 }, "topologyVersion"),
        (
            doc! { "topologyVersion": { "counter": 1i64 } },
            "topologyVersion.processId",
        ),
        (
            doc! { "topologyVersion": { "processId": "abc", "counter": 1i64 } },
            "topologyVersion.processId",
        ),
        (
            doc! { "topologyVersion": { "processId": process_id } },
            "topologyVersion.counter",
        ),
        (
            doc! { "topologyVersion": { "processId": process_id, "counter": "1" } },
            "topologyVersion.counter",
        ),
        (
            doc! { "topologyVersion": { "processId": process_id, "counter": f64::NAN } },
            "topologyVersion.counter",
        ),
    ];
    for (reply, field) in cases {
        let error = topology_version(&reply).expect_err("malformed");
        assert_eq!(error.field, field, "{reply}");
    }
}

#[test]
fn a_failed_reply_gives_every_field() {
    let process_id = ObjectId::new();
    let reply = doc! {
        "ok": 0.0, "errmsg": "not primary", "code": 10107, "codeName": "NotWritablePrimary",
        "errorLabels": ["RetryableWriteError", 5],
        "topologyVersion": { "processId": process_id, "counter": 3i64 },
    };
    let failure = CommandFailure::from_reply(&reply).expect("ok: 0");
    assert_eq!(
        failure,
        CommandFailure {
            code: Some(10107),
            code_name: Some("NotWritablePrimary".into()),
            message: "not primary".into(),
            labels: vec!["RetryableWriteError".into()],
            topology_version: Some(TopologyVersion {
                process_id,
                counter: 3
            }),
        }
    );
    assert!(failure.has_label("RetryableWriteError"));
    assert_eq!(
        failure.to_string(),
        "not primary (code 10107, NotWritablePrimary)"
    );
}

#[test]
fn missing_or_wrongly_typed_fields_leave_an_empty_failure() {
    for reply in [
        doc! {},
        doc! { "ok": 0, "code": "x", "codeName": 1, "errmsg": [], "errorLabels": {},
        "topologyVersion": "new" },
        doc! { "ok": "no" },
    ] {
        assert_eq!(
            CommandFailure::from_reply(&reply),
            Some(CommandFailure::default()),
            "{reply}"
        );
    }
    assert_eq!(CommandFailure::new(None, "oops").to_string(), "oops");
    assert_eq!(
        CommandFailure::new(Some(5), "oops").to_string(),
        "oops (code 5)"
    );
}

#[test]
fn a_write_concern_error_rides_on_ok_one() {
    let reply = doc! {
        "ok": 1, "errorLabels": ["RetryableWriteError"],
        "writeConcernError": { "code": 91, "codeName": "ShutdownInProgress", "errmsg": "bye" },
    };
    let failure = CommandFailure::from_reply(&reply).expect("a write concern error");
    assert_eq!(failure.code, Some(91));
    assert_eq!(failure.code_name.as_deref(), Some("ShutdownInProgress"));
    assert_eq!(failure.message, "bye");
    assert_eq!(failure.labels, vec!["RetryableWriteError".to_string()]);
    assert_eq!(CommandFailure::from_reply(&doc! { "ok": 1 }), None);
    assert_eq!(
        CommandFailure::from_reply(&doc! { "ok": 1, "writeConcernError": "bad" }),
        None
    );
    assert_eq!(
        CommandFailure::from_reply(&doc! { "ok": 1, "writeErrors": [{ "code": 10107 }] }),
        None
    );
}
