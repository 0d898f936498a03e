use std::collections::HashMap;

use super::*;

fn env_of(pairs: &[(&str, &str)], dockerenv: bool) -> Option<Env> {
    let vars: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    detect_env(&|name: &str| vars.get(name).cloned(), dockerenv)
}

fn sample() -> ClientMetadata {
    ClientMetadata {
        app_name: Some("app".into()),
        os: Os {
            os_type: "Linux".into(),
            name: Some("Debian GNU/Linux 12".into()),
            architecture: Some("x86_64".into()),
        },
        platform: Some("Rust / tokio".into()),
        env: Some(Env {
            name: Some("aws.lambda".into()),
            memory_mb: Some(1024),
            region: Some("us-east-2".into()),
            ..Env::default()
        }),
    }
}

#[test]
fn the_process_metadata_has_every_required_field() {
    let client = client_metadata(Some("reporting"));
    assert_eq!(
        client.get_document("application").unwrap(),
        &doc! { "name": "reporting" }
    );
    let driver = client.get_document("driver").unwrap();
    assert_eq!(driver.get_str("name").unwrap(), "mongo-topology");
    assert_eq!(
        driver.get_str("version").unwrap(),
        env!("CARGO_PKG_VERSION")
    );
    assert!(!client
        .get_document("os")
        .unwrap()
        .get_str("type")
        .unwrap()
        .is_empty());
    assert!(client.get_str("platform").unwrap().contains("Rust"));
    assert!(!client_metadata(None).contains_key("application"));
}

#[test]
fn app_name_is_cut_to_128_bytes_on_a_character_boundary() {
    let long = "é".repeat(100); // 200 bytes
    let client = client_metadata(Some(&long));
    let name = client
        .get_document("application")
        .unwrap()
        .get_str("name")
        .unwrap();
    assert_eq!(name.len(), 128);
    assert_eq!(name, "é".repeat(64));
    let odd = format!("a{}", "é".repeat(100)); // 201 bytes; byte 128 is mid-character
    let client = client_metadata(Some(&odd));
    let name = client
        .get_document("application")
        .unwrap()
        .get_str("name")
        .unwrap();
    assert_eq!(name.len(), 127);
}

#[test]
fn the_process_metadata_fits_with_the_longest_app_name() {
    let client = client_metadata(Some(&"a".repeat(MAX_APP_NAME_BYTES)));
    assert!(client.to_vec().unwrap().len() <= MAX_METADATA_BYTES);
}

#[test]
fn metadata_under_the_limit_is_unchanged() {
    assert_eq!(sample().fitted(MAX_METADATA_BYTES), sample());
}

#[test]
fn step_1_keeps_only_env_name() {
    let mut big = sample();
    big.env.as_mut().unwrap().region = Some("r".repeat(400));
    let fitted = big.fitted(MAX_METADATA_BYTES);
    assert!(fitted.size() <= MAX_METADATA_BYTES);
    assert_eq!(
        fitted.env,
        Some(Env {
            name: Some("aws.lambda".into()),
            ..Env::default()
        })
    );
    assert_eq!(fitted.os, sample().os, "os untouched");
    assert_eq!(fitted.platform, sample().platform);
}

#[test]
fn step_2_keeps_only_os_type() {
    let mut big = sample();
    big.os.name = Some("n".repeat(450));
    let fitted = big.fitted(MAX_METADATA_BYTES);
    assert!(fitted.size() <= MAX_METADATA_BYTES);
    assert_eq!(fitted.os.os_type, "Linux");
    assert_eq!(fitted.os.name, None);
    assert_eq!(fitted.os.architecture, None);
    assert_eq!(
        fitted.env.unwrap().name.as_deref(),
        Some("aws.lambda"),
        "env.name kept"
    );
    assert_eq!(fitted.platform, sample().platform);
}

#[test]
fn step_3_omits_env() {
    let mut big = sample();
    big.env.as_mut().unwrap().name = Some("e".repeat(450));
    let fitted = big.fitted(MAX_METADATA_BYTES);
    assert!(fitted.size() <= MAX_METADATA_BYTES);
    assert_eq!(fitted.env, None);
    assert!(!fitted.to_document().contains_key("env"));
    assert_eq!(fitted.platform, sample().platform, "platform untouched");
}

#[test]
fn step_4_truncates_platform_to_exactly_fit() {
    let mut big = sample();
    big.platform = Some(format!("Rust / tokio {}", "p".repeat(600)));
    let fitted = big.fitted(MAX_METADATA_BYTES);
    assert_eq!(fitted.size(), MAX_METADATA_BYTES);
    let platform = fitted.platform.unwrap();
    assert!(platform.starts_with("Rust / tokio p"), "prefix kept");
    assert!(platform.len() < 500);
    assert_eq!(fitted.env, None);
    assert_eq!(fitted.os.name, None);
}

// The handshake prose test 1 environments.

#[test]
fn valid_aws() {
    let env = env_of(
        &[
            ("AWS_EXECUTION_ENV", "AWS_Lambda_java8"),
            ("AWS_REGION", "us-east-2"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
        ],
        false,
    )
    .unwrap();
    assert_eq!(
        env.to_document().unwrap(),
        doc! { "name": "aws.lambda", "memory_mb": 1024, "region": "us-east-2" }
    );
}

#[test]
fn valid_azure_gcp_vercel() {
    let azure = env_of(&[("FUNCTIONS_WORKER_RUNTIME", "node")], false).unwrap();
    assert_eq!(azure.to_document().unwrap(), doc! { "name": "azure.func" });
    let gcp = env_of(
        &[
            ("K_SERVICE", "servicename"),
            ("FUNCTION_MEMORY_MB", "1024"),
            ("FUNCTION_TIMEOUT_SEC", "60"),
            ("FUNCTION_REGION", "us-central1"),
        ],
        false,
    )
    .unwrap();
    assert_eq!(
        gcp.to_document().unwrap(),
        doc! { "name": "gcp.func", "timeout_sec": 60, "memory_mb": 1024, "region": "us-central1" }
    );
    let vercel = env_of(&[("VERCEL", "1"), ("VERCEL_REGION", "cdg1")], false).unwrap();
    assert_eq!(
        vercel.to_document().unwrap(),
        doc! { "name": "vercel", "region": "cdg1" }
    );
    let vercel_on_aws = env_of(
        &[("VERCEL", "1"), ("AWS_EXECUTION_ENV", "AWS_Lambda_java8")],
        false,
    )
    .unwrap();
    assert_eq!(vercel_on_aws.name.as_deref(), Some("vercel"));
}

#[test]
fn multiple_providers_give_no_env() {
    let env = env_of(
        &[
            ("AWS_EXECUTION_ENV", "AWS_Lambda_java8"),
            ("FUNCTIONS_WORKER_RUNTIME", "node"),
        ],
        false,
    );
    assert_eq!(env, None);
}

#[test]
fn long_region_is_dropped_by_truncation() {
    let mut metadata = sample();
    metadata.env = env_of(
        &[
            ("AWS_EXECUTION_ENV", "AWS_Lambda_java8"),
            ("AWS_REGION", &"a".repeat(512)),
        ],
        false,
    );
    let fitted = metadata.fitted(MAX_METADATA_BYTES);
    assert!(fitted.size() <= MAX_METADATA_BYTES);
    assert_eq!(
        fitted.to_document().get_document("env").unwrap(),
        &doc! { "name": "aws.lambda" }
    );
}

#[test]
fn wrong_types_and_non_lambda_aws_are_omitted() {
    let env = env_of(
        &[
            ("AWS_EXECUTION_ENV", "AWS_Lambda_java8"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "big"),
        ],
        false,
    )
    .unwrap();
    assert_eq!(env.to_document().unwrap(), doc! { "name": "aws.lambda" });
    assert_eq!(env_of(&[("AWS_EXECUTION_ENV", "EC2")], false), None);
}

#[test]
fn container_and_faas_are_both_reported() {
    let env = env_of(
        &[
            ("AWS_EXECUTION_ENV", "AWS_Lambda_java8"),
            ("AWS_REGION", "us-east-2"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
            ("KUBERNETES_SERVICE_HOST", "1"),
        ],
        true,
    )
    .unwrap();
    assert_eq!(
        env.to_document().unwrap(),
        doc! {
            "name": "aws.lambda", "memory_mb": 1024, "region": "us-east-2",
            "container": { "runtime": "docker", "orchestrator": "kubernetes" },
        }
    );
}
