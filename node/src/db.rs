//! The SQLite files in the data folder (`catalog.sqlite`, `auth.sqlite`): the folder is created
//! when missing, and each file is opened in WAL mode with a busy timeout, so the server and
//! the command line (`manofwar user add`) can use one file at the same time.

use rusqlite::Connection;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create the data folder {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open {path}: {source}")]
    Sql {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

pub fn open(data_dir: &Path, file: &str) -> Result<Connection, OpenError> {
    std::fs::create_dir_all(data_dir).map_err(|source| OpenError::DataDir {
        path: data_dir.to_owned(),
        source,
    })?;
    let path = data_dir.join(file);
    let sql = |source| OpenError::Sql {
        path: path.clone(),
        source,
    };
    let conn = Connection::open(&path).map_err(sql)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sql)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(sql)?;
    Ok(conn)
}
