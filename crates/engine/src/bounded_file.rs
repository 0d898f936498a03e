//! Reading a file the user named (tlsCAFile, tlsCertificateKeyFile, ...) without trusting
//! it: only a regular file, and at most [`MAX_FILE_BYTES`].
//!
//! A path may name `/dev/zero`, a FIFO or a huge file: read whole, it would grow memory
//! without limit (or block forever on a FIFO with no writer). The file's metadata is
//! checked before it is opened (so a FIFO is never opened), and the read itself stops one
//! byte past the limit in case the file grows in between.

use std::io::Read;
use std::path::Path;

/// The largest file read: 1 MiB, far above any certificate bundle or key (the Mozilla
/// root bundle is about 200 KiB).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The bytes of the regular file at `path`, or why it was refused, in words (the caller
/// names the file and its role).
pub(crate) fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let metadata = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !metadata.is_file() {
        return Err(format!(
            "not a regular file (a {}): only regular files are read",
            kind(&metadata)
        ));
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(too_large(metadata.len()));
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    let read = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if read > MAX_FILE_BYTES {
        return Err(too_large(read));
    }
    Ok(bytes)
}

/// The text of the regular file at `path` (UTF-8), at most [`MAX_FILE_BYTES`] long, or why
/// it was refused, in words without the file's content (the caller names the file and its
/// role). A FIFO, a device or a directory is refused from its metadata, without being
/// opened; a file that is not UTF-8 is refused without showing its bytes.
pub fn read_bounded_text(path: &Path) -> Result<String, String> {
    String::from_utf8(read_bounded(path)?).map_err(|_| "the file is not UTF-8 text".to_owned())
}

fn too_large(bytes: u64) -> String {
    format!("the file is larger than the limit of {MAX_FILE_BYTES} bytes (1 MiB): {bytes} bytes or more")
}

/// What a file that is not regular is, for the message.
fn kind(metadata: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let file_type = metadata.file_type();
    if file_type.is_dir() {
        "directory"
    } else if file_type.is_fifo() {
        "FIFO"
    } else if file_type.is_char_device() {
        "character device"
    } else if file_type.is_block_device() {
        "block device"
    } else if file_type.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_fifos_are_refused_without_reading() {
        let error = read_bounded(Path::new("/dev/zero")).unwrap_err();
        assert!(
            error.contains("not a regular file (a character device)"),
            "{error}"
        );
        let dir = std::env::temp_dir().join(format!("bounded-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("fifo");
        let _ = std::fs::remove_file(&fifo);
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let error = read_bounded(&fifo).unwrap_err();
        assert!(error.contains("not a regular file (a FIFO)"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_over_the_limit_is_refused_and_one_at_it_is_read() {
        let dir = std::env::temp_dir().join(format!("bounded-size-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let at_limit = dir.join("at");
        let over = dir.join("over");
        let limit = usize::try_from(MAX_FILE_BYTES).unwrap();
        std::fs::write(&at_limit, vec![b'a'; limit]).unwrap();
        std::fs::write(&over, vec![b'a'; limit + 1]).unwrap();
        assert_eq!(read_bounded(&at_limit).unwrap().len(), limit);
        let error = read_bounded(&over).unwrap_err();
        assert!(
            error.contains("larger than the limit of 1048576 bytes"),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
