//! Atomic publishing: a package is built in a staging folder and renamed into place, so a
//! crash or kill mid-transcode never leaves a half-written package visible.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A staging folder that is removed on drop unless it was published.
pub struct Staging {
    path: PathBuf,
    published: bool,
}

impl Staging {
    /// Create a fresh, empty staging folder inside `tmp_root`.
    pub fn new(tmp_root: &Path, label: &str) -> std::io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        std::fs::create_dir_all(tmp_root)?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = tmp_root.join(format!("{label}.{}.{n}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir(&path)?;
        Ok(Self {
            path,
            published: false,
        })
    }

    /// A staging folder at a fixed path (emptied first), so a package in progress can be
    /// found by its item id.
    pub fn at(path: PathBuf) -> std::io::Result<Self> {
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir_all(&path)?;
        Ok(Self {
            path,
            published: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Move the finished package to `dest`, replacing any previous package there. The old one
    /// is moved aside first and deleted after, so readers see either the old or the new one.
    pub fn publish(mut self, dest: &Path) -> std::io::Result<()> {
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let old = self.path.with_extension("old");
        let had_old = dest.exists();
        if had_old {
            std::fs::rename(dest, &old)?;
        }
        std::fs::rename(&self.path, dest)?;
        self.published = true;
        if had_old {
            std::fs::remove_dir_all(&old)?;
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_staging_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let staging = Staging::new(root.path(), "x").unwrap();
        std::fs::write(staging.path().join("half.m4s"), b"partial").unwrap();
        drop(staging);
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    }

    #[test]
    fn publish_replaces_the_old_package() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("hls/7");
        for content in ["one", "two"] {
            let staging = Staging::new(&root.path().join("tmp"), "7").unwrap();
            std::fs::write(staging.path().join("master.m3u8"), content).unwrap();
            staging.publish(&dest).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(dest.join("master.m3u8")).unwrap(),
            "two"
        );
        assert_eq!(
            std::fs::read_dir(root.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
