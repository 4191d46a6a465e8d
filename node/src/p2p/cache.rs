//! Verified pieces on disk, by SHA-256, bounded (least recently used go first), and pinned
//! items kept whole for offline viewing. Only bytes that matched a signed manifest get in.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

pub struct Cache {
    dir: PathBuf,
    max_bytes: u64,
    /// Hashes of pinned items' pieces: never evicted.
    pinned: Mutex<HashSet<String>>,
    /// Bytes in `pieces/`, kept as pieces come and go, so that storing one reads the folder
    /// only when something must be evicted.
    used: Mutex<u64>,
}

impl Cache {
    pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir.join("pieces"))?;
        let pinned = std::fs::read_to_string(dir.join("pinned.json"))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let mut used = 0;
        for entry in std::fs::read_dir(dir.join("pieces"))? {
            used += entry?.metadata()?.len();
        }
        Ok(Self {
            dir: dir.to_owned(),
            max_bytes,
            pinned: Mutex::new(pinned),
            used: Mutex::new(used),
        })
    }

    /// The cache's folder (pinned items' descriptions live in `pinned/` below it).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join("pieces").join(sha256)
    }

    /// The piece, if cached (and marks it used).
    pub fn get(&self, sha256: &str) -> Option<Vec<u8>> {
        let path = self.path(sha256);
        let bytes = std::fs::read(&path).ok()?;
        if let Ok(file) = std::fs::File::options().write(true).open(&path) {
            let _ = file.set_modified(SystemTime::now());
        }
        Some(bytes)
    }

    pub fn has(&self, sha256: &str) -> bool {
        self.path(sha256).is_file()
    }

    /// Store a verified piece, then evict the least recently used unpinned pieces over the
    /// bound.
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path(sha256);
        let replaced = std::fs::metadata(&path).map_or(0, |m| m.len());
        let partial = path.with_extension("partial");
        std::fs::write(&partial, bytes)?;
        std::fs::rename(&partial, &path)?;
        let mut used = self.used.lock().expect("cache lock");
        *used = *used - replaced.min(*used) + bytes.len() as u64;
        if *used > self.max_bytes {
            *used = self.evict()?;
        }
        Ok(())
    }

    pub fn pin(&self, hashes: impl IntoIterator<Item = String>) -> std::io::Result<()> {
        let mut pinned = self.pinned.lock().expect("pin lock");
        pinned.extend(hashes);
        let json = serde_json::to_vec(&*pinned).expect("a set of strings serializes");
        let partial = self.dir.join("pinned.json.partial");
        std::fs::write(&partial, json)?;
        std::fs::rename(partial, self.dir.join("pinned.json"))
    }

    pub fn is_pinned(&self, sha256: &str) -> bool {
        self.pinned.lock().expect("pin lock").contains(sha256)
    }

    /// Remove the least recently used unpinned pieces until the folder fits; its new size.
    fn evict(&self) -> std::io::Result<u64> {
        let mut pieces = Vec::new();
        let mut total = 0;
        for entry in std::fs::read_dir(self.dir.join("pieces"))? {
            let entry = entry?;
            let meta = entry.metadata()?;
            total += meta.len();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !self.is_pinned(&name) {
                pieces.push((meta.modified()?, meta.len(), entry.path()));
            }
        }
        pieces.sort();
        for (_, len, path) in pieces {
            if total <= self.max_bytes {
                break;
            }
            std::fs::remove_file(path)?;
            total -= len;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_unpinned_piece_goes_first() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), 25).unwrap();
        cache.pin(["a".to_string()]).unwrap();
        let old = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(10);
        for name in ["a", "b", "c"] {
            cache.put(name, &[0; 10]).unwrap();
            std::fs::File::options()
                .write(true)
                .open(cache.path(name))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        // Over the bound (30 > 25): b, the oldest unpinned, went when c came.
        assert!(cache.has("a") && !cache.has("b") && cache.has("c"));
        assert_eq!(cache.get("c").unwrap(), vec![0; 10]);
        let again = Cache::open(dir.path(), 25).unwrap();
        assert!(again.is_pinned("a"), "pins survive a restart");
    }
}
