//! The slow-query log: JSON lines with size-based rotation.
//!
//! The `db_slow_queries_total` counter says *that* statements are slow; this log says *which* ones, so the
//! alert's runbook can point at a file instead of at a guess. Each slow statement becomes one JSON line:
//!
//! ```json
//! {"timestamp":"2026-05-20T12:00:00.250Z","request_id":"…","operation":"select","table":"users","duration_seconds":0.731,"statement":"SELECT … WHERE id = $1"}
//! ```
//!
//! The statement is the parameter-free text (`$1`-style placeholders), so no user data reaches the log.
//! A line is written with a single `write_all` under a mutex, so concurrent writers never interleave, and
//! the file rotates by size (`file` → `file.1` → … → `file.N-1`), keeping at most `max_files` files so the
//! log cannot fill the disk. A file moved or deleted from outside (logrotate) is noticed at the next line,
//! which goes to a new file at the configured path. Writing is best effort: [`SlowQueryLog::record`] returns the error instead of
//! panicking, and the database client counts it in `slow_query_log_failed` while the query still succeeds.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::config::RuntimeConfig;
use crate::record::SqlOperation;

/// Where and how much to log; the threshold decides which statements count as slow at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlowQueryConfig {
    /// Statements taking at least this long are slow.
    pub threshold: Duration,
    /// The live log file; rotated files get `.1`, `.2`, … appended.
    pub path: PathBuf,
    /// A file is rotated before a line would take it past this size (a single longer line still gets
    /// a file of its own, so nothing is dropped for being long).
    pub max_bytes: u64,
    /// How many files exist at most, the live one included; the oldest is deleted on rotation. At least 1.
    pub max_files: usize,
}

impl SlowQueryConfig {
    /// A config with the given threshold and file, keeping up to 5 files of 10 MiB: enough for days of
    /// slow queries, small enough never to worry about disk space.
    pub fn new(threshold: Duration, path: impl Into<PathBuf>) -> Self {
        Self {
            threshold,
            path: path.into(),
            max_bytes: 10 * 1024 * 1024,
            max_files: 5,
        }
    }

    /// The slow-query settings of the runtime's environment configuration.
    pub fn from_runtime(config: &RuntimeConfig) -> Self {
        Self {
            threshold: config.slow_query_threshold,
            path: config.slow_query_log_file.clone(),
            max_bytes: config.slow_query_log_max_bytes,
            max_files: config.slow_query_log_max_files,
        }
    }
}

/// One slow statement, as the database client saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct SlowQuery<'a> {
    /// The request the statement ran for, so the log line can be matched with the request's logs.
    pub request_id: Option<&'a str>,
    /// The statement's kind.
    pub operation: SqlOperation,
    /// The table the statement mainly touched.
    pub table: &'a str,
    /// How long it took.
    pub duration: Duration,
    /// The statement text, with `$n` placeholders and never the parameter values.
    pub statement: &'a str,
}

/// The JSON shape of one line.
#[derive(Serialize)]
struct Line<'a> {
    timestamp: String,
    request_id: Option<&'a str>,
    operation: &'static str,
    table: &'a str,
    duration_seconds: f64,
    statement: &'a str,
}

/// The open live file and its size, so rotation needs no `stat` per line.
struct Current {
    file: File,
    size: u64,
}

/// A rotating JSON-lines file of slow statements, shared by every connection of a service.
pub struct SlowQueryLog {
    config: SlowQueryConfig,
    /// `None` until the first line, and again after a failure so the next line retries the open.
    current: Mutex<Option<Current>>,
}

impl std::fmt::Debug for SlowQueryLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlowQueryLog")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SlowQueryLog {
    /// Creates the log without touching the file system: a bad path shows up as failed writes (counted),
    /// not as a service that refuses to start.
    pub fn new(config: SlowQueryConfig) -> Self {
        Self {
            config,
            current: Mutex::new(None),
        }
    }

    /// The configuration the log was created with.
    pub fn config(&self) -> &SlowQueryConfig {
        &self.config
    }

    /// Whether a statement that took `elapsed` is slow enough to log.
    pub fn is_slow(&self, elapsed: Duration) -> bool {
        elapsed >= self.config.threshold
    }

    /// Appends one line for `query`, rotating first when the line would overflow the live file. Creates
    /// the directory when it is missing. On error nothing is half-written that a later line could run
    /// into: the file is reopened for the next line.
    pub fn record(&self, query: &SlowQuery<'_>) -> io::Result<()> {
        let mut line = serde_json::to_vec(&Line {
            timestamp: rfc3339_utc(SystemTime::now()),
            request_id: query.request_id,
            operation: operation_name(query.operation),
            table: query.table,
            duration_seconds: query.duration.as_secs_f64(),
            statement: query.statement,
        })
        .map_err(io::Error::other)?;
        line.push(b'\n');

        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let result = self.append(&mut current, &line);
        if result.is_err() {
            *current = None;
        }
        result
    }

    fn append(&self, current: &mut Option<Current>, line: &[u8]) -> io::Result<()> {
        let length = line.len() as u64;
        // Moved or deleted from outside (logrotate without copytruncate): write to a new file at the
        // configured path rather than on into one nobody reads. One `stat`, and only for slow queries.
        if current
            .as_ref()
            .is_some_and(|open| !self.still_at_path(open))
        {
            *current = None;
        }
        let open = match current {
            Some(open) => open,
            None => current.insert(self.open()?),
        };
        if open.size > 0 && open.size + length > self.config.max_bytes {
            self.rotate()?;
            *open = self.open()?;
        }
        open.file.write_all(line)?;
        open.size += length;
        Ok(())
    }

    /// Whether the configured path still names the open file.
    fn still_at_path(&self, open: &Current) -> bool {
        match (fs::metadata(&self.config.path), open.file.metadata()) {
            (Ok(at_path), Ok(opened)) => same_file(&at_path, &opened),
            _ => false,
        }
    }

    fn open(&self) -> io::Result<Current> {
        if let Some(parent) = self.config.path.parent() {
            if !parent.as_os_str().is_empty() {
                fs::create_dir_all(parent)?;
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.config.path)?;
        let size = file.metadata()?.len();
        Ok(Current { file, size })
    }

    /// Shifts `file.i` to `file.i+1`, dropping the one that would exceed `max_files`, then `file` to
    /// `file.1`.
    fn rotate(&self) -> io::Result<()> {
        let path = &self.config.path;
        let keep = self.config.max_files.max(1);
        if keep == 1 {
            return remove_if_present(path);
        }
        remove_if_present(&numbered(path, keep - 1))?;
        for index in (1..keep - 1).rev() {
            rename_if_present(&numbered(path, index), &numbered(path, index + 1))?;
        }
        rename_if_present(path, &numbered(path, 1))
    }
}

/// Same device and inode.
#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Without inodes, only a deleted file is noticed.
#[cfg(not(unix))]
fn same_file(_: &fs::Metadata, _: &fs::Metadata) -> bool {
    true
}

/// `path` with `.index` appended to its file name.
fn numbered(path: &Path, index: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{index}"));
    PathBuf::from(name)
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn rename_if_present(from: &Path, to: &Path) -> io::Result<()> {
    match fs::rename(from, to) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// The lower-case name used in the log (and in the `db_operation` label).
fn operation_name(operation: SqlOperation) -> &'static str {
    match operation {
        SqlOperation::Select => "select",
        SqlOperation::Insert => "insert",
        SqlOperation::Update => "update",
        SqlOperation::Delete => "delete",
        SqlOperation::Other => "other",
    }
}

/// Formats `time` as RFC 3339 in UTC with millisecond precision, e.g. `2026-05-20T12:00:00.250Z`.
fn rfc3339_utc(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs();
    let days = (seconds / 86_400) as i64;
    let of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since_epoch.subsec_millis()
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_123, "2000-02-29T00:00:00.123Z"),
            (1_779_278_400_250, "2026-05-20T12:00:00.250Z"),
            (4_107_542_399_999, "2100-02-28T23:59:59.999Z"),
        ];
        for (millis, expected) in cases {
            let time = UNIX_EPOCH + Duration::from_millis(millis);
            assert_eq!(rfc3339_utc(time), expected, "{millis} ms after the epoch");
        }
    }

    #[test]
    fn rotated_files_are_numbered_after_the_live_one() {
        assert_eq!(
            numbered(Path::new("/var/log/slow.jsonl"), 2),
            PathBuf::from("/var/log/slow.jsonl.2")
        );
    }
}
