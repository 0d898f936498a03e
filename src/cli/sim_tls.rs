//! `sim --tls`: certificates generated at start, written where clients can read them.

use std::path::{Path, PathBuf};

use mongo_topology_sim::{SimTls, SimTlsOptions};

/// What `sim --tls` prepared: the material the nodes serve and where the CA file is.
pub struct PreparedTls {
    /// The generated CA and server certificate.
    pub tls: SimTls,
    /// The CA certificate file (PEM), for `tlsCAFile`.
    pub ca_file: PathBuf,
    /// Client certificate files written (common name, path).
    pub client_files: Vec<(String, PathBuf)>,
}

/// Generates a CA and a server certificate for `localhost`, `host` and `extra_names`
/// (advertised and horizon hosts), asks for client
/// certificates when `request_client_certificates`, and writes the CA and one client
/// certificate per name in `client_names` to `dir` (default: a new directory under the
/// system's temporary directory).
pub fn prepare(
    host: &str,
    extra_names: &[String],
    dir: Option<&Path>,
    request_client_certificates: bool,
    client_names: &[String],
) -> Result<PreparedTls, String> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    for name in std::iter::once(host).chain(extra_names.iter().map(String::as_str)) {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    let tls = SimTls::generate(SimTlsOptions {
        names,
        expired: false,
        request_client_certificates,
        allow_plain: false,
    })
    .map_err(|e| e.to_string())?;
    let dir = match dir {
        Some(dir) => dir.to_owned(),
        None => std::env::temp_dir().join(format!("mongo-topology-sim-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let ca_file = dir.join("ca.pem");
    tls.write_ca_file(&ca_file)
        .map_err(|e| format!("cannot write {}: {e}", ca_file.display()))?;
    let mut client_files = Vec::new();
    for name in client_names {
        let pem = tls
            .client_certificate_pem(name)
            .map_err(|e| e.to_string())?;
        let path = dir.join(format!("client-{name}.pem"));
        std::fs::write(&path, pem).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        client_files.push((name.clone(), path));
    }
    Ok(PreparedTls {
        tls,
        ca_file,
        client_files,
    })
}
