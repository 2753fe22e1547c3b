//! Throw-away directories for tests that run outside a [`crate::harness::Suite`] (which makes
//! its own work directory): [`TempDir`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the system temp dir, removed on drop unless the
/// test is panicking (then kept for inspection and its path printed).
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `anchormq-testbed-<tag>-<pid>-<n>-<nanos>` under the system temp dir.
    ///
    /// # Panics
    /// When the directory cannot be created, or the system clock is before 1970.
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("a clock after 1970")
            .subsec_nanos();
        let dir =
            std::env::temp_dir().join(format!("anchormq-testbed-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating a temp dir");
        TempDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("keeping {} for inspection", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
