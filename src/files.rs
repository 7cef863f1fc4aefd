//! Atomic file writes shared by keyset files and revocation snapshots, and
//! the lock that keeps two editors of one keyset from losing an update.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// Reads at most `max + 1` bytes of `path`, so that a caller can refuse a
/// file longer than `max` without ever reading it whole. Errors name the file.
pub(crate) fn read_at_most(path: &Path, max: usize) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|file| file.take(limit).read_to_end(&mut bytes))
        .map_err(|e| file_error(path, &e))?;
    Ok(bytes)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder
/// (created exclusively, mode 0600 on Unix), fsync, rename over `path`, then
/// fsync of the folder. On any failure the previous file is left intact and
/// the temporary file is removed.
///
/// If `path` is a symbolic link, the file it points to is replaced (in that
/// file's own folder) and the link stays a link: see [`resolve_links`].
/// Errors name the file: `path`, or the file it links to once resolved.
pub(crate) fn save(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let target = resolve_links(path).map_err(|e| file_error(path, &e))?;
    replace(&target, bytes).map_err(|e| file_error(&target, &e))
}

/// The most symbolic links followed from one path: Linux's limit
/// (`MAXSYMLINKS`). A longer chain is almost certainly a loop.
const MAX_LINKS: usize = 40;

/// The file a write to `path` must replace: `path` itself unless it is a
/// symbolic link, else the file the link finally points to, so that
/// replacing it updates what every reader of the link sees (replacing the
/// link itself would turn it into a plain file and leave its target stale).
///
/// A link to an existing file is resolved by the OS (`canonicalize`, which
/// also refuses loops and over-long chains as the OS does); a dangling link
/// is followed one step at a time, at most [`MAX_LINKS`] steps, to the path
/// where the file is to be created.
pub(crate) fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    // One more round than links: a chain of exactly `MAX_LINKS` resolves.
    for _ in 0..=MAX_LINKS {
        let is_link = fs::symlink_metadata(&current).is_ok_and(|m| m.file_type().is_symlink());
        if !is_link {
            return Ok(current);
        }
        match fs::canonicalize(&current) {
            Ok(target) => return Ok(target),
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        // A relative link is relative to the folder holding it.
        let link = fs::read_link(&current)?;
        current = match current.parent() {
            Some(dir) => dir.join(link),
            None => link,
        };
    }
    Err(io::Error::other(format!(
        "more than {MAX_LINKS} levels of symbolic links"
    )))
}

/// [`save`] on a path that is not a symbolic link.
fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
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

/// How long an editor waits for another editor of the same keyset to finish
/// before giving up. An edit takes milliseconds; this is generous.
#[cfg_attr(not(feature = "json"), allow(dead_code))]
pub(crate) const LOCK_WAIT: Duration = Duration::from_secs(10);

/// How often a waiting editor tries the lock again.
const LOCK_POLL: Duration = Duration::from_millis(10);

/// An exclusive advisory lock for editing one file, released when dropped
/// (closing the lock file releases it, also if the process dies).
#[cfg_attr(not(feature = "json"), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct EditLock {
    _file: File,
}

/// The lock file for editing `target`: `NAME.lock` next to it.
///
/// The lock is not taken on `target` itself because every save replaces
/// `target` with a new file (rename): an editor that opened the old file
/// and waited on its lock would, once the first editor is done, hold a lock
/// on a file nobody else looks at, while a third editor locks the new one.
/// The lock file is never replaced or removed, so everyone who edits
/// `target` (under whatever name or link) locks the same file. It is empty.
#[cfg_attr(not(feature = "json"), allow(dead_code))]
pub(crate) fn lock_path(target: &Path) -> io::Result<PathBuf> {
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let mut lock_name = name.to_os_string();
    lock_name.push(".lock");
    Ok(target.with_file_name(lock_name))
}

/// Takes the exclusive lock for editing `target` (a path that is not a
/// symbolic link: see [`resolve_links`]), trying again every [`LOCK_POLL`]
/// for up to `wait` while another process holds it.
///
/// The lock is advisory: it excludes other editors that lock, such as
/// `Keyset::edit` and the `tessera` commands that change a keyset, not
/// plain writes.
#[cfg_attr(not(feature = "json"), allow(dead_code))]
pub(crate) fn lock_for_edit(target: &Path, wait: Duration) -> Result<EditLock, Error> {
    let lock = lock_path(target).map_err(|e| file_error(target, &e))?;
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&lock).map_err(|e| file_error(&lock, &e))?;
    for _ in 0..lock_attempts(wait) {
        match file.try_lock() {
            Ok(()) => return Ok(EditLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => std::thread::sleep(LOCK_POLL),
            Err(fs::TryLockError::Error(e)) => return Err(file_error(&lock, &e)),
        }
    }
    Err(Error::File {
        path: target.to_path_buf(),
        kind: io::ErrorKind::WouldBlock,
        message: format!(
            "another process is editing it (it held the lock {} for more than {} s); \
             try again",
            lock.display(),
            wait.as_secs_f32()
        ),
    })
}

/// How many times [`lock_for_edit`] tries the lock when told to wait `wait`:
/// once at once, then once after each [`LOCK_POLL`] of the wait.
fn lock_attempts(wait: Duration) -> u128 {
    1 + wait.as_millis() / LOCK_POLL.as_millis()
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
        save(&path, b"one").unwrap();
        save(&path, b"two").unwrap();
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
        save(&path, b"keep me").unwrap();
        // Renaming a file over a non-empty folder fails after the temp file is written.
        let blocked = dir.join("blocked");
        fs::create_dir_all(blocked.join("inner")).unwrap();
        assert!(save(&blocked, b"new").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"keep me");
        let leftovers = fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 2, "only the file and the folder remain");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[cfg(unix)]
    #[test]
    fn a_write_through_a_symbolic_link_replaces_its_target_and_keeps_the_link() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let dir = scratch("links");
        fs::create_dir_all(dir.join("real")).unwrap();
        fs::create_dir_all(dir.join("links")).unwrap();
        let real = dir.join("real").join("state.bin");
        save(&real, b"one").unwrap();
        // Relative, absolute, and a chain of two.
        let relative = dir.join("links").join("relative.bin");
        symlink("../real/state.bin", &relative).unwrap();
        let absolute = dir.join("links").join("absolute.bin");
        symlink(&real, &absolute).unwrap();
        let chained = dir.join("chained.bin");
        symlink("links/relative.bin", &chained).unwrap();
        for (link, content) in [(&relative, b"two"), (&absolute, b"333"), (&chained, b"4!4")] {
            let pointed = fs::read_link(link).unwrap();
            assert_eq!(resolve_links(link).unwrap(), real.canonicalize().unwrap());
            save(link, content).unwrap();
            assert!(fs::symlink_metadata(link).unwrap().file_type().is_symlink());
            assert_eq!(fs::read_link(link).unwrap(), pointed);
            assert_eq!(fs::read(&real).unwrap(), content);
            assert_eq!(
                fs::metadata(&real).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(
            entries(&dir.join("real")),
            ["state.bin"],
            "no temporary file"
        );
        assert_eq!(
            entries(&dir.join("links")),
            ["absolute.bin", "relative.bin"]
        );
        // `save` too, and its errors name the target it writes.
        save(&chained, b"five").unwrap();
        assert_eq!(fs::read(&real).unwrap(), b"five");
        assert_eq!(
            resolve_links(&real).unwrap(),
            real,
            "a plain file is itself"
        );
        // Left as given, not made absolute (tests run in the crate's folder).
        let relative = Path::new("Cargo.toml");
        assert_eq!(resolve_links(relative).unwrap(), relative);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_dangling_link_gets_its_target_created_and_a_loop_is_an_error() {
        use std::os::unix::fs::symlink;
        let dir = scratch("dangling");
        let first = dir.join("first.bin");
        let second = dir.join("second.bin");
        symlink("second.bin", &first).unwrap();
        symlink(dir.join("target.bin"), &second).unwrap();
        assert_eq!(resolve_links(&first).unwrap(), dir.join("target.bin"));
        save(&first, b"new").unwrap();
        assert_eq!(fs::read(dir.join("target.bin")).unwrap(), b"new");
        assert!(fs::symlink_metadata(&first)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(fs::symlink_metadata(&second)
            .unwrap()
            .file_type()
            .is_symlink());
        // A loop: the OS's own error, and nothing is written.
        let a = dir.join("a.bin");
        let b = dir.join("b.bin");
        symlink("b.bin", &a).unwrap();
        symlink("a.bin", &b).unwrap();
        let os_error = fs::read(&a).unwrap_err();
        let err = save(&a, b"x").unwrap_err();
        assert_eq!(err, file_error(&a, &os_error));
        assert!(save(&b, b"x").is_err());
        assert_eq!(
            entries(&dir),
            ["a.bin", "b.bin", "first.bin", "second.bin", "target.bin"]
        );
        // A chain as long as the OS follows resolves; a longer one does not.
        let chain = dir.join("chain");
        fs::create_dir_all(&chain).unwrap();
        for i in 0..=MAX_LINKS {
            symlink(format!("{}", i + 1), chain.join(i.to_string())).unwrap();
        }
        let end = chain.join((MAX_LINKS + 1).to_string());
        let from = |i: usize| chain.join(i.to_string());
        assert_eq!(resolve_links(&from(1)).unwrap(), end);
        assert!(resolve_links(&from(0)).is_err());
        fs::write(&end, b"").unwrap();
        assert_eq!(
            resolve_links(&from(1)).unwrap(),
            end.canonicalize().unwrap()
        );
        assert!(resolve_links(&from(0)).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_lock_is_tried_once_per_poll_of_the_wait() {
        assert_eq!(LOCK_POLL, Duration::from_millis(10));
        assert_eq!(lock_attempts(Duration::ZERO), 1);
        assert_eq!(lock_attempts(Duration::from_millis(9)), 1);
        assert_eq!(lock_attempts(Duration::from_millis(10)), 2);
        assert_eq!(lock_attempts(Duration::from_millis(25)), 3);
        assert_eq!(lock_attempts(LOCK_WAIT), 1001);
        assert_eq!(
            lock_attempts(Duration::MAX),
            u128::from(u64::MAX) * 100 + 100
        );
    }

    #[test]
    fn a_second_editor_waits_for_the_lock_or_gives_up_with_a_clear_error() {
        let dir = scratch("lock");
        let target = dir.join("keys.json");
        assert_eq!(lock_path(&target).unwrap(), dir.join("keys.json.lock"));
        assert!(lock_path(Path::new("/")).is_err());
        let first = lock_for_edit(&target, Duration::ZERO).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join("keys.json.lock"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Another open of the lock file (as another process would) is refused.
        let err = lock_for_edit(&target, Duration::ZERO).unwrap_err();
        let Error::File {
            path,
            kind,
            message,
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(path, &target);
        assert_eq!(*kind, io::ErrorKind::WouldBlock);
        assert!(
            message.contains("another process is editing it"),
            "{message}"
        );
        assert!(message.contains("keys.json.lock"), "{message}");
        drop(first);
        let again = lock_for_edit(&target, Duration::ZERO).unwrap();
        // A waiting editor gets the lock once the holder lets go.
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            drop(again);
        });
        lock_for_edit(&target, LOCK_WAIT).unwrap();
        holder.join().unwrap();
        // The lock file is the only thing left; the target was never touched.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        // A lock file that cannot be created is named in the error.
        let nowhere = dir.join("missing").join("keys.json");
        let err = lock_for_edit(&nowhere, Duration::ZERO).unwrap_err();
        assert!(
            matches!(&err, Error::File { path, kind: io::ErrorKind::NotFound, .. }
                if *path == dir.join("missing").join("keys.json.lock")),
            "{err:?}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
