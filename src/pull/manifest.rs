//! The backup manifest: an SQLite database in `DEST/.mtpull/` that says which
//! device files are already backed up, where they went, and what DEST holds.
//!
//! Two tables:
//! - `files`: one row per device file backed up, keyed by (serial, storage, path,
//!   size, device date) — never by object handle, which changes every session.
//! - `contents`: every file in DEST a record points at (filed now or found there),
//!   by content hash, with its size and mtime when recorded, so that the same bytes
//!   arriving again (from another path, another phone, or after the manifest was
//!   lost) are recorded as a duplicate instead of being filed twice, and a file
//!   deleted or edited in DEST is noticed by a stat.
//!
//! Only visible files count: nothing under a dot-name (`.mtpull/`, `.Trash-1000/`,
//! an interrupted copy) is ever indexed or taken for a backup copy.
//!
//! Every change is one transaction, made only after the file it describes is
//! durable in DEST: a crash loses at most the record of the last file, and the
//! next run finds that file again as a duplicate by content.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Local, NaiveDateTime};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params};
use walkdir::WalkDir;

use super::hash::ContentHash;
use super::remote::FileKey;
use crate::fault_points::step;
use crate::sort::beneath::Root;

pub(super) use crate::sort::state::STATE_DIR;
const DATABASE_FILE: &str = "manifest.sqlite3";
const SCHEMA_VERSION: i64 = 2;
/// How long a statement waits for another run's commit (a backup waiting for DEST
/// reads the manifest while the holder writes it) before it fails.
const BUSY_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS files (
    serial      TEXT    NOT NULL,
    storage     TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    device_date TEXT    NOT NULL,
    dest        TEXT    NOT NULL,
    bytes       INTEGER NOT NULL,
    hash        TEXT    NOT NULL,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('copied', 'duplicate')),
    copied_at   TEXT    NOT NULL,
    PRIMARY KEY (serial, storage, path, size, device_date)
);
CREATE TABLE IF NOT EXISTS contents (
    dest  TEXT    PRIMARY KEY,
    size  INTEGER NOT NULL,
    hash  TEXT    NOT NULL,
    mtime INTEGER
);
CREATE INDEX IF NOT EXISTS contents_by_hash ON contents (hash);
CREATE TABLE IF NOT EXISTS rejected (
    serial      TEXT    NOT NULL,
    storage     TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    device_date TEXT    NOT NULL,
    rejected_at TEXT    NOT NULL,
    PRIMARY KEY (serial, storage, path, size, device_date)
);
CREATE TABLE IF NOT EXISTS failed (
    serial TEXT    NOT NULL,
    path   TEXT    NOT NULL,
    size   INTEGER NOT NULL,
    error  TEXT    NOT NULL,
    at     TEXT    NOT NULL,
    PRIMARY KEY (serial, path, size)
);
";

/// Why the manifest could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// SQLite refused (locked, corrupt, disk full…).
    #[error("the destination's backup manifest {}: {source}{}", path.display(), database_hint(source))]
    Database {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A file in DEST could not be read while rebuilding.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The database holds something this version cannot use.
    #[error("backup manifest {}: {what}", path.display())]
    Unusable {
        /// The database file.
        path: PathBuf,
        /// What is wrong, and what to do.
        what: String,
    },
}

/// What to do about a manifest SQLite cannot use.
fn database_hint(error: &rusqlite::Error) -> &'static str {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            " (it is damaged: run again with --rescan to set it aside and rebuild it from the files in the destination)"
        }
        Some(ErrorCode::DiskFull) => " (the destination is full: free some space, then run again)",
        Some(ErrorCode::SystemIoFailure) => {
            " (the destination's disk failed to read or write it: check the disk, then run again; --rescan rebuilds it)"
        }
        Some(ErrorCode::ReadOnly) => " (the destination is read-only)",
        _ => "",
    }
}

impl ManifestError {
    /// Whether the database is damaged beyond use (a rescan sets it aside and rebuilds it).
    pub fn is_damaged(&self) -> bool {
        matches!(self, ManifestError::Database { source, .. }
            if matches!(source.sqlite_error_code(), Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)))
    }
}

/// How a device file reached DEST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its bytes were filed under `dest`.
    Copied,
    /// DEST already held the same bytes at `dest`; nothing new was filed.
    Duplicate,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Copied => "copied",
            Outcome::Duplicate => "duplicate",
        }
    }
}

/// One backed-up device file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Which device file.
    pub key: FileKey,
    /// Where its bytes are, relative to DEST, `/`-separated.
    pub dest: String,
    /// How many bytes it has (the key's size may only say "4 GiB or more").
    pub bytes: u64,
    /// Hash of its bytes.
    pub hash: ContentHash,
    /// Copied now, or found already present.
    pub outcome: Outcome,
    /// When it was recorded.
    pub copied_at: DateTime<Local>,
    /// The mtime of the file at `dest` when recorded (nanoseconds since the epoch),
    /// to notice an edit without reading it.
    pub dest_mtime: Option<i64>,
}

/// What `--rescan` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RescanReport {
    /// Files hashed in DEST.
    pub files: u64,
    /// Their total size.
    pub bytes: u64,
    /// Device-file records kept (their destination still holds their bytes).
    pub records_kept: u64,
    /// Records dropped (destination gone or changed): those files count as new again.
    pub records_dropped: u64,
    /// Files skipped because their names are not UTF-8.
    pub skipped_names: u64,
}

/// An open manifest.
pub struct Manifest {
    connection: Connection,
    path: PathBuf,
}

impl Manifest {
    /// Opens (creating if needed) the manifest of the backup in `dest_root`.
    pub fn open(dest_root: &Path) -> Result<Self, ManifestError> {
        let state = dest_root.join(STATE_DIR);
        fs::create_dir_all(&state).map_err(|source| ManifestError::Io {
            path: state.clone(),
            source,
        })?;
        let path = state.join(DATABASE_FILE);
        let connection = Connection::open(&path).map_err(|source| ManifestError::Database {
            path: path.clone(),
            source,
        })?;
        let manifest = Self { connection, path };
        manifest.prepare()?;
        Ok(manifest)
    }

    /// Whether the backup in `dest_root` has a manifest yet.
    pub fn exists(dest_root: &Path) -> bool {
        dest_root.join(STATE_DIR).join(DATABASE_FILE).is_file()
    }

    /// Sets a damaged manifest aside (renamed, never deleted) and opens a new, empty
    /// one; the caller rebuilds it with [`Manifest::rescan`]. Returns where the
    /// damaged one went.
    pub fn replace_damaged(dest_root: &Path) -> Result<(Self, PathBuf), ManifestError> {
        let path = dest_root.join(STATE_DIR).join(DATABASE_FILE);
        let stamp = Local::now().format("%Y%m%d-%H%M%S");
        let aside = path.with_file_name(format!("{DATABASE_FILE}.damaged-{stamp}"));
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| ManifestError::Io { path, source }
        };
        fs::rename(&path, &aside).map_err(io(&path))?;
        for suffix in ["-journal", "-wal", "-shm"] {
            let side = path.with_file_name(format!("{DATABASE_FILE}{suffix}"));
            if side.exists() {
                fs::rename(
                    &side,
                    aside.with_file_name(format!("{}{suffix}", file_name(&aside))),
                )
                .map_err(io(&side))?;
            }
        }
        Ok((Self::open(dest_root)?, aside))
    }

    /// Opens the manifest for reading only, if there is one (a dry run writes nothing).
    pub fn open_read_only(dest_root: &Path) -> Result<Option<Self>, ManifestError> {
        let path = dest_root.join(STATE_DIR).join(DATABASE_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let connection =
            Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|source| {
                ManifestError::Database {
                    path: path.clone(),
                    source,
                }
            })?;
        let manifest = Self { connection, path };
        // Another run may be committing (a backup waiting for DEST plans meanwhile).
        manifest.wait_while_busy()?;
        manifest.check_version()?;
        // Made by a run that has not yet committed its tables: nothing recorded yet.
        Ok(manifest.has_table("files")?.then_some(manifest))
    }

    /// Waits up to [`BUSY_PATIENCE`] for another run's commit instead of failing at once.
    fn wait_while_busy(&self) -> Result<(), ManifestError> {
        self.connection
            .busy_timeout(BUSY_PATIENCE)
            .map_err(|e| self.db(e))
    }

    /// Whether the database holds the table `name` (an older or half-made one may not).
    fn has_table(&self, name: &str) -> Result<bool, ManifestError> {
        self.connection
            .query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |row| row.get(0),
            )
            .map_err(|e| self.db(e))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn prepare(&self) -> Result<(), ManifestError> {
        // Reading the schema touches every page header: a damaged file fails here.
        self.connection
            .query_row("SELECT COUNT(*) FROM sqlite_master", [], |_| Ok(()))
            .map_err(|e| self.db(e))?;
        // EXTRA, not FULL: in the rollback-journal mode a commit is the journal's unlink,
        // and only EXTRA fsyncs the folder after it. With FULL a power cut soon after a
        // commit brings the journal back and the next open rolls the commit back — after
        // `--delete-after` has deleted that batch from the phone (tests/vm/power-cut.sh
        // lost 23 of 41 records so).
        self.connection
            .execute_batch("PRAGMA synchronous = EXTRA; PRAGMA foreign_keys = ON;")
            .map_err(|e| self.db(e))?;
        self.wait_while_busy()?;
        self.check_version()?;
        self.connection
            .execute_batch(&format!(
                "BEGIN; {SCHEMA} {} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;",
                self.migration()?
            ))
            .map_err(|e| self.db(e))
    }

    /// What an older schema needs: version 1's contents had no mtime.
    fn migration(&self) -> Result<&'static str, ManifestError> {
        let version: i64 = self
            .connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|e| self.db(e))?;
        Ok(if version == 1 {
            "ALTER TABLE contents ADD COLUMN mtime INTEGER;"
        } else {
            ""
        })
    }

    fn check_version(&self) -> Result<(), ManifestError> {
        let version: i64 = self
            .connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|e| self.db(e))?;
        if version > SCHEMA_VERSION {
            return Err(ManifestError::Unusable {
                path: self.path.clone(),
                what: format!(
                    "written by a newer mtpull (schema {version}, this one knows {SCHEMA_VERSION}): upgrade mtpull"
                ),
            });
        }
        Ok(())
    }

    fn db(&self, source: rusqlite::Error) -> ManifestError {
        ManifestError::Database {
            path: self.path.clone(),
            source,
        }
    }

    /// Runs `sql` with `params` and hands `each` every row as SQLite yields it:
    /// nothing is held beyond the row at hand.
    fn each_row(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        mut each: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<()>,
    ) -> Result<(), ManifestError> {
        let mut statement = self.connection.prepare(sql).map_err(|e| self.db(e))?;
        let mut rows = statement.query(params).map_err(|e| self.db(e))?;
        while let Some(row) = rows.next().map_err(|e| self.db(e))? {
            each(row).map_err(|e| self.db(e))?;
        }
        Ok(())
    }

    /// Runs `sql` with `params` and collects what `row` makes of each row.
    fn query<T, C: FromIterator<T>>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<C, ManifestError> {
        let mut statement = self.connection.prepare(sql).map_err(|e| self.db(e))?;
        let rows = statement.query_map(params, row).map_err(|e| self.db(e))?;
        rows.collect::<Result<C, _>>().map_err(|e| self.db(e))
    }

    /// Every key recorded for the device `serial` (for planning in one query).
    pub fn keys_for(&self, serial: &str) -> Result<HashSet<FileKey>, ManifestError> {
        self.query(
            &format!("SELECT {KEY_COLUMNS} FROM files WHERE serial = ?1"),
            [serial],
            |row| key_of(serial, row),
        )
    }

    /// The files of device `serial` a person rejected in a preview (never
    /// offered or copied again unless asked). An older manifest has none.
    pub fn rejected_for(&self, serial: &str) -> Result<HashSet<FileKey>, ManifestError> {
        if !self.has_table("rejected")? {
            return Ok(HashSet::new());
        }
        self.query(
            &format!("SELECT {KEY_COLUMNS} FROM rejected WHERE serial = ?1"),
            [serial],
            |row| key_of(serial, row),
        )
    }

    /// Records a person's choice in one transaction: `rejected` files are
    /// remembered as rejected, `chosen` ones are no longer.
    pub fn record_choice<'k>(
        &mut self,
        chosen: impl IntoIterator<Item = &'k FileKey>,
        rejected: impl IntoIterator<Item = &'k FileKey>,
    ) -> Result<(), ManifestError> {
        let path = self.path.clone();
        let db = |source| ManifestError::Database {
            path: path.clone(),
            source,
        };
        let now = Local::now().to_rfc3339();
        let transaction = self.connection.transaction().map_err(db)?;
        for key in chosen {
            transaction
                .execute(
                    "DELETE FROM rejected WHERE serial = ?1 AND storage = ?2 AND path = ?3
                     AND size = ?4 AND device_date = ?5",
                    params![
                        key.serial,
                        key.storage,
                        key.path,
                        size_sql(key.size),
                        key.device_date_text()
                    ],
                )
                .map_err(db)?;
        }
        for key in rejected {
            transaction
                .execute(
                    "INSERT OR REPLACE INTO rejected (serial, storage, path, size, device_date, rejected_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        key.serial,
                        key.storage,
                        key.path,
                        size_sql(key.size),
                        key.device_date_text(),
                        now
                    ],
                )
                .map_err(db)?;
        }
        transaction.commit().map_err(db)
    }

    /// The files of device `serial` that failed in an earlier run and are not
    /// backed up since, by (path, size), with the error: the next run tries them
    /// last, so that one file the phone cannot read never holds up the others.
    pub fn failed_for(&self, serial: &str) -> Result<HashMap<(String, u64), String>, ManifestError> {
        self.query(
            "SELECT path, size, error FROM failed WHERE serial = ?1",
            [serial],
            |row| Ok(((row.get(0)?, row.get::<_, i64>(1)? as u64), row.get(2)?)),
        )
    }

    /// Records that a file of device `serial` failed, and why.
    pub fn record_failed(
        &mut self,
        serial: &str,
        path: &str,
        size: u64,
        error: &str,
    ) -> Result<(), ManifestError> {
        self.connection
            .execute(
                "INSERT OR REPLACE INTO failed (serial, path, size, error, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![serial, path, size_sql(size), error, Local::now().to_rfc3339()],
            )
            .map(drop)
            .map_err(|e| self.db(e))
    }

    /// The record of one device file, if it is backed up.
    pub fn lookup(&self, key: &FileKey) -> Result<Option<Record>, ManifestError> {
        self.connection
            .query_row(
                "SELECT f.dest, f.hash, f.outcome, f.copied_at, f.bytes, c.mtime
                 FROM files f LEFT JOIN contents c ON c.dest = f.dest
                 WHERE f.serial = ?1 AND f.storage = ?2 AND f.path = ?3 AND f.size = ?4
                   AND f.device_date = ?5",
                params![
                    key.serial,
                    key.storage,
                    key.path,
                    size_sql(key.size),
                    key.device_date_text()
                ],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, Option<i64>>(5)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.db(e))?
            .map(|(dest, hash, outcome, copied_at, bytes, dest_mtime)| {
                let unusable = |what: String| ManifestError::Unusable {
                    path: self.path.clone(),
                    what,
                };
                Ok(Record {
                    key: key.clone(),
                    dest,
                    bytes: bytes as u64,
                    hash: hash.parse().map_err(|e| unusable(format!("{e}")))?,
                    outcome: if outcome == "copied" {
                        Outcome::Copied
                    } else {
                        Outcome::Duplicate
                    },
                    copied_at: DateTime::parse_from_rfc3339(&copied_at)
                        .map_err(|e| unusable(format!("bad time {copied_at:?}: {e}")))?
                        .with_timezone(&Local),
                    dest_mtime,
                })
            })
            .transpose()
    }

    /// Records a backed-up file in one transaction (and, when copied, its bytes in DEST).
    pub fn record(&mut self, record: &Record) -> Result<(), ManifestError> {
        self.record_all(std::slice::from_ref(record))
    }

    /// Records each file known under a drifted key under today's key too
    /// (pairs of today's key and the recorded one), in one transaction, so
    /// that the next run matches it exactly. A recorded key that has gone
    /// meanwhile is skipped.
    pub fn record_aliases(&mut self, aliases: &[(FileKey, FileKey)]) -> Result<(), ManifestError> {
        let mut records = Vec::with_capacity(aliases.len());
        for (today, recorded) in aliases {
            if let Some(record) = self.lookup(recorded)? {
                records.push(Record {
                    key: today.clone(),
                    outcome: Outcome::Duplicate,
                    copied_at: Local::now(),
                    ..record
                });
            }
        }
        if records.is_empty() {
            return Ok(());
        }
        self.record_all(&records)
    }

    /// Records several backed-up files in one transaction.
    pub fn record_all(&mut self, records: &[Record]) -> Result<(), ManifestError> {
        let path = self.path.clone();
        let db = |source| ManifestError::Database {
            path: path.clone(),
            source,
        };
        let transaction = self.connection.transaction().map_err(db)?;
        for record in records {
            insert(&transaction, record).map_err(db)?;
        }
        step("commit the manifest").map_err(|source| ManifestError::Io {
            path: path.clone(),
            source,
        })?;
        transaction.commit().map_err(db)
    }

    /// Where DEST holds these bytes, if the manifest knows of them.
    ///
    /// Candidates whose file is gone or has another size are forgotten and
    /// skipped; the caller still compares bytes before trusting a match.
    pub fn find_content(
        &mut self,
        dest_root: &Path,
        hash: &ContentHash,
        size: u64,
    ) -> Result<Option<String>, ManifestError> {
        let candidates: Vec<String> = {
            let mut statement = self
                .connection
                .prepare("SELECT dest FROM contents WHERE hash = ?1 AND size = ?2 ORDER BY dest")
                .map_err(|e| self.db(e))?;
            let rows = statement
                .query_map(params![hash.to_string(), size_sql(size)], |row| row.get(0))
                .map_err(|e| self.db(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.db(e))?
        };
        let root = Root::open(dest_root).map_err(|source| ManifestError::Io {
            path: dest_root.to_owned(),
            source,
        })?;
        for dest in candidates {
            let found = is_visible(&dest)
                .then(|| root.open_file(Path::new(&dest)).and_then(|f| f.metadata()).ok())
                .flatten();
            match found {
                Some(meta) if meta.len() == size => return Ok(Some(dest)),
                _ => {
                    self.connection
                        .execute("DELETE FROM contents WHERE dest = ?1", [&dest])
                        .map_err(|e| self.db(e))?;
                }
            }
        }
        Ok(None)
    }

    /// Every file the manifest says DEST holds — its path, size and hash, each path
    /// once, in path order — for `mtpull verify`.
    pub fn backed_up_files(&self) -> Result<Vec<(String, u64, ContentHash)>, ManifestError> {
        let rows: Vec<(String, u64, String)> = self.query(
            "SELECT DISTINCT dest, bytes, hash FROM files ORDER BY dest",
            [],
            |row| Ok((row.get(0)?, row.get::<_, i64>(1)? as u64, row.get(2)?)),
        )?;
        let mut files: Vec<(String, u64, ContentHash)> = Vec::new();
        for (dest, bytes, hash) in rows {
            let hash = hash.parse().map_err(|e| ManifestError::Unusable {
                path: self.path.clone(),
                what: format!("the record of {dest}: {e}"),
            })?;
            if files.last().is_none_or(|(last, _, _)| *last != dest) {
                files.push((dest, bytes, hash));
            }
        }
        Ok(files)
    }

    /// The records of `serial` whose file in DEST is gone, or whose size or mtime is
    /// not what was recorded (edited, replaced): those files are not backed up any more.
    pub fn stale_keys(&self, dest_root: &Path, serial: &str) -> Result<Vec<FileKey>, ManifestError> {
        let root = Root::open(dest_root).ok();
        let mut stale = Vec::new();
        // Each record is checked as it is read: a phone's 100,000 records (with their
        // DEST paths) are never all in memory beside the listing and the plan.
        self.each_row(
            "SELECT f.storage, f.path, f.size, f.device_date, f.dest, f.bytes, c.mtime
             FROM files f LEFT JOIN contents c ON c.dest = f.dest WHERE f.serial = ?1",
            [serial],
            |row| {
                let dest: String = row.get(4)?;
                let bytes = row.get::<_, i64>(5)? as u64;
                let mtime: Option<i64> = row.get(6)?;
                let meta = root
                    .as_ref()
                    .filter(|_| is_visible(&dest))
                    .and_then(|root| root.open_file(Path::new(&dest)).and_then(|f| f.metadata()).ok());
                let intact = meta
                    .is_some_and(|meta| meta.len() == bytes && mtime.is_none_or(|m| m == mtime_of(&meta)));
                if !intact {
                    stale.push(key_of(serial, row)?);
                }
                Ok(())
            },
        )?;
        Ok(stale)
    }

    /// Forgets these records, and what the manifest knew of their files in DEST.
    pub fn forget(&mut self, keys: &[FileKey]) -> Result<(), ManifestError> {
        let path = self.path.clone();
        let db = |source| ManifestError::Database {
            path: path.clone(),
            source,
        };
        let transaction = self.connection.transaction().map_err(db)?;
        for key in keys {
            transaction
                .execute(
                    "DELETE FROM contents WHERE dest IN (SELECT dest FROM files
                     WHERE serial = ?1 AND storage = ?2 AND path = ?3 AND size = ?4 AND device_date = ?5)",
                    params![
                        key.serial,
                        key.storage,
                        key.path,
                        size_sql(key.size),
                        key.device_date_text()
                    ],
                )
                .map_err(db)?;
            transaction
                .execute(
                    "DELETE FROM files
                     WHERE serial = ?1 AND storage = ?2 AND path = ?3 AND size = ?4 AND device_date = ?5",
                    params![
                        key.serial,
                        key.storage,
                        key.path,
                        size_sql(key.size),
                        key.device_date_text()
                    ],
                )
                .map_err(db)?;
        }
        transaction.commit().map_err(db)
    }

    /// Rebuilds the manifest from DEST: hashes every visible file there (nothing
    /// under a dot-name: not `.mtpull/`, not a trash folder), replaces the content index with what it found, and drops the
    /// records of device files whose destination is gone or holds other bytes.
    pub fn rescan(&mut self, dest_root: &Path) -> Result<RescanReport, ManifestError> {
        let mut report = RescanReport::default();
        let mut found = Vec::new();
        walk_files(dest_root, &mut found, &mut report)?;
        let path = self.path.clone();
        let db = |source| ManifestError::Database {
            path: path.clone(),
            source,
        };
        let transaction = self.connection.transaction().map_err(db)?;
        transaction.execute("DELETE FROM contents", []).map_err(db)?;
        for (dest, size, mtime, hash) in &found {
            transaction
                .execute(
                    "INSERT INTO contents (dest, size, hash, mtime) VALUES (?1, ?2, ?3, ?4)",
                    params![dest, size_sql(*size), hash.to_string(), mtime],
                )
                .map_err(db)?;
        }
        report.records_dropped = transaction
            .execute(
                "DELETE FROM files WHERE NOT EXISTS
                 (SELECT 1 FROM contents c WHERE c.dest = files.dest AND c.hash = files.hash)",
                [],
            )
            .map_err(db)? as u64;
        report.records_kept = transaction
            .query_row("SELECT COUNT(*) FROM files", [], |row| row.get::<_, i64>(0))
            .map_err(db)? as u64;
        transaction.commit().map_err(db)?;
        Ok(report)
    }
}

/// Inserts one record (and, when copied, its content entry).
fn insert(transaction: &rusqlite::Transaction<'_>, record: &Record) -> rusqlite::Result<()> {
    let key = &record.key;
    transaction.execute(
        "DELETE FROM failed WHERE serial = ?1 AND path = ?2 AND size = ?3",
        params![key.serial, key.path, size_sql(key.size)],
    )?;
    transaction.execute(
        "INSERT OR REPLACE INTO files
         (serial, storage, path, size, device_date, dest, bytes, hash, outcome, copied_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            key.serial,
            key.storage,
            key.path,
            size_sql(key.size),
            key.device_date_text(),
            record.dest,
            size_sql(record.bytes),
            record.hash.to_string(),
            record.outcome.as_str(),
            record.copied_at.to_rfc3339(),
        ],
    )?;
    // A duplicate's file holds the same bytes: it is indexed too, so that those bytes
    // arriving under yet another key are found (a rerun after a crash records the
    // files it had already placed as duplicates).
    transaction.execute(
        "INSERT OR REPLACE INTO contents (dest, size, hash, mtime) VALUES (?1, ?2, ?3, ?4)",
        params![
            record.dest,
            size_sql(record.bytes),
            record.hash.to_string(),
            record.dest_mtime
        ],
    )?;
    Ok(())
}

/// Sizes above i64::MAX cannot come from a real device; clamp rather than wrap.
/// The columns of a [`FileKey`] but its serial, in the order [`key_of`] reads them.
const KEY_COLUMNS: &str = "storage, path, size, device_date";

/// The key of device `serial`'s file whose [`KEY_COLUMNS`] lead `row`.
fn key_of(serial: &str, row: &rusqlite::Row<'_>) -> rusqlite::Result<FileKey> {
    Ok(FileKey {
        serial: serial.to_owned(),
        storage: row.get(0)?,
        path: row.get(1)?,
        size: row.get::<_, i64>(2)? as u64,
        device_date: parse_device_date(&row.get::<_, String>(3)?),
    })
}

fn size_sql(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

fn parse_device_date(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").ok()
}

/// Whether a path in DEST is one a person sees: no level of it is a dot-name.
pub(super) fn is_visible(dest: &str) -> bool {
    dest.split('/')
        .all(|level| !level.is_empty() && !level.starts_with('.'))
}

/// A file's mtime in nanoseconds since the epoch, as recorded.
pub(super) fn mtime_of(meta: &fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// Collects (relative path, size, mtime, hash) of every visible regular file under
/// `root`, in path order, skipping dot-names (the state folder, trash folders,
/// interrupted copies) and never following symlinks.
fn walk_files(
    root: &Path,
    found: &mut Vec<(String, u64, i64, ContentHash)>,
    report: &mut RescanReport,
) -> Result<(), ManifestError> {
    let walk_error = |error: walkdir::Error| ManifestError::Io {
        path: error.path().unwrap_or(root).to_owned(),
        source: error.into(),
    };
    let walk = WalkDir::new(root)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| !entry.file_name().as_encoded_bytes().starts_with(b"."));
    for entry in walk {
        let entry = entry.map_err(walk_error)?;
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        let relative = path.strip_prefix(root).expect("walk stays under root");
        let Some(relative) = relative.to_str() else {
            report.skipped_names += 1;
            continue;
        };
        let meta = entry.metadata().map_err(walk_error)?;
        let hash = ContentHash::of_file(path).map_err(|source| ManifestError::Io {
            path: path.to_owned(),
            source,
        })?;
        report.files += 1;
        report.bytes += meta.len();
        let relative = relative.replace(std::path::MAIN_SEPARATOR, "/");
        found.push((relative, meta.len(), mtime_of(&meta), hash));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pull::remote::tests::file;

    fn record(path: &str, size: u64, dest: &str, content: &[u8]) -> Record {
        Record {
            key: file(path, size, "2024-05-26 10:15:00").key("SER1"),
            dest: dest.into(),
            bytes: content.len() as u64,
            hash: ContentHash::of_reader(content).unwrap(),
            outcome: Outcome::Copied,
            copied_at: Local::now(),
            dest_mtime: None,
        }
    }

    fn put(root: &Path, dest: &str, content: &[u8]) {
        let path = root.join(dest);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    #[test]
    fn records_survive_reopening_and_key_on_every_part() {
        let root = tempfile::tempdir().unwrap();
        let first = record("DCIM/a.jpg", 3, "2024/05/26/a.jpg", b"abc");
        {
            let mut manifest = Manifest::open(root.path()).unwrap();
            manifest.record(&first).unwrap();
        }
        let manifest = Manifest::open(root.path()).unwrap();
        let found = manifest.lookup(&first.key).unwrap().unwrap();
        assert_eq!(found.dest, first.dest);
        assert_eq!(found.hash, first.hash);
        assert_eq!(found.outcome, Outcome::Copied);
        assert_eq!(found.copied_at.timestamp(), first.copied_at.timestamp());

        let keys = manifest.keys_for("SER1").unwrap();
        assert!(keys.contains(&first.key));
        assert_eq!(keys.len(), 1);
        assert!(manifest.keys_for("OTHER").unwrap().is_empty());

        // Same path, but another size, date, storage or device: not backed up.
        let mut other = first.key.clone();
        other.size = 4;
        assert!(manifest.lookup(&other).unwrap().is_none());
        let mut other = first.key.clone();
        other.device_date = None;
        assert!(manifest.lookup(&other).unwrap().is_none());
        let mut other = first.key.clone();
        other.storage = "SD card".into();
        assert!(!keys.contains(&other));
    }

    #[test]
    fn undated_keys_round_trip() {
        let root = tempfile::tempdir().unwrap();
        let mut manifest = Manifest::open(root.path()).unwrap();
        let mut undated = record("x.mp4", 3, "undated/x.mp4", b"xyz");
        undated.key.device_date = None;
        manifest.record(&undated).unwrap();
        assert!(manifest.keys_for("SER1").unwrap().contains(&undated.key));
        assert!(manifest.lookup(&undated.key).unwrap().is_some());
    }

    #[test]
    fn finds_content_only_while_the_file_is_there() {
        let root = tempfile::tempdir().unwrap();
        let mut manifest = Manifest::open(root.path()).unwrap();
        let copied = record("DCIM/a.jpg", 3, "2024/05/26/a.jpg", b"abc");
        manifest.record(&copied).unwrap();
        // The record is there but the file is not: no match, and the entry is forgotten.
        assert_eq!(manifest.find_content(root.path(), &copied.hash, 3).unwrap(), None);
        manifest.record(&copied).unwrap();
        put(root.path(), "2024/05/26/a.jpg", b"abc");
        assert_eq!(
            manifest
                .find_content(root.path(), &copied.hash, 3)
                .unwrap()
                .as_deref(),
            Some("2024/05/26/a.jpg")
        );
        assert_eq!(manifest.find_content(root.path(), &copied.hash, 4).unwrap(), None);
        // A duplicate record does not add a content entry of its own.
        let mut duplicate = record("Pictures/a.jpg", 3, "2024/05/26/a.jpg", b"abc");
        duplicate.outcome = Outcome::Duplicate;
        manifest.record(&duplicate).unwrap();
        assert_eq!(
            manifest.lookup(&duplicate.key).unwrap().unwrap().outcome,
            Outcome::Duplicate
        );
    }

    #[test]
    fn a_commit_is_durable_at_a_power_cut() {
        let root = tempfile::tempdir().unwrap();
        let manifest = Manifest::open(root.path()).unwrap();
        // 3 = EXTRA: the journal's unlink, which is the commit, is fsynced too.
        let level: i64 = manifest
            .connection
            .query_row("PRAGMA synchronous", [], |row| row.get(0))
            .unwrap();
        assert_eq!(level, 3);
    }

    #[test]
    fn rescan_rebuilds_contents_and_drops_stale_records() {
        let root = tempfile::tempdir().unwrap();
        let mut manifest = Manifest::open(root.path()).unwrap();
        let kept = record("DCIM/a.jpg", 3, "2024/05/26/a.jpg", b"abc");
        let gone = record("DCIM/b.jpg", 3, "2024/05/26/b.jpg", b"bbb");
        let changed = record("DCIM/c.jpg", 3, "2024/05/26/c.jpg", b"ccc");
        for r in [&kept, &gone, &changed] {
            manifest.record(r).unwrap();
        }
        put(root.path(), "2024/05/26/a.jpg", b"abc");
        put(root.path(), "2024/05/26/c.jpg", b"CCC");
        put(root.path(), "undated/found.png", b"found by the walk");
        put(root.path(), ".mtpull/tmp/x.part", b"never indexed");

        let report = manifest.rescan(root.path()).unwrap();
        assert_eq!(report.files, 3);
        assert_eq!(report.bytes, 3 + 3 + 17);
        assert_eq!(report.records_kept, 1);
        assert_eq!(report.records_dropped, 2);
        assert!(manifest.lookup(&kept.key).unwrap().is_some());
        assert!(manifest.lookup(&gone.key).unwrap().is_none());
        assert!(manifest.lookup(&changed.key).unwrap().is_none());
        let found = ContentHash::of_reader(&b"found by the walk"[..]).unwrap();
        assert_eq!(
            manifest.find_content(root.path(), &found, 17).unwrap().as_deref(),
            Some("undated/found.png")
        );
        let part = ContentHash::of_reader(&b"never indexed"[..]).unwrap();
        assert_eq!(manifest.find_content(root.path(), &part, 13).unwrap(), None);
    }

    #[test]
    fn rescan_of_a_lost_manifest_indexes_dest() {
        let root = tempfile::tempdir().unwrap();
        put(root.path(), "2023/01/02/IMG_1.jpg", b"photo");
        let mut manifest = Manifest::open(root.path()).unwrap();
        let report = manifest.rescan(root.path()).unwrap();
        assert_eq!(
            (report.files, report.records_kept, report.records_dropped),
            (1, 0, 0)
        );
        let hash = ContentHash::of_reader(&b"photo"[..]).unwrap();
        assert!(manifest.find_content(root.path(), &hash, 5).unwrap().is_some());
    }

    #[test]
    fn read_only_opening_creates_nothing() {
        let root = tempfile::tempdir().unwrap();
        assert!(Manifest::open_read_only(root.path()).unwrap().is_none());
        assert!(!root.path().join(STATE_DIR).exists());
        // A file another run has just made, its tables not yet committed: nothing yet.
        fs::create_dir_all(root.path().join(STATE_DIR)).unwrap();
        fs::write(root.path().join(STATE_DIR).join(DATABASE_FILE), b"").unwrap();
        assert!(Manifest::open_read_only(root.path()).unwrap().is_none());
        let first = record("DCIM/a.jpg", 3, "2024/05/26/a.jpg", b"abc");
        Manifest::open(root.path()).unwrap().record(&first).unwrap();
        let mut reader = Manifest::open_read_only(root.path()).unwrap().unwrap();
        assert!(reader.keys_for("SER1").unwrap().contains(&first.key));
        assert!(
            reader.record(&first).is_err(),
            "a read-only manifest refuses writes"
        );
    }

    #[test]
    fn refuses_a_newer_schema() {
        let root = tempfile::tempdir().unwrap();
        drop(Manifest::open(root.path()).unwrap());
        let path = root.path().join(STATE_DIR).join(DATABASE_FILE);
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        let error = Manifest::open(root.path()).err().unwrap();
        assert!(error.to_string().contains("newer mtpull"), "{error}");
    }
}
