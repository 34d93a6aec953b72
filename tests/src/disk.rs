//! Storage faults for the tests: a small filesystem of a test's own (a tmpfs mounted in a temporary
//! folder, which needs root) that can be filled up and turned read-only, to see how the device's store
//! reports a full disk and read-only storage, and that it resumes when the fault clears; and
//! [`WriteLock`], another program holding the database's write lock.
//!
//! Where mounting is not permitted (not root, or in a container without the capability),
//! [`SmallDisk::mount`] says why, and the tests inject the same fault inside SQLite instead
//! ([`full_inside_sqlite`], [`read_only_inside_sqlite`]) and say so on stderr. The filesystem is
//! unmounted when the [`SmallDisk`] is dropped, also when its test fails.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

/// A tmpfs of a few megabytes, mounted on a temporary folder until dropped.
#[derive(Debug)]
pub struct SmallDisk {
    dir: TempDir,
}

fn mount(args: &[&str], at: &Path) -> Result<(), String> {
    let out =
        Command::new("mount").args(args).arg(at).output().map_err(|e| format!("cannot run mount: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("mount {args:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

impl SmallDisk {
    /// Mounts a tmpfs of `size_kib` KiB; the reason if this machine does not allow it.
    /// `QUARTIER_TEST_NO_MOUNT=1` refuses, to run the fallbacks where mounting works.
    pub fn mount(size_kib: u64) -> Result<SmallDisk, String> {
        if std::env::var_os("QUARTIER_TEST_NO_MOUNT").is_some() {
            return Err("QUARTIER_TEST_NO_MOUNT is set".into());
        }
        let dir = TempDir::new().map_err(|e| e.to_string())?;
        mount(&["-t", "tmpfs", "-o", &format!("size={size_kib}k,mode=0700"), "tmpfs"], dir.path())?;
        Ok(SmallDisk { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn filler(&self) -> PathBuf {
        self.path().join("filler")
    }

    /// Fills the filesystem to the last byte with a file of its own.
    pub fn fill(&self) {
        let mut file = std::fs::File::create(self.filler()).unwrap();
        // Large writes first, then smaller ones for what remains; bounded by the size of the disk.
        for chunk in [1 << 16, 4096, 512, 1] {
            let block = vec![0xA5u8; chunk];
            while file.write_all(&block).is_ok() {}
        }
        let _ = file.sync_all();
    }

    /// Frees what [`fill`](SmallDisk::fill) took.
    pub fn free(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }

    /// Turns the filesystem read-only, or writable again, under the files open on it.
    pub fn set_read_only(&self, read_only: bool) {
        let option = if read_only { "remount,ro" } else { "remount,rw" };
        mount(&["-o", option], self.path()).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Open files (a store not dropped yet) keep it busy: detach it then, it goes when they close.
        let plain = Command::new("umount").arg(self.dir.path()).output();
        if !plain.is_ok_and(|out| out.status.success()) {
            let _ = Command::new("umount").arg("-l").arg(self.dir.path()).output();
        }
    }
}

/// The fallback for a full disk: the database may not grow past `pages` pages (`PRAGMA max_page_count`
/// on the store's connection), which SQLite reports as it reports a full disk.
pub fn full_inside_sqlite(store: &quartier_core::store::Store, pages: Option<i64>) {
    store
        .read(|conn| {
            let limit = match pages {
                Some(pages) => pages,
                None => conn.query_row("PRAGMA page_count", [], |row| row.get(0)).unwrap(),
            };
            conn.query_row(&format!("PRAGMA max_page_count = {limit}"), [], |_| Ok(())).unwrap();
            Ok(())
        })
        .unwrap();
}

/// The fallback for read-only storage: the store's connection may not write (`PRAGMA query_only`),
/// which SQLite reports as it reports a read-only database.
pub fn read_only_inside_sqlite(store: &quartier_core::store::Store, read_only: bool) {
    store
        .read(|conn| {
            conn.pragma_update(None, "query_only", read_only).unwrap();
            Ok(())
        })
        .unwrap();
}

/// Another program's connection holding a database's write lock (`BEGIN EXCLUSIVE`) until dropped.
#[derive(Debug)]
pub struct WriteLock(rusqlite::Connection);

impl WriteLock {
    pub fn take(database: &Path) -> WriteLock {
        let conn = rusqlite::Connection::open(database).unwrap();
        conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
        WriteLock(conn)
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        let _ = self.0.execute_batch("ROLLBACK");
    }
}
