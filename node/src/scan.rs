//! Scanning: walk the media folders, compare with the catalog by (path, size, mtime, inode),
//! probe what is new or changed, and detect renames. `watch` rescans when the folders change.

use crate::catalog::{self, Catalog, Changes, FileKey, NewFile};
use crate::{names, probe};
use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

/// File extensions treated as media; everything else in the folders is ignored.
const MEDIA_EXTENSIONS: &[&str] = &[
    "3gp", "avi", "flv", "m2ts", "m4v", "mkv", "mov", "mp4", "mpeg", "mpg", "mts", "ogv", "ts",
    "webm", "wmv",
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("media folder {path} is not readable: {source}")]
    Root {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Catalog(#[from] catalog::Error),
}

/// What one scan changed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    pub added: usize,
    pub changed: usize,
    pub renamed: usize,
    pub removed: Vec<i64>,
    pub unchanged: usize,
}

impl Report {
    pub fn is_empty(&self) -> bool {
        self.added + self.changed + self.renamed + self.removed.len() == 0
    }
}

impl std::ops::AddAssign for Report {
    fn add_assign(&mut self, o: Report) {
        self.added += o.added;
        self.changed += o.changed;
        self.renamed += o.renamed;
        self.removed.extend(o.removed);
        self.unchanged += o.unchanged;
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "scanned: {} added, {} changed, {} renamed, {} removed, {} unchanged",
            self.added,
            self.changed,
            self.renamed,
            self.removed.len(),
            self.unchanged
        )
    }
}

pub fn is_media(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'));
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    !hidden && ext.is_some_and(|e| MEDIA_EXTENSIONS.contains(&e.as_str()))
}

/// Scan one media folder incrementally and record the changes in the catalog.
pub fn scan_root(catalog: &Catalog, root: &Path) -> Result<Report, Error> {
    let root = root.canonicalize().map_err(|source| Error::Root {
        path: root.to_owned(),
        source,
    })?;
    let prefix = format!("{}/", root.to_string_lossy().trim_end_matches('/'));
    let mut known = catalog.known_under(&prefix)?;
    let mut report = Report::default();
    let mut changes = Changes::default();
    let mut fresh = Vec::new();
    for (path, key) in walk(&root) {
        match known.remove(&path) {
            Some(k) if k.key == key => report.unchanged += 1,
            Some(k) => changes.changed.push((k.id, describe(&path, key))),
            None => fresh.push((path, key)),
        }
    }
    // What is left in `known` is gone from disk; a new path with the same inode, size and
    // mtime is the same file renamed, and keeps its id and transcoded output.
    let mut gone_by_key: HashMap<FileKey, i64> = known.values().map(|k| (k.key, k.id)).collect();
    let mut renamed_ids = HashSet::new();
    for (path, key) in fresh {
        match gone_by_key.remove(&key) {
            Some(id) => {
                renamed_ids.insert(id);
                changes.renamed.push((id, describe_name(&path, key)));
            }
            None => changes.added.push(describe(&path, key)),
        }
    }
    // An item being transcoded stays until its worker notices the file is gone.
    changes.removed = known
        .values()
        .filter(|k| !renamed_ids.contains(&k.id) && k.state != catalog::State::Transcoding)
        .map(|k| k.id)
        .collect();
    report.added = changes.added.len();
    report.changed = changes.changed.len();
    report.renamed = changes.renamed.len();
    report.removed = changes.removed.clone();
    catalog.apply(&changes)?;
    Ok(report)
}

/// Media files under `root` with their identity keys, skipping unreadable entries.
fn walk(root: &Path) -> impl Iterator<Item = (String, FileKey)> {
    WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && is_media(e.path()))
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            let key = FileKey {
                size: meta.size() as i64,
                mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
                inode: meta.ino() as i64,
            };
            Some((e.path().to_string_lossy().into_owned(), key))
        })
}

fn describe_name(path: &str, key: FileKey) -> NewFile {
    let parsed = names::parse(Path::new(path));
    NewFile {
        path: path.to_owned(),
        key,
        title: parsed.title,
        year: parsed.year,
        season: parsed.season,
        episode: parsed.episode,
        duration_s: None,
        probe: Err(String::new()),
    }
}

/// Parse the name and probe the file.
fn describe(path: &str, key: FileKey) -> NewFile {
    let mut file = describe_name(path, key);
    file.probe = if key.size == 0 {
        Err("the file is empty (0 bytes); replace it with a complete copy".to_owned())
    } else {
        match probe::probe(Path::new(path)) {
            Ok(info) => {
                file.duration_s = info.duration_s;
                serde_json::to_string(&info).map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        }
    };
    file
}

/// Watch the folders; after changes settle for `debounce`, send a rescan request.
/// The watcher lives as long as the returned handle.
pub fn watch(
    roots: &[PathBuf],
    debounce: std::time::Duration,
) -> notify::Result<(notify::RecommendedWatcher, tokio::sync::mpsc::Receiver<()>)> {
    use notify::Watcher as _;
    let (raw_tx, mut raw_rx) = tokio::sync::mpsc::channel::<()>(1);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = raw_tx.try_send(());
        }
    })?;
    for root in roots {
        watcher.watch(root, notify::RecursiveMode::Recursive)?;
    }
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        while raw_rx.recv().await.is_some() {
            // Wait until the folder has been quiet for `debounce`.
            while tokio::time::timeout(debounce, raw_rx.recv())
                .await
                .is_ok_and(|e| e.is_some())
            {}
            let _ = tx.try_send(());
        }
    });
    Ok((watcher, rx))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, bytes: &[u8]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn media_extensions_only() {
        assert!(is_media(Path::new("/m/Movie (2019).MKV")));
        assert!(!is_media(Path::new("/m/cover.jpg")));
        assert!(!is_media(Path::new("/m/.hidden.mp4")));
        assert!(!is_media(Path::new("/m/noext")));
    }

    #[test]
    fn incremental_scan_add_rename_remove() {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::in_memory().unwrap();
        write(&dir.path().join("a/Show S01E01.mp4"), b"not really video");
        write(&dir.path().join("b.mkv"), b"");
        write(&dir.path().join("notes.txt"), b"ignored");
        let r = scan_root(&c, dir.path()).unwrap();
        assert_eq!((r.added, r.unchanged), (2, 0));
        let items = c.items().unwrap();
        assert!(items.iter().all(|i| i.state == catalog::State::Failed));
        assert!(
            items
                .iter()
                .any(|i| i.error.as_deref().unwrap().contains("empty (0 bytes)"))
        );
        assert!(
            items
                .iter()
                .any(|i| i.error.as_deref().unwrap().contains("cannot read"))
        );

        let again = scan_root(&c, dir.path()).unwrap();
        assert!(again.is_empty());
        assert_eq!(again.unchanged, 2);

        let show = items.iter().find(|i| i.title == "Show").unwrap().id;
        std::fs::rename(
            dir.path().join("a/Show S01E01.mp4"),
            dir.path().join("Show S01E02.mp4"),
        )
        .unwrap();
        std::fs::remove_file(dir.path().join("b.mkv")).unwrap();
        let r = scan_root(&c, dir.path()).unwrap();
        assert_eq!((r.renamed, r.removed.len(), r.added), (1, 1, 0));
        let renamed = c.item(show).unwrap().unwrap();
        assert_eq!(renamed.episode, Some(2));
        assert_eq!(c.items().unwrap().len(), 1);
    }

    #[test]
    fn missing_root_is_a_clear_error() {
        let c = Catalog::in_memory().unwrap();
        let err = scan_root(&c, Path::new("/nonexistent/media")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/media"), "{err}");
    }
}
