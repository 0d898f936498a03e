use bson::doc;

use super::*;

fn configure(points: &mut FailPoints, command: Document) -> Document {
    points.configure(0, &command)
}

#[test]
fn times_fires_n_times_then_disarms() {
    let mut points = FailPoints::default();
    let reply = configure(
        &mut points,
        doc! { "configureFailPoint": "failCommand", "mode": { "times": 2 },
        "data": { "failCommands": ["find"], "errorCode": 91 } },
    );
    assert_eq!(reply.get_f64("ok").ok(), Some(1.0));
    assert_eq!(points.check(0, "insert", None), None);
    for _ in 0..2 {
        let injection = points.check(0, "find", None).unwrap();
        let error = injection.error.unwrap();
        assert_eq!(error.get_i32("code").ok(), Some(91));
        assert_eq!(error.get_str("codeName").ok(), Some("ShutdownInProgress"));
    }
    assert_eq!(points.check(0, "find", None), None);
    assert!(!points.is_armed(0));
}

#[test]
fn skip_lets_the_first_n_through_then_fires_always() {
    let mut points = FailPoints::default();
    configure(
        &mut points,
        doc! { "configureFailPoint": "failCommand", "mode": { "skip": 1 },
        "data": { "failCommands": ["insert"], "closeConnection": true } },
    );
    assert_eq!(points.check(0, "insert", None), None);
    for _ in 0..3 {
        assert!(points.check(0, "insert", None).unwrap().close_connection);
    }
}

#[test]
fn always_on_until_off() {
    let mut points = FailPoints::default();
    configure(
        &mut points,
        doc! { "configureFailPoint": "failCommand", "mode": "alwaysOn",
        "data": { "failCommands": ["hello", "isMaster"], "blockConnection": true,
                  "blockTimeMS": 50, "appName": "app" } },
    );
    assert_eq!(points.check(0, "hello", None), None, "another application");
    assert_eq!(points.check(0, "hello", Some("other")), None);
    for _ in 0..3 {
        let injection = points.check(0, "isMaster", Some("app")).unwrap();
        assert_eq!(injection.block, Some(Duration::from_millis(50)));
    }
    assert_eq!(points.check(1, "hello", Some("app")), None, "another node");
    let reply = configure(
        &mut points,
        doc! { "configureFailPoint": "failCommand", "mode": "off" },
    );
    assert_eq!(
        reply.get_i64("count").ok(),
        Some(3),
        "the matching commands"
    );
    assert_eq!(points.check(0, "hello", Some("app")), None);
}

#[test]
fn labels_and_write_concern_errors_are_carried() {
    let mut points = FailPoints::default();
    configure(
        &mut points,
        doc! { "configureFailPoint": "failCommand", "mode": { "times": 1 },
        "data": { "failCommands": ["insert"], "errorCode": 1234,
                  "errorLabels": ["SystemOverloadedError"],
                  "writeConcernError": { "code": 91, "errmsg": "shutting down" } } },
    );
    let injection = points.check(0, "insert", None).unwrap();
    let error = injection.error.unwrap();
    assert_eq!(error.get_str("codeName").ok(), Some("Location1234"));
    assert_eq!(
        error.get_array("errorLabels").unwrap(),
        &vec![Bson::String("SystemOverloadedError".into())]
    );
    assert_eq!(
        injection.write_concern_error.unwrap().get_i32("code").ok(),
        Some(91)
    );
}

#[test]
fn bad_configurations_are_refused() {
    let mut points = FailPoints::default();
    for bad in [
        doc! { "configureFailPoint": "other", "mode": "alwaysOn" },
        doc! { "configureFailPoint": "failCommand", "mode": "sometimes",
        "data": { "failCommands": ["find"] } },
        doc! { "configureFailPoint": "failCommand", "mode": "alwaysOn" },
        doc! { "configureFailPoint": "failCommand", "mode": "alwaysOn",
        "data": { "failCommands": ["find"], "blockConnection": true } },
    ] {
        assert_eq!(configure(&mut points, bad).get_f64("ok").ok(), Some(0.0));
    }
    assert!(!points.is_armed(0));
}

#[test]
fn the_application_name_comes_from_the_handshake() {
    let hello = doc! { "hello": 1, "client": { "application": { "name": "probe" } } };
    assert_eq!(handshake_app_name(&hello).as_deref(), Some("probe"));
    assert_eq!(handshake_app_name(&doc! { "hello": 1 }), None);
}
