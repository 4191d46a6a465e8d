//! The catalog: items and the persisted transcode queue in one SQLite (WAL) file.

use crate::profiles::Made;
use rusqlite::{Connection, OptionalExtension, ToSql, params};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

pub const FILE: &str = "catalog.sqlite";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("catalog database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Open(#[from] crate::db::OpenError),
}

/// Where an item is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
    /// When the scanner first cataloged the file (ms since the Unix epoch; for items cataloged
    /// before this was kept, the file's modification time).
    pub added_ms: i64,
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

/// A queue entry a worker has claimed: one item, to be packaged with one profile.
#[derive(Debug, Clone)]
pub struct Claim {
    pub id: i64,
    pub profile: String,
    pub path: String,
    pub version: i64,
    pub attempts: u32,
}

/// One profile's package of an item, as the queue sees it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PackageState {
    pub profile: String,
    pub state: State,
    pub progress: f64,
    pub error: Option<String>,
}

/// What changing the library's profiles did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ProfileChanges {
    /// Packages queued again because their profile changed.
    pub requeued: usize,
    /// Items that lost the package of a removed profile (their master needs rebuilding).
    pub dropped: Vec<i64>,
}

#[derive(Clone)]
pub struct Catalog {
    conn: Arc<Mutex<Connection>>,
}

/// `items` holds the files; `packages` the queue, one row per (item, profile) the library
/// wants; `profiles` the wanted profiles and their fingerprints. An item's `state`,
/// `progress` and `error` sum up its packages (kept by the triggers below).
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
    version INTEGER NOT NULL DEFAULT 1,
    added_ms INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS profiles (
    name TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS packages (
    item_id INTEGER NOT NULL,
    profile TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    progress REAL NOT NULL DEFAULT 0,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before_ms INTEGER NOT NULL DEFAULT 0,
    lease_until_ms INTEGER NOT NULL DEFAULT 0,
    -- The profile version the package was (or is being) made with.
    fingerprint TEXT,
    PRIMARY KEY (item_id, profile)
);
CREATE INDEX IF NOT EXISTS packages_queue ON packages (profile, state);
";

/// Sums up one item's packages: the least finished state wins (transcoding, pending, failed,
/// ready); an item without packages is pending, or failed when it could not be probed.
const SUM_UP: &str = "
UPDATE items SET
    state = coalesce(
        (SELECT CASE WHEN sum(state = 'transcoding') > 0 THEN 'transcoding'
                     WHEN sum(state = 'pending') > 0 THEN 'pending'
                     WHEN sum(state = 'failed') > 0 THEN 'failed'
                     ELSE 'ready' END
         FROM packages WHERE item_id = items.id HAVING count(*) > 0),
        CASE WHEN probe IS NULL THEN 'failed' ELSE 'pending' END),
    progress = coalesce(
        (SELECT avg(CASE WHEN state = 'ready' THEN 1.0 ELSE progress END)
         FROM packages WHERE item_id = items.id), 0),
    error = CASE WHEN probe IS NULL THEN error ELSE
        (SELECT CASE WHEN count(*) = 1 THEN max(error)
                     ELSE group_concat(profile || ': ' || error, '; ') END
         FROM packages WHERE item_id = items.id AND error IS NOT NULL) END
WHERE id = ";

/// The columns of `packages` that are claimed, with the item's path and version.
const CLAIM_COLUMNS: &str = "p.item_id, p.profile, i.path, i.version, p.attempts";

const ITEM_COLUMNS: &str =
    "id, path, title, year, season, episode, duration_s, state, progress, error, probe, added_ms";

impl Catalog {
    /// Open (or create) `DATA/catalog.sqlite`.
    pub fn open(data_dir: &Path) -> Result<Self, Error> {
        let conn = crate::db::open(data_dir, FILE)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Self::init(conn)
    }

    pub fn in_memory() -> Result<Self, Error> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, Error> {
        conn.execute_batch(SCHEMA)?;
        add_added_ms(&conn)?;
        // Recreated at every start, so a newer binary's summing-up replaces an older one's.
        for (event, row) in [("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")] {
            let name = format!("packages_sum_up_{}", event.to_lowercase());
            conn.execute_batch(&format!(
                "DROP TRIGGER IF EXISTS {name};
                 CREATE TRIGGER {name} AFTER {event} ON packages
                 BEGIN {SUM_UP} {row}.item_id; END;"
            ))?;
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

    pub fn item_path(&self, id: i64) -> Result<Option<String>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT path FROM items WHERE id = ?1")?;
        Ok(stmt.query_row([id], |r| r.get(0)).optional()?)
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

    /// Apply one scan's changes atomically. New and changed files are queued for every
    /// wanted profile; a file that no longer probes has no packages to make.
    pub fn apply(&self, changes: &Changes) -> Result<(), Error> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO items (path, size, mtime_ns, inode, title, year, season, episode,
                                    duration_s, probe, state, error, added_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            let now = crate::worker::now_ms();
            for f in &changes.added {
                let mut columns = file_columns(f);
                columns.push(now.into());
                insert.execute(rusqlite::params_from_iter(columns))?;
            }
            let mut update = tx.prepare_cached(
                "UPDATE items SET path = ?1, size = ?2, mtime_ns = ?3, inode = ?4, title = ?5,
                    year = ?6, season = ?7, episode = ?8, duration_s = ?9, probe = ?10,
                    state = ?11, error = ?12, progress = 0, version = version + 1
                 WHERE id = ?13",
            )?;
            let mut restart = tx.prepare_cached(
                "UPDATE packages SET state = 'pending', progress = 0, error = NULL, attempts = 0,
                    not_before_ms = 0, lease_until_ms = 0
                 WHERE item_id = ?1",
            )?;
            for (id, f) in &changes.changed {
                let mut columns = file_columns(f);
                columns.push((*id).into());
                update.execute(rusqlite::params_from_iter(columns))?;
                restart.execute([id])?;
            }
            let mut rename = tx.prepare_cached(
                "UPDATE items SET path = ?2, title = ?3, year = ?4, season = ?5, episode = ?6
                 WHERE id = ?1",
            )?;
            for (id, f) in &changes.renamed {
                rename.execute(params![id, f.path, f.title, f.year, f.season, f.episode])?;
            }
            let mut delete_packages =
                tx.prepare_cached("DELETE FROM packages WHERE item_id = ?1")?;
            let mut delete_item = tx.prepare_cached("DELETE FROM items WHERE id = ?1")?;
            for id in &changes.removed {
                delete_packages.execute([id])?;
                delete_item.execute([id])?;
            }
        }
        if !changes.added.is_empty() || !changes.changed.is_empty() {
            tx.execute_batch(
                "DELETE FROM packages WHERE item_id IN (SELECT id FROM items WHERE probe IS NULL);",
            )?;
            fill_queue(&tx)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Make `current` (name → fingerprint) the library's profiles: the packages of a removed
    /// profile are dropped, those made with an older version of a profile are queued again
    /// (the old package is served until the new one is published), and every item gets a
    /// queue entry for every new profile.
    pub fn set_profiles(
        &self,
        current: &BTreeMap<String, String>,
    ) -> Result<ProfileChanges, Error> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut changes = ProfileChanges::default();
        {
            let known: Vec<String> = tx
                .prepare_cached("SELECT name FROM profiles")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for name in known.iter().filter(|n| !current.contains_key(*n)) {
                let dropped: Vec<i64> = tx
                    .prepare_cached("DELETE FROM packages WHERE profile = ?1 RETURNING item_id")?
                    .query_map([name], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                changes.dropped.extend(dropped);
                tx.execute("DELETE FROM profiles WHERE name = ?1", [name])?;
            }
            let mut upsert = tx.prepare_cached(
                "INSERT INTO profiles (name, fingerprint) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET fingerprint = excluded.fingerprint",
            )?;
            for (name, fingerprint) in current {
                upsert.execute([name, fingerprint])?;
            }
            changes.requeued = tx.execute(
                "UPDATE packages SET state = 'pending', progress = 0, error = NULL, attempts = 0,
                    not_before_ms = 0
                 WHERE state IN ('ready', 'failed')
                   AND fingerprint IS NOT (SELECT fingerprint FROM profiles WHERE name = profile)",
                [],
            )?;
        }
        fill_queue(&tx)?;
        tx.commit()?;
        changes.dropped.sort_unstable();
        changes.dropped.dedup();
        Ok(changes)
    }

    /// An item's packages, by profile.
    pub fn packages_of(&self, id: i64) -> Result<Vec<PackageState>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT profile, state, progress, error FROM packages WHERE item_id = ?1
             ORDER BY profile",
        )?;
        let packages = stmt
            .query_map([id], |r| {
                Ok(PackageState {
                    profile: r.get(0)?,
                    state: State::parse(&r.get::<_, String>(1)?),
                    progress: r.get(2)?,
                    error: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(packages)
    }

    /// The library's profiles, by name.
    pub fn profiles(&self) -> Result<Vec<String>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT name FROM profiles ORDER BY name")?;
        let names = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(names)
    }

    /// Take the next due package to make with `made`: highest priority first, then oldest
    /// item. None when there is nothing to do, or when `made` is not a current profile of the
    /// library (a worker started before the profile was edited). A remote worker's claim
    /// holds a lease until `lease_until_ms` (0: held until this process stops).
    pub fn claim(
        &self,
        made: &Made,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Option<Claim>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "UPDATE packages SET state = 'transcoding', progress = 0,
                attempts = attempts + 1, lease_until_ms = ?4, fingerprint = ?2
             WHERE rowid = (
                 SELECT p.rowid FROM packages AS p JOIN items AS i ON i.id = p.item_id
                 WHERE p.profile = ?1 AND p.state = 'pending' AND p.not_before_ms <= ?3
                   AND EXISTS (SELECT 1 FROM profiles WHERE name = ?1 AND fingerprint = ?2)
                 ORDER BY i.priority DESC, i.id LIMIT 1)
             RETURNING item_id, profile,
                (SELECT path FROM items WHERE id = item_id),
                (SELECT version FROM items WHERE id = item_id), attempts",
        )?;
        let claim = stmt
            .query_row(
                params![made.profile, made.fingerprint, now_ms, lease_until_ms],
                claim_from_row,
            )
            .optional()?;
        Ok(claim)
    }

    /// Extend a remote worker's lease (and record its progress). False if the lease was lost:
    /// it expired and the package went back to the queue, or the file changed.
    pub fn renew_lease(&self, claim: &Claim, until_ms: i64, progress: f64) -> Result<bool, Error> {
        let n = self.update_held(
            "lease_until_ms = ?5, progress = ?6",
            claim,
            &[&until_ms, &progress],
        )?;
        Ok(n == 1)
    }

    /// The claim a worker holds on `id` for `profile`, if that package is being made.
    pub fn current_claim(&self, id: i64, profile: &str) -> Result<Option<Claim>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {CLAIM_COLUMNS} FROM packages AS p JOIN items AS i ON i.id = p.item_id
             WHERE p.item_id = ?1 AND p.profile = ?2 AND p.state = 'transcoding'"
        ))?;
        let claim = stmt
            .query_row(params![id, profile], claim_from_row)
            .optional()?;
        Ok(claim)
    }

    /// Packages whose worker stopped renewing its lease go back to the queue.
    pub fn requeue_expired(&self, now_ms: i64) -> Result<usize, Error> {
        let n = self.conn().execute(
            "UPDATE packages SET state = 'pending', progress = 0, lease_until_ms = 0
             WHERE state = 'transcoding' AND lease_until_ms > 0 AND lease_until_ms < ?1",
            [now_ms],
        )?;
        Ok(n)
    }

    /// Pending packages a worker could claim now (not waiting for a retry backoff), by profile.
    pub fn claimable(&self, now_ms: i64) -> Result<BTreeMap<String, i64>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT profile, count(*) FROM packages
             WHERE state = 'pending' AND not_before_ms <= ?1 GROUP BY profile",
        )?;
        let counts = stmt
            .query_map([now_ms], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(counts)
    }

    /// Earliest time a pending package of `profile` becomes due, if any is waiting.
    pub fn next_due_ms(&self, profile: &str) -> Result<Option<i64>, Error> {
        let conn = self.conn();
        let due = conn.query_row(
            "SELECT min(not_before_ms) FROM packages WHERE state = 'pending' AND profile = ?1",
            [profile],
            |r| r.get(0),
        )?;
        Ok(due)
    }

    pub fn set_progress(&self, claim: &Claim, progress: f64) -> Result<(), Error> {
        self.conn()
            .prepare_cached(
                "UPDATE packages SET progress = ?3
                 WHERE item_id = ?1 AND profile = ?2 AND state = 'transcoding'",
            )?
            .execute(params![claim.id, claim.profile, progress])?;
        Ok(())
    }

    /// Mark a claimed package ready. False if the file changed meanwhile (the result is
    /// stale). A package made with a profile edited meanwhile is published but queued again.
    pub fn finish_ready(&self, claim: &Claim) -> Result<bool, Error> {
        let n = self.update_held(
            "progress = 1, error = NULL, lease_until_ms = 0,
             state = CASE WHEN fingerprint IS
                              (SELECT fingerprint FROM profiles WHERE name = profile)
                          THEN 'ready' ELSE 'pending' END,
             attempts = CASE WHEN fingerprint IS
                                 (SELECT fingerprint FROM profiles WHERE name = profile)
                             THEN attempts ELSE 0 END",
            claim,
            &[],
        )?;
        Ok(n == 1)
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
        self.update_held(
            "state = ?5, error = ?6, not_before_ms = ?7, progress = 0, lease_until_ms = 0",
            claim,
            &[&state, &error, &not_before],
        )?;
        Ok(())
    }

    /// `UPDATE packages SET {set}` on the package `claim` names while it is still that claim's
    /// (see [`HELD`]); `set` takes `extra` as ?5, ?6, …. Returns the rows changed (0 or 1).
    fn update_held(&self, set: &str, claim: &Claim, extra: &[&dyn ToSql]) -> Result<usize, Error> {
        let mut values: Vec<&dyn ToSql> =
            vec![&claim.id, &claim.profile, &claim.version, &claim.attempts];
        values.extend_from_slice(extra);
        let n = self
            .conn()
            .prepare_cached(&format!("UPDATE packages SET {set} WHERE {HELD}"))?
            .execute(values.as_slice())?;
        Ok(n)
    }

    /// Move an item to the front of the queue. Its pending packages get the top priority;
    /// failed and ready ones are queued again (retry, re-transcode); running ones are left
    /// alone. Unprobeable files have nothing to queue.
    pub fn prioritize(&self, id: i64) -> Result<Option<Item>, Error> {
        {
            let conn = self.conn();
            conn.prepare_cached(
                "UPDATE items SET priority = (SELECT coalesce(max(priority), 0) + 1 FROM items)
                 WHERE id = ?1 AND probe IS NOT NULL",
            )?
            .execute([id])?;
            conn.prepare_cached(
                "UPDATE packages SET state = 'pending', not_before_ms = 0, attempts = 0,
                    error = CASE WHEN state = 'failed' THEN NULL ELSE error END
                 WHERE item_id = ?1 AND state != 'transcoding'",
            )?
            .execute([id])?;
        }
        self.item(id)
    }

    /// After a crash, packages that were being made go back to the queue.
    pub fn requeue_interrupted(&self) -> Result<usize, Error> {
        let n = self.conn().execute(
            "UPDATE packages SET state = 'pending', progress = 0, lease_until_ms = 0
             WHERE state = 'transcoding'",
            [],
        )?;
        Ok(n)
    }

    /// Items by their summed-up state.
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

/// Matches the package a claim names, while it is still that claim's: same item version and
/// attempt, still being made. Parameters ?1–?4: id, profile, version, attempts.
const HELD: &str = "item_id = ?1 AND profile = ?2 AND attempts = ?4 AND state = 'transcoding'
    AND (SELECT version FROM items WHERE id = ?1) = ?3";

/// Give every probed item a queue entry for every wanted profile it lacks.
fn fill_queue(tx: &rusqlite::Transaction) -> Result<(), Error> {
    tx.execute_batch(
        "INSERT OR IGNORE INTO packages (item_id, profile)
         SELECT items.id, profiles.name FROM items, profiles WHERE items.probe IS NOT NULL;",
    )?;
    Ok(())
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
        profile: r.get(1)?,
        path: r.get(2)?,
        version: r.get(3)?,
        attempts: r.get(4)?,
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
        added_ms: r.get(11)?,
    })
}

/// Catalogs made before `added_ms` existed get the column, with each file's modification time
/// as the best guess of when it came.
fn add_added_ms(conn: &Connection) -> rusqlite::Result<()> {
    let has = conn
        .prepare("SELECT 1 FROM pragma_table_info('items') WHERE name = 'added_ms'")?
        .exists([])?;
    if !has {
        conn.execute_batch(
            "ALTER TABLE items ADD COLUMN added_ms INTEGER NOT NULL DEFAULT 0;
             UPDATE items SET added_ms = mtime_ns / 1000000;",
        )?;
    }
    Ok(())
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

    fn made(profile: &str, fingerprint: &str) -> Made {
        Made {
            profile: profile.into(),
            fingerprint: fingerprint.into(),
        }
    }

    fn profiles(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(p, f)| (p.to_string(), f.to_string()))
            .collect()
    }

    /// A catalog of `paths` whose one profile is `standard` (fingerprint `f1`).
    fn catalog_with(paths: &[&str]) -> Catalog {
        let c = Catalog::in_memory().unwrap();
        c.set_profiles(&profiles(&[("standard", "f1")])).unwrap();
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

    fn standard() -> Made {
        made("standard", "f1")
    }

    fn state_of(c: &Catalog, id: i64) -> State {
        c.item(id).unwrap().unwrap().state
    }

    #[test]
    fn queue_is_fifo_and_prioritize_jumps_it() {
        let c = catalog_with(&["/m/a", "/m/b", "/m/c"]);
        c.prioritize(3).unwrap();
        let order: Vec<i64> = std::iter::from_fn(|| c.claim(&standard(), 0, 0).unwrap())
            .map(|c| c.id)
            .collect();
        assert_eq!(order, [3, 1, 2]);
    }

    #[test]
    fn backoff_delays_the_retry() {
        let c = catalog_with(&["/m/a"]);
        let claim = c.claim(&standard(), 0, 0).unwrap().unwrap();
        c.finish_failed(&claim, "boom", Some(5_000)).unwrap();
        assert!(
            c.claimable(4_999).unwrap().is_empty(),
            "waiting for its retry"
        );
        assert!(c.claim(&standard(), 4_999, 0).unwrap().is_none());
        assert_eq!(c.claimable(5_000).unwrap()["standard"], 1);
        let again = c.claim(&standard(), 5_000, 0).unwrap().unwrap();
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
        let claim = c.claim(&standard(), 0, 0).unwrap().unwrap();
        c.apply(&Changes {
            changed: vec![(1, file("/m/a", 0, Ok("{}")))],
            ..Changes::default()
        })
        .unwrap();
        assert!(!c.finish_ready(&claim).unwrap());
        assert_eq!(state_of(&c, 1), State::Pending);
    }

    #[test]
    fn an_expired_lease_requeues_and_the_old_worker_loses_it() {
        let c = catalog_with(&["/m/a"]);
        let first = c.claim(&standard(), 0, 1_000).unwrap().unwrap();
        assert!(c.renew_lease(&first, 2_000, 0.5).unwrap());
        assert_eq!(c.requeue_expired(1_999).unwrap(), 0);
        assert_eq!(c.requeue_expired(2_001).unwrap(), 1);
        let second = c.claim(&standard(), 2_001, 5_000).unwrap().unwrap();
        assert_eq!(second.attempts, 2);
        assert!(
            !c.renew_lease(&first, 9_000, 0.9).unwrap(),
            "the dead worker's lease is gone"
        );
        assert!(c.renew_lease(&second, 9_000, 0.9).unwrap());
    }

    #[test]
    fn every_profile_makes_its_own_package_of_every_item() {
        let c = catalog_with(&["/m/a", "/m/b"]);
        let mobile = made("mobile", "m1");
        c.set_profiles(&profiles(&[("standard", "f1"), ("mobile", "m1")]))
            .unwrap();
        assert_eq!(c.profiles().unwrap(), ["mobile", "standard"]);
        assert_eq!(
            c.claimable(0).unwrap(),
            profiles(&[("mobile", "2"), ("standard", "2")])
                .into_iter()
                .map(|(p, n)| (p, n.parse().unwrap()))
                .collect()
        );
        let a = c.claim(&standard(), 0, 0).unwrap().unwrap();
        let a_mobile = c.claim(&mobile, 0, 0).unwrap().unwrap();
        assert_eq!(
            (a.id, a_mobile.id),
            (1, 1),
            "the same item, once per profile"
        );
        assert_eq!(a_mobile.profile, "mobile");
        assert!(c.finish_ready(&a).unwrap());
        assert_eq!(
            state_of(&c, 1),
            State::Transcoding,
            "not ready while mobile runs"
        );
        assert_eq!(c.item(1).unwrap().unwrap().progress, 0.5);
        c.finish_failed(&a_mobile, "too small", None).unwrap();
        let item = c.item(1).unwrap().unwrap();
        assert_eq!(
            (item.state, item.error.as_deref()),
            (State::Failed, Some("too small"))
        );
        let states: Vec<(String, State)> = c
            .packages_of(1)
            .unwrap()
            .into_iter()
            .map(|p| (p.profile, p.state))
            .collect();
        assert_eq!(
            states,
            [
                ("mobile".to_string(), State::Failed),
                ("standard".to_string(), State::Ready)
            ]
        );
        assert!(
            c.claim(&made("hevc", "h1"), 0, 0).unwrap().is_none(),
            "not a profile of this library"
        );
    }

    #[test]
    fn an_edited_or_removed_profile_requeues_or_drops_what_it_made() {
        let c = catalog_with(&["/m/a", "/m/b"]);
        c.set_profiles(&profiles(&[("standard", "f1"), ("mobile", "m1")]))
            .unwrap();
        for m in [standard(), made("mobile", "m1")] {
            while let Some(claim) = c.claim(&m, 0, 0).unwrap() {
                assert!(c.finish_ready(&claim).unwrap());
            }
        }
        assert_eq!(c.count_by_state().unwrap()["ready"], 2);

        let same = c
            .set_profiles(&profiles(&[("standard", "f1"), ("mobile", "m1")]))
            .unwrap();
        assert_eq!(same, ProfileChanges::default());
        let edited = c
            .set_profiles(&profiles(&[("standard", "f2"), ("mobile", "m1")]))
            .unwrap();
        assert_eq!(edited.requeued, 2);
        assert_eq!(c.count_by_state().unwrap()["pending"], 2);
        assert!(
            c.claim(&standard(), 0, 0).unwrap().is_none(),
            "a worker with the old version gets nothing"
        );
        let again = c.claim(&made("standard", "f2"), 0, 0).unwrap().unwrap();
        assert_eq!(again.attempts, 1, "a fresh start, not a retry");

        let removed = c.set_profiles(&profiles(&[("standard", "f2")])).unwrap();
        assert_eq!(removed.dropped, [1, 2]);
        assert_eq!(c.claimable(0).unwrap().len(), 1, "only standard is left");
    }

    #[test]
    fn a_package_made_while_its_profile_was_edited_is_made_again() {
        let c = catalog_with(&["/m/a"]);
        let old = c.claim(&standard(), 0, 0).unwrap().unwrap();
        c.set_profiles(&profiles(&[("standard", "f2")])).unwrap();
        assert!(c.finish_ready(&old).unwrap());
        assert_eq!(state_of(&c, 1), State::Pending);
        assert!(c.claim(&standard(), 0, 0).unwrap().is_none());
        assert!(c.claim(&made("standard", "f2"), 0, 0).unwrap().is_some());
    }

    #[test]
    fn a_catalog_from_before_packages_queues_its_items_once_per_profile() {
        let dir = tempfile::tempdir().unwrap();
        let old = Connection::open(dir.path().join(FILE)).unwrap();
        old.execute_batch(
            "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL UNIQUE,
                size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL,
                title TEXT NOT NULL, year INTEGER, season INTEGER, episode INTEGER,
                duration_s REAL, probe TEXT, state TEXT NOT NULL,
                progress REAL NOT NULL DEFAULT 0, error TEXT,
                priority INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
                not_before_ms INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL DEFAULT 1,
                lease_until_ms INTEGER NOT NULL DEFAULT 0, made_profile TEXT,
                made_fingerprint TEXT);
             INSERT INTO items (path, size, mtime_ns, inode, title, probe, state, progress)
             VALUES ('/m/a', 1, 5000000000, 1, 'a', '{}', 'ready', 1);",
        )
        .unwrap();
        drop(old);
        let c = Catalog::open(dir.path()).unwrap();
        c.set_profiles(&profiles(&[("standard", "f1")])).unwrap();
        assert_eq!(state_of(&c, 1), State::Pending);
        let claim = c.claim(&standard(), 0, 0).unwrap().unwrap();
        assert!(c.finish_ready(&claim).unwrap());
        assert_eq!(state_of(&c, 1), State::Ready);
        c.apply(&Changes {
            added: vec![file("/m/b", 2, Ok("{}"))],
            ..Changes::default()
        })
        .unwrap();
        assert_eq!(
            c.claimable(0).unwrap()["standard"],
            1,
            "new files still queue"
        );
        let added = |id| c.item(id).unwrap().unwrap().added_ms;
        assert_eq!(
            added(1),
            5000,
            "an old item was added when its file was last changed"
        );
        assert!(added(2) > 1_700_000_000_000, "a new item now: {}", added(2));
    }

    #[test]
    fn interrupted_work_is_requeued() {
        let c = catalog_with(&["/m/a", "/m/b"]);
        c.claim(&standard(), 0, 0).unwrap().unwrap();
        assert_eq!(c.requeue_interrupted().unwrap(), 1);
        assert_eq!(c.count_by_state().unwrap()["pending"], 2);
    }

    #[test]
    fn unprobeable_files_fail_at_once_and_cannot_be_queued() {
        let c = catalog_with(&[]);
        let added = vec![file("/m/notes.mp4", 1, Err("not a media file"))];
        c.apply(&Changes {
            added,
            ..Changes::default()
        })
        .unwrap();
        assert!(c.claim(&standard(), 0, 0).unwrap().is_none());
        let item = c.prioritize(1).unwrap().unwrap();
        assert_eq!(item.state, State::Failed);
        assert_eq!(item.error.as_deref(), Some("not a media file"));
    }

    #[test]
    fn a_file_that_stops_probing_loses_its_queue_entries() {
        let c = catalog_with(&["/m/a"]);
        c.apply(&Changes {
            changed: vec![(1, file("/m/a", 0, Err("truncated")))],
            ..Changes::default()
        })
        .unwrap();
        let item = c.item(1).unwrap().unwrap();
        assert_eq!(
            (item.state, item.error.as_deref()),
            (State::Failed, Some("truncated"))
        );
        assert!(c.claimable(0).unwrap().is_empty());
    }
}
