//! The timeline's picture in a real browser: `timeline --svg` and `timeline --html` rendered
//! by headless Chromium, the screenshot decoded and checked (the expected size, not blank,
//! the colours of a primary bar, a secondary bar and a failed-check mark present). A lane
//! whose address carries markup and an escape sequence shows that server text is escaped.
//!
//! Skipped (with the reason printed) only when `chromium` is absent and
//! `MONGO_TOPOLOGY_REQUIRE_CHROMIUM` is unset; `scripts/test` installs it and sets that.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 600;

/// A killed primary: a:27017 primary, its check fails, b:27017 is elected.
const RECORDING: &str = r#"{"format":"mongo-topology-recording","version":1,"part":0,"started_wall_us":1796622585059725,"settings":{"seeds":["a:27017"],"replicaSet":"rs0","heartbeatFrequencyMS":10000,"minHeartbeatFrequencyMS":500,"connectTimeoutMS":10000,"socketTimeoutMS":null,"serverSelectionTimeoutMS":30000,"serverMonitoringMode":"poll"}}
{"type":"sdam","t_us":0,"event":"topology_opening"}
{"type":"sdam","t_us":10,"event":"server_opening","address":"a:27017"}
{"type":"hello","t_us":30000,"address":"a:27017","awaited":false,"duration_us":900,"reply":{"isWritablePrimary":true,"setName":"rs0","hosts":["a:27017","b:27017","bad&<x>\"\u001b[31m:27017"],"ok":1.0}}
{"type":"sdam","t_us":30001,"event":"server_description_changed","address":"a:27017","previous":{"type":"Unknown","error":null},"new":{"type":"RSPrimary","error":null}}
{"type":"sdam","t_us":30002,"event":"topology_description_changed","previous":{"type":"ReplicaSetNoPrimary","setName":"rs0","server_count":1,"primary":null},"new":{"type":"ReplicaSetWithPrimary","setName":"rs0","server_count":3,"primary":"a:27017"}}
{"type":"sdam","t_us":30003,"event":"server_opening","address":"b:27017"}
{"type":"sdam","t_us":30004,"event":"server_opening","address":"bad&<x>\"\u001b[31m:27017"}
{"type":"hello","t_us":40000,"address":"b:27017","awaited":false,"duration_us":900,"reply":{"isWritablePrimary":false,"secondary":true,"setName":"rs0","ok":1.0}}
{"type":"sdam","t_us":40001,"event":"server_description_changed","address":"b:27017","previous":{"type":"Unknown","error":null},"new":{"type":"RSSecondary","error":null}}
{"type":"check_failed","t_us":45000,"address":"bad&<x>\"\u001b[31m:27017","awaited":false,"duration_us":2000,"cause":"dns","code":null,"message":"no such host"}
{"type":"hello","t_us":10030000,"address":"a:27017","awaited":false,"duration_us":900,"reply":{"isWritablePrimary":true,"setName":"rs0","ok":1.0}}
{"type":"check_failed","t_us":20032000,"address":"a:27017","awaited":false,"duration_us":2000,"cause":"connect","code":null,"message":"connection refused"}
{"type":"sdam","t_us":20032001,"event":"server_description_changed","address":"a:27017","previous":{"type":"RSPrimary","error":null},"new":{"type":"Unknown","error":{"cause":"connect","code":null,"message":"connection refused"}}}
{"type":"sdam","t_us":20032002,"event":"topology_description_changed","previous":{"type":"ReplicaSetWithPrimary","setName":"rs0","server_count":3,"primary":"a:27017"},"new":{"type":"ReplicaSetNoPrimary","setName":"rs0","server_count":3,"primary":null}}
{"type":"check_failed","t_us":20540000,"address":"a:27017","awaited":false,"duration_us":1500,"cause":"connect","code":null,"message":"connection refused"}
{"type":"hello","t_us":31000000,"address":"b:27017","awaited":false,"duration_us":900,"reply":{"isWritablePrimary":true,"setName":"rs0","ok":1.0}}
{"type":"sdam","t_us":31000001,"event":"server_description_changed","address":"b:27017","previous":{"type":"RSSecondary","error":null},"new":{"type":"RSPrimary","error":null}}
{"type":"sdam","t_us":31000002,"event":"topology_description_changed","previous":{"type":"ReplicaSetNoPrimary","setName":"rs0","server_count":3,"primary":null},"new":{"type":"ReplicaSetWithPrimary","setName":"rs0","server_count":3,"primary":"b:27017"}}
{"type":"rtt","t_us":36000000,"address":"b:27017","sample_us":300}
"#;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"].iter().find_map(|name| {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .ok()?;
        let path = String::from_utf8(found.stdout).ok()?;
        let path = path.trim();
        (found.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
    })
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cli-timeline-chromium-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn timeline(args: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_mongo-topology"))
        .arg("timeline")
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Renders `page` headless and returns the screenshot's RGBA pixels.
fn screenshot(chromium: &Path, page: &Path, dir: &Path) -> Vec<[u8; 4]> {
    let png = page.with_extension("png");
    let profile = dir.join(format!(
        "profile-{}",
        page.extension().unwrap().to_string_lossy()
    ));
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--screenshot={}", png.display()),
            &format!("--window-size={WIDTH},{HEIGHT}"),
            &format!("file://{}", page.display()),
        ])
        .output()
        .unwrap();
    assert!(
        png.is_file(),
        "chromium made no screenshot: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buffer).unwrap();
    assert_eq!(
        (frame.width, frame.height),
        (WIDTH, HEIGHT),
        "{}",
        png.display()
    );
    let bytes = &buffer[..frame.buffer_size()];
    match frame.color_type {
        png::ColorType::Rgba => bytes
            .chunks_exact(4)
            .map(|p| [p[0], p[1], p[2], p[3]])
            .collect(),
        png::ColorType::Rgb => bytes
            .chunks_exact(3)
            .map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => panic!("unexpected PNG colour type {other:?}"),
    }
}

/// How many pixels are within a small distance of `rgb`.
fn near(pixels: &[[u8; 4]], rgb: [u8; 3]) -> usize {
    pixels
        .iter()
        .filter(|p| (0..3).all(|i| p[i].abs_diff(rgb[i]) <= 12))
        .count()
}

fn assert_drawn(pixels: &[[u8; 4]], what: &str) {
    let colours: HashSet<[u8; 4]> = pixels.iter().copied().collect();
    assert!(
        colours.len() > 20,
        "{what}: only {} colours: blank",
        colours.len()
    );
    let white = near(pixels, [255, 255, 255]);
    assert!(white < pixels.len() * 97 / 100, "{what}: nearly all white");
    assert!(
        near(pixels, [0x2e, 0x7d, 0x32]) > 200,
        "{what}: a primary bar"
    );
    assert!(
        near(pixels, [0x15, 0x65, 0xc0]) > 200,
        "{what}: a secondary bar"
    );
    assert!(
        near(pixels, [0xd5, 0x00, 0x00]) > 10,
        "{what}: a failed-check mark"
    );
}

#[test]
fn the_timeline_picture_renders_in_chromium() {
    let Some(chromium) = chromium() else {
        if std::env::var_os("MONGO_TOPOLOGY_REQUIRE_CHROMIUM").is_some() {
            panic!("chromium is required (MONGO_TOPOLOGY_REQUIRE_CHROMIUM is set) but absent");
        }
        eprintln!("SKIPPED: chromium is not installed (scripts/test installs it)");
        return;
    };
    let dir = scratch();
    let recording = dir.join("killed.ndjson");
    std::fs::write(&recording, RECORDING).unwrap();
    let (svg, html) = (dir.join("t.svg"), dir.join("t.html"));
    timeline(&[recording.to_str().unwrap(), "--svg", svg.to_str().unwrap()]);
    timeline(&[
        recording.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);

    // The server's text is escaped: no raw markup, no escape character.
    for page in [&svg, &html] {
        let text = std::fs::read_to_string(page).unwrap();
        assert!(!text.contains("<x>"), "{}", page.display());
        assert!(!text.contains('\u{1b}'), "{}", page.display());
        assert!(
            text.contains("bad&amp;&lt;x&gt;&quot;"),
            "{}",
            page.display()
        );
    }

    assert_drawn(&screenshot(&chromium, &svg, &dir), "the SVG");
    assert_drawn(&screenshot(&chromium, &html, &dir), "the HTML page");
    let _ = std::fs::remove_dir_all(&dir);
}
