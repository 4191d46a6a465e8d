//! Named libraries: `--media [NAME=]DIR`. Grants name libraries; an item belongs to the
//! library whose folder holds its file.

use crate::catalog::Catalog;
use anyhow::Context as _;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokio::sync::Notify;

/// One `--media` argument: a folder and, optionally, the library's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaArg {
    pub name: Option<String>,
    pub dir: PathBuf,
}

impl std::str::FromStr for MediaArg {
    type Err = String;

    /// `NAME=DIR`, or just `DIR`. A `=` after the first `/` belongs to the path.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('=') {
            Some((name, dir)) if !name.contains('/') => {
                check_name(name)?;
                Ok(MediaArg {
                    name: Some(name.to_owned()),
                    dir: PathBuf::from(dir),
                })
            }
            _ => Ok(MediaArg {
                name: None,
                dir: PathBuf::from(s),
            }),
        }
    }
}

pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ' ' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "library name {name:?}: use 1-64 letters, digits, spaces, '.', '_' or '-'"
        ))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Library {
    pub name: String,
    #[serde(skip)]
    pub root: PathBuf,
}

/// One library's scans, as the admin page shows them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanState {
    pub scanning: bool,
    /// When the last scan finished (ms since the Unix epoch).
    pub last_scan_ms: Option<i64>,
}

/// The process's libraries, and which one each item is in (cached: item ids are never
/// reused and an item never changes folder). It also carries the scans asked for by name
/// (`POST /api/v1/libraries/{name}/scan`) to the scanner, and their state back.
#[derive(Debug, Default)]
pub struct Libraries {
    list: Vec<Library>,
    by_item: Mutex<HashMap<i64, Option<String>>>,
    asked: Mutex<HashSet<String>>,
    wake: Notify,
    scans: Mutex<HashMap<String, ScanState>>,
}

impl Libraries {
    /// Check the folders (before a port is bound, so a typo fails at once) and name them.
    pub fn resolve(args: &[MediaArg]) -> anyhow::Result<Self> {
        let mut list: Vec<Library> = Vec::new();
        for arg in args {
            let root = arg.dir.canonicalize().with_context(|| {
                format!(
                    "media folder {} does not exist or is not readable",
                    arg.dir.display()
                )
            })?;
            let name = match &arg.name {
                Some(name) => name.clone(),
                None => default_name(&root)?,
            };
            if list.iter().any(|l| l.name == name) {
                anyhow::bail!(
                    "two media folders are both named {name:?}: name them with --media NAME=DIR"
                );
            }
            list.push(Library { name, root });
        }
        Ok(Self {
            list,
            ..Self::default()
        })
    }

    pub fn list(&self) -> &[Library] {
        &self.list
    }

    pub fn roots(&self) -> Vec<PathBuf> {
        self.list.iter().map(|l| l.root.clone()).collect()
    }

    /// The library holding `path`.
    pub fn of_path(&self, path: &str) -> Option<&str> {
        let path = Path::new(path);
        // The innermost folder wins when one library's folder is inside another's.
        self.list
            .iter()
            .filter(|l| path.starts_with(&l.root))
            .max_by_key(|l| l.root.as_os_str().len())
            .map(|l| l.name.as_str())
    }

    /// Ask the scanner to scan library `name` now; false when there is no such library.
    pub fn ask_scan(&self, name: &str) -> bool {
        if !self.list.iter().any(|l| l.name == name) {
            return false;
        }
        lock(&self.asked).insert(name.to_owned());
        // A permit is kept if the scanner is busy: it scans again when done.
        self.wake.notify_one();
        true
    }

    /// Wait until a scan is asked for, then the libraries asked for.
    pub async fn asked(&self) -> Vec<Library> {
        self.wake.notified().await;
        let asked = std::mem::take(&mut *lock(&self.asked));
        self.list
            .iter()
            .filter(|l| asked.contains(&l.name))
            .cloned()
            .collect()
    }

    pub fn scan_state(&self, name: &str) -> ScanState {
        lock(&self.scans).get(name).copied().unwrap_or_default()
    }

    pub fn scan_started(&self, name: &str) {
        lock(&self.scans)
            .entry(name.to_owned())
            .or_default()
            .scanning = true;
    }

    pub fn scan_finished(&self, name: &str, now_ms: i64) {
        lock(&self.scans).insert(
            name.to_owned(),
            ScanState {
                scanning: false,
                last_scan_ms: Some(now_ms),
            },
        );
    }

    /// The library of an item; `None` when there is no such item.
    pub fn of_item(
        &self,
        catalog: &Catalog,
        id: i64,
    ) -> Result<Option<String>, crate::catalog::Error> {
        if let Some(known) = lock(&self.by_item).get(&id) {
            return Ok(known.clone());
        }
        let Some(path) = catalog.item_path(id)? else {
            return Ok(None);
        };
        let library = self.of_path(&path).map(str::to_owned);
        lock(&self.by_item).insert(id, library.clone());
        Ok(library)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn default_name(root: &Path) -> anyhow::Result<String> {
    let name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "media".to_owned());
    check_name(&name).map_err(|e| {
        anyhow::anyhow!(
            "{e}; name the folder's library with --media NAME={}",
            root.display()
        )
    })?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_arguments_name_libraries_or_take_the_folder_name() {
        let named: MediaArg = "films=/srv/Films".parse().unwrap();
        assert_eq!(named.name.as_deref(), Some("films"));
        assert_eq!(named.dir, PathBuf::from("/srv/Films"));
        let plain: MediaArg = "/srv/a=b".parse().unwrap();
        assert_eq!((plain.name, plain.dir), (None, PathBuf::from("/srv/a=b")));
        assert!(
            "bad/../name=x".parse::<MediaArg>().is_ok(),
            "a path with '=' inside"
        );
        assert!("no\tname=x".parse::<MediaArg>().is_err());

        let tmp = tempfile::tempdir().unwrap();
        let films = tmp.path().join("Films");
        std::fs::create_dir(&films).unwrap();
        let libraries = Libraries::resolve(&[
            MediaArg {
                name: None,
                dir: films.clone(),
            },
            MediaArg {
                name: Some("home".into()),
                dir: tmp.path().to_owned(),
            },
        ])
        .unwrap();
        let names: Vec<_> = libraries.list().iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["Films", "home"]);
        let file = films.canonicalize().unwrap().join("a.mkv");
        assert_eq!(libraries.of_path(file.to_str().unwrap()), Some("Films"));
        let twice = Libraries::resolve(&[
            MediaArg {
                name: Some("x".into()),
                dir: films.clone(),
            },
            MediaArg {
                name: Some("x".into()),
                dir: films,
            },
        ]);
        assert!(twice.unwrap_err().to_string().contains("both named"));
    }
}
