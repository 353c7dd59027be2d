//! The clean-close stamp of a redb store file: what lets start-up skip the full-page check of a
//! file nobody has written since flyt closed it cleanly.
//!
//! redb's check on open ([`redb::Builder::set_check_integrity_on_open`]) verifies the checksum
//! of every page of the committed trees, so its cost grows with the store: with a million
//! pending timers (about 2 GB) it was most of a server's start-up. It is what makes a file
//! damaged outside redb fail to open as `Corrupt` instead of being trusted; redb's plain open
//! trusts any cleanly closed file.
//!
//! The stamp keeps that guarantee without the cost when the file is exactly as flyt left it.
//! After a clean close, flyt writes `<file>.clean` beside the store with the file's device,
//! inode, size, modification and status-change times (nanoseconds). The next open takes the
//! stamp (reads and removes it, before redb touches the file) and skips the check only if the
//! file still has all of them: any write to the file, by any program, sets its status-change
//! time (`ctime`), which no program can set back. A missing, unreadable or different stamp means
//! the full check, as before; so does an unclean close (no stamp is written), where redb would
//! repair the file anyway.
//!
//! Timestamps have a granularity (a clock tick on kernels without fine-grained timestamps), so a
//! write in the same tick as the close could leave the same `ctime` behind. As with git's "racy"
//! index entries, the stamp is trusted only if the stamp file itself is strictly newer than the
//! store's `ctime`: a later write to the store then happens after the stamp and gets a later
//! `ctime`. Writing the stamp retries for up to a few ticks until that holds, and otherwise
//! leaves no stamp.
//!
//! What this does not catch: bits that rot on the disk without any write through the file
//! system (no timestamp moves). redb's plain open then trusts the file, and a read of a damaged
//! page is an error for that read (a panic in redb is caught), a write stops the committer.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const HEADER: &str = "flyt-clean-close 1";

/// How long writing a stamp may retry for the stamp to be newer than the store.
const RACY_FOR: Duration = Duration::from_millis(100);

/// The stamp's path for the store file `store`.
pub fn stamp_path(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".clean");
    PathBuf::from(name)
}

/// What the stamp records of the store file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

#[cfg(unix)]
fn identity(path: &Path) -> Option<Identity> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path).ok()?;
    if !m.is_file() {
        return None;
    }
    Some(Identity {
        dev: m.dev(),
        ino: m.ino(),
        len: m.size(),
        mtime: (m.mtime(), m.mtime_nsec()),
        ctime: (m.ctime(), m.ctime_nsec()),
    })
}

#[cfg(not(unix))]
fn identity(_path: &Path) -> Option<Identity> {
    None
}

/// The stamp file's own modification time.
#[cfg(unix)]
fn written_at(path: &Path) -> Option<(i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path).ok()?;
    Some((m.mtime(), m.mtime_nsec()))
}

#[cfg(not(unix))]
fn written_at(_path: &Path) -> Option<(i64, i64)> {
    None
}

fn render(id: &Identity) -> String {
    format!(
        "{HEADER}\n{} {} {} {} {} {} {}\n",
        id.dev, id.ino, id.len, id.mtime.0, id.mtime.1, id.ctime.0, id.ctime.1
    )
}

fn parse(text: &str) -> Option<Identity> {
    let mut lines = text.lines();
    if lines.next()? != HEADER {
        return None;
    }
    let n: Vec<i64> = lines
        .next()?
        .split(' ')
        .map(|s| s.parse().ok())
        .collect::<Option<_>>()?;
    let [dev, ino, len, ms, mn, cs, cn] = n[..] else {
        return None;
    };
    if lines.next().is_some() {
        return None;
    }
    Some(Identity {
        dev: u64::try_from(dev).ok()?,
        ino: u64::try_from(ino).ok()?,
        len: u64::try_from(len).ok()?,
        mtime: (ms, mn),
        ctime: (cs, cn),
    })
}

/// Takes the stamp of `store`: reads it, removes it, and says whether the file is provably as
/// flyt closed it (so redb's full check may be skipped). Call before the file is opened.
pub fn take(store: &Path) -> bool {
    let stamp = stamp_path(store);
    let Ok(text) = std::fs::read_to_string(&stamp) else {
        return false;
    };
    let stamped_at = written_at(&stamp);
    if let Err(e) = std::fs::remove_file(&stamp) {
        // A stamp that cannot be removed could outlive the writes about to happen: distrust it.
        tracing::warn!(path = %stamp.display(), error = %e, "cannot remove the clean-close stamp");
        return false;
    }
    let (Some(recorded), Some(now), Some(stamped_at)) = (parse(&text), identity(store), stamped_at)
    else {
        return false;
    };
    recorded == now && stamped_at > recorded.ctime
}

/// Writes the stamp of `store` after a clean close. Best effort: without a stamp the next open
/// runs the full check.
pub fn write(store: &Path) {
    let stamp = stamp_path(store);
    let tmp = {
        let mut name = stamp.as_os_str().to_owned();
        name.push(".tmp");
        PathBuf::from(name)
    };
    let Some(id) = identity(store) else {
        return;
    };
    let started = Instant::now();
    loop {
        if std::fs::write(&tmp, render(&id)).is_err() || std::fs::rename(&tmp, &stamp).is_err() {
            let _ = std::fs::remove_file(&tmp);
            return;
        }
        match written_at(&stamp) {
            Some(at) if at > id.ctime => return,
            _ if started.elapsed() < RACY_FOR => {
                // The stamp is in the same clock tick as the store's last write: write it again
                // in a later one (a tick is at most 10 ms).
                std::thread::sleep(Duration::from_millis(2));
            }
            _ => {
                let _ = std::fs::remove_file(&stamp);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_file(dir: &Path) -> PathBuf {
        let path = dir.join("flyt.redb");
        std::fs::write(&path, b"pretend store").unwrap();
        path
    }

    #[test]
    fn a_stamp_of_an_untouched_file_is_trusted_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = store_file(dir.path());
        write(&path);
        assert!(stamp_path(&path).exists());
        assert!(take(&path), "the file is as it was closed");
        assert!(!stamp_path(&path).exists(), "taking removes the stamp");
        assert!(
            !take(&path),
            "a second open without a clean close is checked"
        );
    }

    #[test]
    fn a_write_after_the_stamp_is_noticed_even_of_the_same_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = store_file(dir.path());
        write(&path);
        std::fs::write(&path, b"pretend STORE").unwrap();
        assert!(!take(&path));
    }

    #[test]
    fn a_replaced_file_or_a_damaged_stamp_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let path = store_file(dir.path());
        write(&path);
        let copy = dir.path().join("copy");
        std::fs::copy(&path, &copy).unwrap();
        std::fs::rename(&copy, &path).unwrap();
        assert!(!take(&path), "another inode");

        write(&path);
        let stamp = stamp_path(&path);
        let text = std::fs::read_to_string(&stamp).unwrap();
        std::fs::write(&stamp, text.replace(HEADER, "something else")).unwrap();
        assert!(!take(&path));
        assert!(!take(&dir.path().join("missing")));
    }

    #[test]
    fn parse_refuses_anything_but_a_whole_stamp() {
        let id = Identity {
            dev: 1,
            ino: 2,
            len: 3,
            mtime: (4, 5),
            ctime: (6, 7),
        };
        assert_eq!(parse(&render(&id)), Some(id.clone()));
        assert_eq!(parse(&render(&id).replace(" 7\n", "\n")), None);
        assert_eq!(parse(&format!("{}extra\n", render(&id))), None);
        assert_eq!(parse(""), None);
    }
}
