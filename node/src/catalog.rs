//! The catalog: items and the persisted transcode queue in one SQLite (WAL) file.

use crate::profiles::Made;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

pub const FILE: &str = "catalog.sqlite";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("catalog database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("cannot create the data folder {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where an item is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pending,
    Transcoding,
    Ready,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Transcoding => "transcoding",
            State::Ready => "ready",
            State::Failed => "failed",
        }
    }

    pub const ALL: [State; 4] = [
        State::Pending,
        State::Transcoding,
        State::Ready,
        State::Failed,
    ];

    fn parse(s: &str) -> State {
        match s {
            "transcoding" => State::Transcoding,
            "ready" => State::Ready,
            "failed" => State::Failed,
            _ => State::Pending,
        }
    }
}

/// One media file in the library.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub id: i64,
    pub path: String,
    pub title: String,
    pub year: Option<i32>,
    pub season: Option<i32>,
    pub episode: Option<i32>,
    pub duration_s: Option<f64>,
    pub state: State,
    pub progress: f64,
    pub error: Option<String>,
    #[serde(skip)]
    pub probe: Option<String>,
}

/// What the scanner knows of a file already in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileKey {
    pub size: i64,
    pub mtime_ns: i64,
    pub inode: i64,
}

#[derive(Debug, Clone, Copy)]
pub struct Known {
    pub id: i64,
    pub key: FileKey,
    pub state: State,
}

/// A file to add or refresh: its name-derived metadata and probe result.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub path: String,
    pub key: FileKey,
    pub title: String,
    pub year: Option<i32>,
    pub season: Option<i32>,
    pub episode: Option<i32>,
    pub duration_s: Option<f64>,
    pub probe: Result<String, String>,
}

/// Changes found by one scan, applied in one transaction.
#[derive(Debug, Default)]
pub struct Changes {
    pub added: Vec<NewFile>,
    pub changed: Vec<(i64, NewFile)>,
    pub renamed: Vec<(i64, NewFile)>,
    pub removed: Vec<i64>,
}

/// A queue entry a worker has claimed.
#[derive(Debug, Clone)]
pub struct Claim {
    pub id: i64,
    pub path: String,
    pub version: i64,
    pub attempts: u32,
}

#[derive(Clone)]
pub struct Catalog {
    conn: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    title TEXT NOT NULL,
    year INTEGER,
    season INTEGER,
    episode INTEGER,
    duration_s REAL,
    probe TEXT,
    state TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    error TEXT,
    priority INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before_ms INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    lease_until_ms INTEGER NOT NULL DEFAULT 0,
    made_profile TEXT,
    made_fingerprint TEXT
);
CREATE INDEX IF NOT EXISTS items_queue ON items (state, priority DESC, id);
";

const ITEM_COLUMNS: &str =
    "id, path, title, year, season, episode, duration_s, state, progress, error, probe";

impl Catalog {
    /// Open (or create) `DATA/catalog.sqlite`.
    pub fn open(data_dir: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(data_dir).map_err(|source| Error::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let conn = Connection::open(data_dir.join(FILE))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Self::init(conn)
    }

    pub fn in_memory() -> Result<Self, Error> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, Error> {
        conn.execute_batch(SCHEMA)?;
        // Catalogs from before packages recorded their profile.
        let made_known = conn
            .prepare("SELECT 1 FROM pragma_table_info('items') WHERE name = 'made_profile'")?
            .exists([])?;
        if !made_known {
            conn.execute_batch(
                "ALTER TABLE items ADD COLUMN made_profile TEXT;
                 ALTER TABLE items ADD COLUMN made_fingerprint TEXT;",
            )?;
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn items(&self) -> Result<Vec<Item>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM items ORDER BY title COLLATE NOCASE, season, episode, id"
        ))?;
        let items = stmt
            .query_map([], item_from_row)?
            .collect::<Result<_, _>>()?;
        Ok(items)
    }

    pub fn item(&self, id: i64) -> Result<Option<Item>, Error> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {ITEM_COLUMNS} FROM items WHERE id = ?1"))?;
        Ok(stmt.query_row([id], item_from_row).optional()?)
    }

    /// Every file the catalog knows under `root`, by path.
    pub fn known_under(&self, root: &str) -> Result<HashMap<String, Known>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT path, id, size, mtime_ns, inode, state FROM items
             WHERE substr(path, 1, length(?1)) = ?1",
        )?;
        let rows = stmt.query_map([root], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Known {
                    id: r.get(1)?,
                    key: FileKey {
                        size: r.get(2)?,
                        mtime_ns: r.get(3)?,
                        inode: r.get(4)?,
                    },
                    state: State::parse(&r.get::<_, String>(5)?),
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Apply one scan's changes atomically.
    pub fn apply(&self, changes: &Changes) -> Result<(), Error> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO items (path, size, mtime_ns, inode, title, year, season, episode,
                                    duration_s, probe, state, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for f in &changes.added {
                insert.execute(rusqlite::params_from_iter(file_columns(f)))?;
            }
            let mut update = tx.prepare_cached(
                "UPDATE items SET path = ?1, size = ?2, mtime_ns = ?3, inode = ?4, title = ?5,
                    year = ?6, season = ?7, episode = ?8, duration_s = ?9, probe = ?10,
                    state = ?11, error = ?12, progress = 0, attempts = 0, not_before_ms = 0,
                    version = version + 1
                 WHERE id = ?13",
            )?;
            for (id, f) in &changes.changed {
                let mut columns = file_columns(f);
                columns.push((*id).into());
                update.execute(rusqlite::params_from_iter(columns))?;
            }
            let mut rename = tx.prepare_cached(
                "UPDATE items SET path = ?2, title = ?3, year = ?4, season = ?5, episode = ?6
                 WHERE id = ?1",
            )?;
            for (id, f) in &changes.renamed {
                rename.execute(params![id, f.path, f.title, f.year, f.season, f.episode])?;
            }
            let mut delete = tx.prepare_cached("DELETE FROM items WHERE id = ?1")?;
            for id in &changes.removed {
                delete.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Take the next due queue entry: highest priority first, then oldest. A remote worker's
    /// claim holds a lease until `lease_until_ms` (0: held until this process stops).
    pub fn claim(&self, now_ms: i64, lease_until_ms: i64) -> Result<Option<Claim>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "UPDATE items SET state = 'transcoding', progress = 0, attempts = attempts + 1,
                lease_until_ms = ?2
             WHERE id = (SELECT id FROM items WHERE state = 'pending' AND not_before_ms <= ?1
                         ORDER BY priority DESC, id LIMIT 1)
             RETURNING id, path, version, attempts",
        )?;
        let claim = stmt
            .query_row([now_ms, lease_until_ms], claim_from_row)
            .optional()?;
        Ok(claim)
    }

    /// Extend a remote worker's lease (and record its progress). False if the lease was lost:
    /// it expired and the item went back to the queue, or the file changed.
    pub fn renew_lease(&self, claim: &Claim, until_ms: i64, progress: f64) -> Result<bool, Error> {
        let n = self
            .conn()
            .prepare_cached(
                "UPDATE items SET lease_until_ms = ?3, progress = ?4
                 WHERE id = ?1 AND version = ?2 AND state = 'transcoding' AND attempts = ?5",
            )?
            .execute(params![
                claim.id,
                claim.version,
                until_ms,
                progress,
                claim.attempts
            ])?;
        Ok(n == 1)
    }

    /// The claim a worker holds on `id`, if it is still transcoding at that version/attempt.
    pub fn current_claim(&self, id: i64) -> Result<Option<Claim>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, path, version, attempts FROM items WHERE id = ?1 AND state = 'transcoding'",
        )?;
        let claim = stmt.query_row([id], claim_from_row).optional()?;
        Ok(claim)
    }

    /// Items whose worker stopped renewing its lease go back to the queue.
    pub fn requeue_expired(&self, now_ms: i64) -> Result<usize, Error> {
        let n = self.conn().execute(
            "UPDATE items SET state = 'pending', progress = 0, lease_until_ms = 0
             WHERE state = 'transcoding' AND lease_until_ms > 0 AND lease_until_ms < ?1",
            [now_ms],
        )?;
        Ok(n)
    }

    /// Pending entries a worker could claim now (not waiting for a retry backoff).
    pub fn claimable(&self, now_ms: i64) -> Result<i64, Error> {
        let n = self.conn().query_row(
            "SELECT count(*) FROM items WHERE state = 'pending' AND not_before_ms <= ?1",
            [now_ms],
            |r| r.get(0),
        )?;
        Ok(n)
    }

    /// Earliest time a pending entry becomes due, if any is waiting on a backoff.
    pub fn next_due_ms(&self) -> Result<Option<i64>, Error> {
        let conn = self.conn();
        let due = conn.query_row(
            "SELECT min(not_before_ms) FROM items WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )?;
        Ok(due)
    }

    pub fn set_progress(&self, id: i64, progress: f64) -> Result<(), Error> {
        self.conn()
            .prepare_cached(
                "UPDATE items SET progress = ?2 WHERE id = ?1 AND state = 'transcoding'",
            )?
            .execute(params![id, progress])?;
        Ok(())
    }

    /// Mark a claimed entry ready, made with `made` when known. False if the file changed
    /// meanwhile (the result is stale).
    pub fn finish_ready(&self, claim: &Claim, made: Option<&Made>) -> Result<bool, Error> {
        let n = self
            .conn()
            .prepare_cached(
                "UPDATE items SET state = 'ready', progress = 1, error = NULL,
                    made_profile = ?3, made_fingerprint = ?4
                 WHERE id = ?1 AND version = ?2 AND state = 'transcoding'",
            )?
            .execute(params![
                claim.id,
                claim.version,
                made.map(|m| &m.profile),
                made.map(|m| &m.fingerprint)
            ])?;
        Ok(n == 1)
    }

    /// Queue again the ready items made with a profile that is gone or has changed since
    /// (`current`: name → fingerprint). Their old package is served until the new one is
    /// published. Items made without a known profile are left alone.
    pub fn requeue_outdated(&self, current: &BTreeMap<String, String>) -> Result<usize, Error> {
        let conn = self.conn();
        let tx = conn.unchecked_transaction()?;
        let mut stale = Vec::new();
        {
            let mut stmt = tx.prepare_cached(
                "SELECT id, made_profile, made_fingerprint FROM items
                 WHERE state = 'ready' AND made_profile IS NOT NULL",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            for row in rows {
                let (id, profile, fingerprint) = row?;
                if current.get(&profile) != Some(&fingerprint) {
                    stale.push(id);
                }
            }
            let mut requeue = tx.prepare_cached(
                "UPDATE items SET state = 'pending', progress = 0, attempts = 0, not_before_ms = 0
                 WHERE id = ?1 AND state = 'ready'",
            )?;
            for id in &stale {
                requeue.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(stale.len())
    }

    /// Record a failed attempt: back to the queue at `retry_at_ms`, or `failed` for good.
    pub fn finish_failed(
        &self,
        claim: &Claim,
        error: &str,
        retry_at_ms: Option<i64>,
    ) -> Result<(), Error> {
        let (state, not_before) = match retry_at_ms {
            Some(at) => ("pending", at),
            None => ("failed", 0),
        };
        self.conn()
            .prepare_cached(
                "UPDATE items SET state = ?3, error = ?4, not_before_ms = ?5, progress = 0
                 WHERE id = ?1 AND version = ?2 AND state = 'transcoding'",
            )?
            .execute(params![claim.id, claim.version, state, error, not_before])?;
        Ok(())
    }

    /// Move an item to the front of the queue. Pending items get the top priority; failed and
    /// ready ones are queued again (retry, re-transcode); a running transcode is left alone.
    pub fn prioritize(&self, id: i64) -> Result<Option<Item>, Error> {
        self.conn()
            .prepare_cached(
                "UPDATE items SET priority = (SELECT coalesce(max(priority), 0) + 1 FROM items),
                    state = 'pending', not_before_ms = 0, attempts = 0,
                    error = CASE WHEN state = 'failed' THEN NULL ELSE error END
                 WHERE id = ?1 AND state != 'transcoding' AND probe IS NOT NULL",
            )?
            .execute([id])?;
        self.item(id)
    }

    /// After a crash, entries that were transcoding go back to the queue.
    pub fn requeue_interrupted(&self) -> Result<usize, Error> {
        let n = self.conn().execute(
            "UPDATE items SET state = 'pending', progress = 0 WHERE state = 'transcoding'",
            [],
        )?;
        Ok(n)
    }

    pub fn count_by_state(&self) -> Result<HashMap<&'static str, i64>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT state, count(*) FROM items GROUP BY state")?;
        let mut counts: HashMap<&'static str, i64> =
            State::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (state, n) = row?;
            counts.insert(State::parse(&state).as_str(), n);
        }
        Ok(counts)
    }
}

/// The columns a scanned file sets, in insert order. Files whose probe failed go straight to
/// `failed` with the probe's error; the others join the queue.
fn file_columns(f: &NewFile) -> Vec<rusqlite::types::Value> {
    let (probe, state, error) = match &f.probe {
        Ok(json) => (Some(json.clone()), "pending", None),
        Err(e) => (None, "failed", Some(e.clone())),
    };
    vec![
        f.path.clone().into(),
        f.key.size.into(),
        f.key.mtime_ns.into(),
        f.key.inode.into(),
        f.title.clone().into(),
        f.year.into(),
        f.season.into(),
        f.episode.into(),
        f.duration_s.into(),
        probe.into(),
        state.to_owned().into(),
        error.into(),
    ]
}

fn claim_from_row(r: &rusqlite::Row) -> rusqlite::Result<Claim> {
    Ok(Claim {
        id: r.get(0)?,
        path: r.get(1)?,
        version: r.get(2)?,
        attempts: r.get(3)?,
    })
}

fn item_from_row(r: &rusqlite::Row) -> rusqlite::Result<Item> {
    Ok(Item {
        id: r.get(0)?,
        path: r.get(1)?,
        title: r.get(2)?,
        year: r.get(3)?,
        season: r.get(4)?,
        episode: r.get(5)?,
        duration_s: r.get(6)?,
        state: State::parse(&r.get::<_, String>(7)?),
        progress: r.get(8)?,
        error: r.get(9)?,
        probe: r.get(10)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, inode: i64, probe: Result<&str, &str>) -> NewFile {
        NewFile {
            path: path.into(),
            key: FileKey {
                size: 10,
                mtime_ns: 1,
                inode,
            },
            title: path.trim_start_matches('/').into(),
            year: None,
            season: None,
            episode: None,
            duration_s: Some(1.0),
            probe: probe.map(str::to_owned).map_err(str::to_owned),
        }
    }

    fn catalog_with(paths: &[&str]) -> Catalog {
        let c = Catalog::in_memory().unwrap();
        let added = paths
            .iter()
            .enumerate()
            .map(|(i, p)| file(p, i as i64, Ok("{}")))
            .collect();
        c.apply(&Changes {
            added,
            ..Changes::default()
        })
        .unwrap();
        c
    }

    #[test]
    fn queue_is_fifo_and_prioritize_jumps_it() {
        let c = catalog_with(&["/m/a", "/m/b", "/m/c"]);
        c.prioritize(3).unwrap();
        let order: Vec<i64> = std::iter::from_fn(|| c.claim(0, 0).unwrap())
            .map(|c| c.id)
            .collect();
        assert_eq!(order, [3, 1, 2]);
    }

    #[test]
    fn backoff_delays_the_retry() {
        let c = catalog_with(&["/m/a"]);
        let claim = c.claim(0, 0).unwrap().unwrap();
        c.finish_failed(&claim, "boom", Some(5_000)).unwrap();
        assert_eq!(c.claimable(4_999).unwrap(), 0, "waiting for its retry");
        assert!(c.claim(4_999, 0).unwrap().is_none());
        assert_eq!(c.claimable(5_000).unwrap(), 1);
        let again = c.claim(5_000, 0).unwrap().unwrap();
        assert_eq!(again.attempts, 2);
        c.finish_failed(&again, "boom twice", None).unwrap();
        let item = c.item(1).unwrap().unwrap();
        assert_eq!(
            (item.state, item.error.as_deref()),
            (State::Failed, Some("boom twice"))
        );
    }

    #[test]
    fn a_file_changed_mid_transcode_is_not_marked_ready() {
        let c = catalog_with(&["/m/a"]);
        let claim = c.claim(0, 0).unwrap().unwrap();
        c.apply(&Changes {
            changed: vec![(1, file("/m/a", 0, Ok("{}")))],
            ..Changes::default()
        })
        .unwrap();
        assert!(!c.finish_ready(&claim, None).unwrap());
        assert_eq!(c.item(1).unwrap().unwrap().state, State::Pending);
    }

    #[test]
    fn an_expired_lease_requeues_and_the_old_worker_loses_it() {
        let c = catalog_with(&["/m/a"]);
        let first = c.claim(0, 1_000).unwrap().unwrap();
        assert!(c.renew_lease(&first, 2_000, 0.5).unwrap());
        assert_eq!(c.requeue_expired(1_999).unwrap(), 0);
        assert_eq!(c.requeue_expired(2_001).unwrap(), 1);
        let second = c.claim(2_001, 5_000).unwrap().unwrap();
        assert_eq!(second.attempts, 2);
        assert!(
            !c.renew_lease(&first, 9_000, 0.9).unwrap(),
            "the dead worker's lease is gone"
        );
        assert!(c.renew_lease(&second, 9_000, 0.9).unwrap());
    }

    #[test]
    fn an_edited_or_removed_profile_requeues_what_it_made() {
        let c = catalog_with(&["/m/a", "/m/b", "/m/c"]);
        let made = |profile: &str, fingerprint: &str| Made {
            profile: profile.into(),
            fingerprint: fingerprint.into(),
        };
        let a = c.claim(0, 0).unwrap().unwrap();
        assert!(c.finish_ready(&a, Some(&made("standard", "f1"))).unwrap());
        let b = c.claim(0, 0).unwrap().unwrap();
        assert!(c.finish_ready(&b, Some(&made("mobile", "m1"))).unwrap());
        let unknown = c.claim(0, 0).unwrap().unwrap();
        assert!(c.finish_ready(&unknown, None).unwrap());

        let current = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(p, f)| (p.to_string(), f.to_string()))
                .collect()
        };
        let same = current(&[("standard", "f1"), ("mobile", "m1")]);
        assert_eq!(c.requeue_outdated(&same).unwrap(), 0);
        let edited = current(&[("standard", "f2"), ("mobile", "m1")]);
        assert_eq!(c.requeue_outdated(&edited).unwrap(), 1);
        let again = c.claim(0, 0).unwrap().unwrap();
        assert_eq!(
            (again.id, again.attempts),
            (a.id, 1),
            "a fresh start, not a retry"
        );
        assert!(
            c.finish_ready(&again, Some(&made("standard", "f2")))
                .unwrap()
        );
        let mobile_removed = current(&[("standard", "f2")]);
        assert_eq!(c.requeue_outdated(&mobile_removed).unwrap(), 1);
        assert_eq!(c.claim(0, 0).unwrap().unwrap().id, b.id);
        assert_eq!(
            c.count_by_state().unwrap()["ready"],
            2,
            "a and the unknown one"
        );
    }

    #[test]
    fn interrupted_work_is_requeued() {
        let c = catalog_with(&["/m/a", "/m/b"]);
        c.claim(0, 0).unwrap().unwrap();
        assert_eq!(c.requeue_interrupted().unwrap(), 1);
        assert_eq!(c.count_by_state().unwrap()["pending"], 2);
    }

    #[test]
    fn unprobeable_files_fail_at_once_and_cannot_be_queued() {
        let c = Catalog::in_memory().unwrap();
        let added = vec![file("/m/notes.mp4", 1, Err("not a media file"))];
        c.apply(&Changes {
            added,
            ..Changes::default()
        })
        .unwrap();
        assert!(c.claim(0, 0).unwrap().is_none());
        let item = c.prioritize(1).unwrap().unwrap();
        assert_eq!(item.state, State::Failed);
    }
}
