//! Dates a dry run read from the phone, kept for the next dry run.
//!
//! A dry run dates each new file by reading its headers in place (see `head`); on a
//! phone with tens of thousands of photos over USB 2 that is minutes. The dates it
//! read, with a print of each file's first block (for the name-clash prediction), are
//! kept here, keyed by the file's key (device serial, storage, path, size, device
//! date: a file changed on the phone gets a new key), so a second dry run reads
//! nothing it read before. A UTC time shown in the computer's zone is shown again in
//! the zone of the run that recalls it ([`DateResolver::recall`](crate::sort::DateResolver::recall)).
//!
//! Where: a file in the user's cache folder (`$XDG_CACHE_HOME/mtpull/`), never in
//! DEST: a dry run promises to write nothing there. The cache holds, per device, only
//! the files the last dry run would have copied, so it stays the size of what is not
//! yet backed up. It is only a cache: when it cannot be read or written the dry run
//! reads the phone as before, and deleting it loses nothing. Entries written by
//! another version of mtpull are not used (its date readers may differ).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use rusqlite::{Connection, OptionalExtension, params};
use xxhash_rust::xxh3::xxh3_128;

use super::remote::FileKey;
use crate::sort::{DateSource, Dated, ZoneSource};

/// The cache file's name in the cache folder.
const FILE_NAME: &str = "dry-run-dates.sqlite";

/// Bumped when what is stored changes meaning; older files are emptied.
const SCHEMA_VERSION: i64 = 1;

/// The date readers' version: a cached date is used only by the mtpull that read it.
const READER_VERSION: &str = env!("CARGO_PKG_VERSION");

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS dates (
    key TEXT PRIMARY KEY,
    serial TEXT NOT NULL,
    reader TEXT NOT NULL,
    fresh INTEGER NOT NULL,
    time TEXT,
    source TEXT,
    offset_seconds INTEGER,
    zone TEXT,
    instant INTEGER,
    burst INTEGER,
    head_len INTEGER NOT NULL,
    head_hash BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS dates_by_serial ON dates (serial);";

/// The first block of a file as the name-clash prediction compares it: its length
/// and hash (the bytes themselves are not kept, in memory or in the cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HeadPrint {
    /// Bytes in the block.
    pub len: u64,
    /// Their XXH3-128.
    pub hash: u128,
}

impl HeadPrint {
    /// The print of `head`.
    pub(super) fn of(head: &[u8]) -> HeadPrint {
        HeadPrint {
            len: head.len() as u64,
            hash: xxh3_128(head),
        }
    }
}

/// What a dry run learned of one file: its date (before the run's zone hints) and
/// its first block's print.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Remembered {
    /// The date its headers gave, if any.
    pub dated: Option<Dated>,
    /// Its first block.
    pub head: HeadPrint,
}

/// The cache file of the user running mtpull: `$XDG_CACHE_HOME/mtpull/`, else
/// `$HOME/.cache/mtpull/` (a relative `XDG_CACHE_HOME` is ignored, as the XDG
/// specification says). `None` when neither says where.
pub fn default_date_cache() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute());
    let base = xdg.or_else(|| {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
            .map(|home| home.join(".cache"))
    })?;
    Some(base.join("mtpull").join(FILE_NAME))
}

/// Why the cache could not be used (the dry run then reads the phone).
#[derive(Debug, thiserror::Error)]
pub(super) enum CacheError {
    /// Its folder could not be made.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file is not a database, or is locked, or the disk failed.
    #[error("{0}")]
    Database(#[from] rusqlite::Error),
}

/// The dates remembered for one device, open for one dry run: what the run learns is
/// written as it goes, in one transaction committed by [`DateCache::finish`].
pub(super) struct DateCache {
    connection: Connection,
    serial: String,
}

impl DateCache {
    /// Opens (creating it and its folder) the cache at `path` for the device `serial`.
    /// Fails when the file cannot be opened or is not a cache of this kind; the
    /// caller then goes without.
    pub(super) fn open(path: &Path, serial: &str) -> Result<DateCache, CacheError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let connection = Connection::open(path)?;
        // Two phones dry-run at once: the second waits for the first's commit.
        connection.busy_timeout(Duration::from_secs(10))?;
        let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if version != SCHEMA_VERSION {
            connection.execute_batch(&format!(
                "BEGIN; DROP TABLE IF EXISTS dates; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))?;
        }
        // Entries this run does not write again are dropped when it finishes.
        connection.execute_batch("BEGIN IMMEDIATE")?;
        connection.execute("UPDATE dates SET fresh = 0 WHERE serial = ?1", params![serial])?;
        Ok(DateCache {
            connection,
            serial: serial.to_owned(),
        })
    }

    /// What an earlier dry run learned of the file with this key (`None` also for
    /// an entry this mtpull cannot use).
    pub(super) fn get(&self, key: &FileKey) -> Result<Option<Remembered>, CacheError> {
        let mut query = self.connection.prepare_cached(
            "SELECT time, source, offset_seconds, zone, instant, burst, head_len, head_hash
             FROM dates WHERE key = ?1 AND serial = ?2 AND reader = ?3",
        )?;
        let row = query
            .query_row(params![key.digest(), self.serial, READER_VERSION], |row| {
                let stored = match row.get::<_, Option<String>>(0)? {
                    None => None,
                    Some(time) => Some(StoredDate {
                        time,
                        source: row.get(1)?,
                        offset_seconds: row.get(2)?,
                        zone: row.get(3)?,
                        instant: row.get(4)?,
                        burst: row.get(5)?,
                    }),
                };
                Ok((stored, row.get::<_, i64>(6)?, row.get::<_, Vec<u8>>(7)?))
            })
            .optional()?;
        let Some((stored, head_len, head_hash)) = row else {
            return Ok(None);
        };
        let Ok(hash) = <[u8; 16]>::try_from(head_hash.as_slice()) else {
            return Ok(None);
        };
        let head = HeadPrint {
            len: u64::try_from(head_len).unwrap_or(0),
            hash: u128::from_be_bytes(hash),
        };
        Ok(match stored {
            None => Some(Remembered { dated: None, head }),
            // A date this mtpull cannot read back is read from the phone again.
            Some(stored) => stored.dated().map(|dated| Remembered {
                dated: Some(dated),
                head,
            }),
        })
    }

    /// Keeps what this run learned (or found again) of the file with this key.
    pub(super) fn remember(&self, key: &FileKey, remembered: &Remembered) -> Result<(), CacheError> {
        let mut insert = self.connection.prepare_cached(
            "INSERT OR REPLACE INTO dates
             (key, serial, reader, fresh, time, source, offset_seconds, zone, instant, burst,
              head_len, head_hash)
             VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        let stored = remembered.dated.as_ref().map(StoredDate::of);
        let stored = stored.as_ref();
        insert.execute(params![
            key.digest(),
            self.serial,
            READER_VERSION,
            stored.map(|s| &s.time),
            stored.map(|s| &s.source),
            stored.and_then(|s| s.offset_seconds),
            stored.map(|s| &s.zone),
            stored.and_then(|s| s.instant),
            stored.and_then(|s| s.burst),
            i64::try_from(remembered.head.len).unwrap_or(i64::MAX),
            remembered.head.hash.to_be_bytes().to_vec(),
        ])?;
        Ok(())
    }

    /// Commits what the run wrote. `complete`: the run went through every file it
    /// would copy, so this device's entries it did not write (files copied or gone
    /// since) are dropped; a run cut short keeps them.
    pub(super) fn finish(self, complete: bool) -> Result<(), CacheError> {
        if complete {
            self.connection.execute(
                "DELETE FROM dates WHERE serial = ?1 AND fresh = 0",
                params![self.serial],
            )?;
        }
        self.connection.execute_batch("COMMIT")?;
        Ok(())
    }
}

/// A [`Dated`] as the cache's columns hold it.
#[derive(Debug, Clone, PartialEq)]
struct StoredDate {
    /// `%Y-%m-%dT%H:%M:%S%.f`.
    time: String,
    /// [`DateSource::as_str`].
    source: String,
    offset_seconds: Option<i32>,
    /// [`ZoneSource::as_str`], and for `gps` the zone's name after a space.
    zone: String,
    /// Unix seconds.
    instant: Option<i64>,
    /// The burst id's bits.
    burst: Option<i64>,
}

const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.f";

impl StoredDate {
    fn of(dated: &Dated) -> StoredDate {
        StoredDate {
            time: dated.time.format(TIME_FORMAT).to_string(),
            source: dated.source.as_str().to_owned(),
            offset_seconds: dated.offset.map(|offset| offset.local_minus_utc()),
            zone: match dated.zone {
                ZoneSource::Gps(tz) => format!("gps {}", tz.name()),
                zone => zone.as_str().to_owned(),
            },
            instant: dated.instant.map(|instant| instant.timestamp()),
            burst: dated.burst.map(|burst| burst as i64),
        }
    }

    /// The date back, or `None` when a column holds what this mtpull does not know.
    fn dated(&self) -> Option<Dated> {
        let zone = match self.zone.split_once(' ') {
            Some(("gps", name)) => ZoneSource::Gps(name.parse().ok()?),
            _ => ZONES.iter().copied().find(|zone| zone.as_str() == self.zone)?,
        };
        let offset = match self.offset_seconds {
            Some(seconds) => Some(FixedOffset::east_opt(seconds)?),
            None => None,
        };
        let instant = match self.instant {
            Some(seconds) => Some(DateTime::from_timestamp(seconds, 0)?),
            None => None,
        };
        Some(Dated {
            time: NaiveDateTime::parse_from_str(&self.time, TIME_FORMAT).ok()?,
            source: SOURCES
                .iter()
                .copied()
                .find(|source| source.as_str() == self.source)?,
            offset,
            zone,
            instant,
            burst: self.burst.map(|burst| burst as u64),
        })
    }
}

/// Every [`DateSource`], to read one back by its name.
const SOURCES: &[DateSource] = &[
    DateSource::ExifDateTimeOriginal,
    DateSource::ExifDateTimeDigitized,
    DateSource::ExifDateTime,
    DateSource::QuickTimeCreationDate,
    DateSource::Mvhd,
    DateSource::Tkhd,
    DateSource::Mdhd,
    DateSource::FileName,
    DateSource::FileNameDate,
    DateSource::Modified,
];

/// Every [`ZoneSource`] but `Gps` (stored with its zone's name).
const ZONES: &[ZoneSource] = &[
    ZoneSource::WallClock,
    ZoneSource::FileOffset,
    ZoneSource::NearbyPhoto,
    ZoneSource::Computer,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pull::remote::tests::file;

    fn dated(zone: ZoneSource, source: DateSource) -> Dated {
        let instant = DateTime::from_timestamp(1_716_718_500, 0).unwrap();
        Dated {
            time: NaiveDateTime::parse_from_str("2024-05-26 21:15:00.250", "%Y-%m-%d %H:%M:%S%.f").unwrap(),
            source,
            offset: FixedOffset::east_opt(9 * 3600),
            zone,
            instant: Some(instant),
            burst: Some(u64::MAX - 7),
        }
    }

    #[test]
    fn every_date_and_print_comes_back_as_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache/dates.sqlite");
        let tokyo: chrono_tz::Tz = "Asia/Tokyo".parse().unwrap();
        let zones = [ZONES, &[ZoneSource::Gps(tokyo)]].concat();
        let mut expected: Vec<Remembered> = SOURCES
            .iter()
            .flat_map(|source| zones.iter().map(move |zone| dated(*zone, *source)))
            .enumerate()
            .map(|(n, dated)| Remembered {
                dated: Some(dated),
                head: HeadPrint::of(&n.to_be_bytes()),
            })
            .collect();
        expected.push(Remembered {
            dated: None,
            head: HeadPrint::of(b""),
        });
        let keys: Vec<FileKey> = (0..expected.len())
            .map(|n| file(&format!("DCIM/{n}.jpg"), n as u64, "2024-05-26 10:00:00").key("PHONE"))
            .collect();
        let cache = DateCache::open(&path, "PHONE").unwrap();
        assert!(cache.get(&keys[0]).unwrap().is_none());
        for (key, remembered) in keys.iter().zip(&expected) {
            cache.remember(key, remembered).unwrap();
        }
        cache.finish(true).unwrap();

        let cache = DateCache::open(&path, "PHONE").unwrap();
        for (key, remembered) in keys.iter().zip(&expected) {
            assert_eq!(cache.get(key).unwrap().as_ref(), Some(remembered), "{}", key.path);
        }
        cache.finish(false).unwrap();
        // Another device's complete run neither sees nor drops these.
        let other = DateCache::open(&path, "OTHER").unwrap();
        assert!(other.get(&keys[0]).unwrap().is_none());
        other.finish(true).unwrap();
        let cache = DateCache::open(&path, "PHONE").unwrap();
        assert!(cache.get(&keys[1]).unwrap().is_some());
    }

    #[test]
    fn a_complete_run_keeps_only_what_it_wrote_and_unknown_entries_are_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dates.sqlite");
        let a = file("DCIM/a.jpg", 1, "2024-05-26 10:00:00").key("PHONE");
        let b = file("DCIM/b.jpg", 2, "2024-05-26 10:00:00").key("PHONE");
        let entry = Remembered {
            dated: Some(dated(ZoneSource::WallClock, DateSource::FileName)),
            head: HeadPrint::of(b"x"),
        };
        let cache = DateCache::open(&path, "PHONE").unwrap();
        cache.remember(&a, &entry).unwrap();
        cache.remember(&b, &entry).unwrap();
        cache.finish(true).unwrap();
        // A run cut short keeps what it did not reach; a complete one drops it.
        let cache = DateCache::open(&path, "PHONE").unwrap();
        cache.remember(&b, &entry).unwrap();
        cache.finish(false).unwrap();
        let cache = DateCache::open(&path, "PHONE").unwrap();
        assert_eq!(cache.get(&a).unwrap(), Some(entry.clone()));
        cache.remember(&b, &entry).unwrap();
        cache.finish(true).unwrap();
        let cache = DateCache::open(&path, "PHONE").unwrap();
        assert!(cache.get(&a).unwrap().is_none(), "copied since: dropped");
        assert_eq!(cache.get(&b).unwrap(), Some(entry.clone()));

        // Another mtpull's entry, and one whose source this mtpull does not know.
        cache
            .connection
            .execute("UPDATE dates SET reader = 'other'", [])
            .unwrap();
        assert!(cache.get(&b).unwrap().is_none());
        cache
            .connection
            .execute(
                "UPDATE dates SET reader = ?1, source = 'sundial'",
                [READER_VERSION],
            )
            .unwrap();
        assert!(cache.get(&b).unwrap().is_none());
    }

    #[test]
    fn a_file_that_is_not_a_cache_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dates.sqlite");
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        assert!(DateCache::open(&path, "PHONE").is_err());
    }
}
