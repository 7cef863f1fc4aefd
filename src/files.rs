//! Atomic file writes shared by keyset files and revocation snapshots.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::Error;

/// An I/O error on `path`, naming the file and keeping the operating
/// system's message.
pub(crate) fn file_error(path: &Path, e: &io::Error) -> Error {
    Error::File {
        path: path.to_path_buf(),
        kind: e.kind(),
        message: e.to_string(),
    }
}

/// [`write_atomic`], with an error that names the file.
#[cfg_attr(not(feature = "json"), allow(dead_code))]
pub(crate) fn save(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_atomic(path, bytes).map_err(|e| file_error(path, &e))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder
/// (created exclusively, mode 0600 on Unix), fsync, rename over `path`, then
/// fsync of the folder. On any failure the previous file is left intact and
/// the temporary file is removed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix)
        .map_err(|_| io::Error::other("OS random number generator failed"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", u64::from_le_bytes(suffix)));
    let tmp = dir.join(tmp_name);

    let result = (|| {
        let mut file = create_private(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        // Make the rename itself durable. Some platforms cannot open folders;
        // the data is already synced, so that is not an error.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates a new file that only its owner can read or write.
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tessera-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn replaces_content_and_leaves_no_temporary_files() {
        let dir = scratch("replace");
        let path = dir.join("state.bin");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failure_leaves_the_previous_file_intact() {
        let dir = scratch("fail");
        let path = dir.join("state.bin");
        write_atomic(&path, b"keep me").unwrap();
        // Renaming a file over a non-empty folder fails after the temp file is written.
        let blocked = dir.join("blocked");
        fs::create_dir_all(blocked.join("inner")).unwrap();
        assert!(write_atomic(&blocked, b"new").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"keep me");
        let leftovers = fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 2, "only the file and the folder remain");
        fs::remove_dir_all(&dir).unwrap();
    }
}
