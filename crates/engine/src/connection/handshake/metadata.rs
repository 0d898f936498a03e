//! The `client` document of the initial handshake (MongoDB Handshake spec): driver, OS,
//! platform, application name and execution environment, kept within the size limits.

use std::sync::OnceLock;

use bson::{doc, Document};

/// The largest `client` document, BSON overhead included.
pub(crate) const MAX_METADATA_BYTES: usize = 512;
/// The longest `client.application.name`, in bytes of UTF-8.
pub(crate) const MAX_APP_NAME_BYTES: usize = 128;

/// The `client` metadata document for a handshake: `application.name` (when given, cut to
/// 128 bytes), `driver` (`mongo-topology` and this crate's version), `os` (type, name,
/// architecture), `platform`, and `env` (FaaS provider and container, when detected).
/// When the document would exceed 512 bytes it is reduced in the spec's order: `env` fields
/// but `env.name`, then `os` fields but `os.type`, then `env` entirely, then `platform` is
/// truncated.
pub(crate) fn client_metadata(app_name: Option<&str>) -> Document {
    ClientMetadata::from_process(app_name)
        .fitted(MAX_METADATA_BYTES)
        .to_document()
}

/// The fields of the `client` document, before they are laid out as BSON.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClientMetadata {
    pub(crate) app_name: Option<String>,
    pub(crate) os: Os,
    pub(crate) platform: Option<String>,
    pub(crate) env: Option<Env>,
}

/// `client.os`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Os {
    pub(crate) os_type: String,
    pub(crate) name: Option<String>,
    pub(crate) architecture: Option<String>,
}

/// `client.env`: the FaaS provider and container runtime.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Env {
    pub(crate) name: Option<String>,
    pub(crate) timeout_sec: Option<i32>,
    pub(crate) memory_mb: Option<i32>,
    pub(crate) region: Option<String>,
    pub(crate) container_runtime: Option<String>,
    pub(crate) orchestrator: Option<String>,
}

impl ClientMetadata {
    /// The metadata of this process: its OS, its environment variables and `/.dockerenv`.
    fn from_process(app_name: Option<&str>) -> ClientMetadata {
        let variable = |name: &str| std::env::var(name).ok();
        let dockerenv = std::path::Path::new("/.dockerenv").exists();
        ClientMetadata {
            app_name: app_name.map(|name| truncate(name, MAX_APP_NAME_BYTES).to_owned()),
            os: Os {
                os_type: os_type().to_owned(),
                name: os_name().clone(),
                architecture: Some(std::env::consts::ARCH.to_owned()),
            },
            platform: Some(
                concat!("Rust (MSRV ", env!("CARGO_PKG_RUST_VERSION"), ") / tokio").to_owned(),
            ),
            env: detect_env(&variable, dockerenv),
        }
    }

    /// The document, field by field as the spec lays it out.
    pub(crate) fn to_document(&self) -> Document {
        let mut client = Document::new();
        if let Some(name) = &self.app_name {
            client.insert("application", doc! { "name": name });
        }
        client.insert(
            "driver",
            doc! { "name": "mongo-topology", "version": env!("CARGO_PKG_VERSION") },
        );
        let mut os = doc! { "type": &self.os.os_type };
        if let Some(name) = &self.os.name {
            os.insert("name", name);
        }
        if let Some(architecture) = &self.os.architecture {
            os.insert("architecture", architecture);
        }
        client.insert("os", os);
        if let Some(platform) = &self.platform {
            client.insert("platform", platform);
        }
        if let Some(env) = self.env.as_ref().and_then(Env::to_document) {
            client.insert("env", env);
        }
        client
    }

    fn size(&self) -> usize {
        self.to_document()
            .to_vec()
            .map(|bytes| bytes.len())
            .unwrap_or(usize::MAX)
    }

    /// This metadata reduced until its document is at most `limit` bytes, by the spec's
    /// steps in order, stopping as soon as it fits.
    pub(crate) fn fitted(mut self, limit: usize) -> ClientMetadata {
        // 1. Omit fields from env except env.name.
        if self.size() > limit {
            if let Some(env) = &mut self.env {
                *env = Env {
                    name: env.name.take(),
                    ..Env::default()
                };
            }
        }
        // 2. Omit fields from os except os.type.
        if self.size() > limit {
            self.os.name = None;
            self.os.architecture = None;
        }
        // 3. Omit the env document entirely.
        if self.size() > limit {
            self.env = None;
        }
        // 4. Truncate platform.
        let size = self.size();
        if size > limit {
            if let Some(platform) = &mut self.platform {
                let keep = platform.len().saturating_sub(size - limit);
                let kept_len = truncate(platform, keep).len();
                platform.truncate(kept_len);
            }
        }
        self
    }
}

impl Env {
    /// `None` when no field is populated (the spec omits an empty `env`).
    fn to_document(&self) -> Option<Document> {
        let mut env = Document::new();
        if let Some(name) = &self.name {
            env.insert("name", name);
        }
        if let Some(timeout) = self.timeout_sec {
            env.insert("timeout_sec", timeout);
        }
        if let Some(memory) = self.memory_mb {
            env.insert("memory_mb", memory);
        }
        if let Some(region) = &self.region {
            env.insert("region", region);
        }
        let mut container = Document::new();
        if let Some(runtime) = &self.container_runtime {
            container.insert("runtime", runtime);
        }
        if let Some(orchestrator) = &self.orchestrator {
            container.insert("orchestrator", orchestrator);
        }
        if !container.is_empty() {
            env.insert("container", container);
        }
        (!env.is_empty()).then_some(env)
    }
}

/// The FaaS providers, each with the variables that identify it (any one populated).
const FAAS_PROVIDERS: [(&str, &[&str]); 4] = [
    (
        "aws.lambda",
        &["AWS_EXECUTION_ENV", "AWS_LAMBDA_RUNTIME_API"],
    ),
    ("azure.func", &["FUNCTIONS_WORKER_RUNTIME"]),
    ("gcp.func", &["K_SERVICE", "FUNCTION_NAME"]),
    ("vercel", &["VERCEL"]),
];

/// `client.env` from the environment variables (read through `variable`) and whether
/// `/.dockerenv` exists, per the spec's FaaS and container tables. `None` when nothing is
/// detected.
pub(crate) fn detect_env(
    variable: &dyn Fn(&str) -> Option<String>,
    dockerenv: bool,
) -> Option<Env> {
    let populated = |name: &str| {
        let value = variable(name).filter(|value| !value.is_empty());
        // AWS_EXECUTION_ENV only counts when it names a Lambda runtime.
        match name {
            "AWS_EXECUTION_ENV" => value.filter(|v| v.starts_with("AWS_Lambda_")),
            _ => value,
        }
    };
    let detected: Vec<&str> = FAAS_PROVIDERS
        .iter()
        .filter(|(_, variables)| variables.iter().any(|v| populated(v).is_some()))
        .map(|(name, _)| *name)
        .collect();
    let provider = match detected.as_slice() {
        [one] => Some(*one),
        // Vercel runs on AWS Lambda: the one combination with a winner.
        [_, _] if detected.contains(&"vercel") && detected.contains(&"aws.lambda") => {
            Some("vercel")
        }
        _ => None,
    };
    let int = |name: &str| populated(name).and_then(|v| v.parse::<i32>().ok());
    let mut env = Env {
        name: provider.map(str::to_owned),
        ..Env::default()
    };
    match provider {
        Some("aws.lambda") => {
            env.region = populated("AWS_REGION");
            env.memory_mb = int("AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
        }
        Some("gcp.func") => {
            env.memory_mb = int("FUNCTION_MEMORY_MB");
            env.timeout_sec = int("FUNCTION_TIMEOUT_SEC");
            env.region = populated("FUNCTION_REGION");
        }
        Some("vercel") => env.region = populated("VERCEL_REGION"),
        _ => {}
    }
    if dockerenv {
        env.container_runtime = Some("docker".to_owned());
    }
    if populated("KUBERNETES_SERVICE_HOST").is_some() {
        env.orchestrator = Some("kubernetes".to_owned());
    }
    (env != Env::default()).then_some(env)
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a character
/// boundary.
fn truncate(text: &str, max_bytes: usize) -> &str {
    let mut end = max_bytes.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `os.type`, as `uname -s` would say it.
fn os_type() -> &'static str {
    match std::env::consts::OS {
        "linux" | "android" => "Linux",
        "macos" | "ios" => "Darwin",
        "windows" => "Windows",
        "freebsd" | "openbsd" | "netbsd" | "dragonfly" => "BSD",
        "" => "unknown",
        other => other,
    }
}

/// `os.name`: the distribution's `PRETTY_NAME` from `/etc/os-release`, read once.
fn os_name() -> &'static Option<String> {
    static NAME: OnceLock<Option<String>> = OnceLock::new();
    NAME.get_or_init(|| {
        let release =
            crate::bounded_file::read_bounded_text(std::path::Path::new("/etc/os-release")).ok()?;
        release.lines().find_map(|line| {
            let value = line.strip_prefix("PRETTY_NAME=")?;
            Some(value.trim_matches('"').to_owned()).filter(|name| !name.is_empty())
        })
    })
}

#[cfg(test)]
#[path = "metadata_tests.rs"]
mod tests;
