//! Day files stored as they arrive, before anyone asks. The data directory
//! is watched (inotify events, and polling for writes that send none, such
//! as another machine's on a shared mount); a new or changed power file is
//! read whole once it has settled, one day at a time, through the same
//! single-flighted read a request would start. At start, the days of the
//! last `backfill_days` whose files are not stored as they are now are
//! caught up, newest first.
//!
//! A request for a day the watcher has not reached yet reads it itself (the
//! watcher then finds it stored), and replicas sharing a database read each
//! day once between them: the day's claim makes the others wait, then find
//! it stored.

mod settle;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use self::settle::Waiting;
use crate::half_hour::Day;
use crate::message::chain;
use crate::pipeline::{DayFiles, PipelineError};
use crate::power::{FileStamp, power_file_day, power_file_path, power_files};

/// How new and changed files are noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WatchMode {
    /// inotify, and polling beside it for writes that send no event.
    Auto,
    /// inotify alone (polling only if inotify cannot be used).
    Inotify,
    /// Polling alone.
    Poll,
    /// Not watched; the catch-up at start still runs.
    Off,
}

/// What the watcher does, and how often.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    pub mode: WatchMode,
    /// Between two looks at the directory when polling.
    pub interval: Duration,
    /// How long a file written in place must hold still before it is read.
    pub settle: Duration,
    /// Days back from today caught up at start (0: none).
    pub backfill_days: u32,
}

/// How often waiting files are looked at again.
const TICK: Duration = Duration::from_millis(250);

/// The longest wait before a day that failed for a passing cause (no
/// intensity yet, storage unavailable) is tried again.
const MOST_BETWEEN_RETRIES: Duration = Duration::from_secs(30 * 60);

/// A file of `day` seen changing; `moved_in` when renamed into place.
#[derive(Debug)]
struct Seen {
    day: Day,
    moved_in: bool,
}

/// Starts watching `day_files`' data directory in the background; `None`
/// when there is nothing to do (no watching, no catch-up).
pub fn spawn(day_files: DayFiles, options: WatchOptions) -> Option<tokio::task::JoinHandle<()>> {
    if options.mode == WatchMode::Off && options.backfill_days == 0 {
        tracing::info!("day files are read when a request needs them (no watching, no catch-up)");
        return None;
    }
    Some(tokio::spawn(Watcher::new(day_files, options).run()))
}

/// The watcher's state: what it knows of the directory, what waits.
struct Watcher {
    day_files: DayFiles,
    options: WatchOptions,
    dir: PathBuf,
    /// Every day file's stamp at the last look, or after it was read.
    known: HashMap<Day, FileStamp>,
    waiting: Waiting,
    /// Failures in a row per day, for the backoff.
    failures: HashMap<Day, u32>,
}

impl Watcher {
    fn new(day_files: DayFiles, options: WatchOptions) -> Self {
        let dir = day_files.data_dir().to_owned();
        Watcher {
            day_files,
            options,
            dir,
            known: HashMap::new(),
            waiting: Waiting::default(),
            failures: HashMap::new(),
        }
    }

    async fn run(mut self) {
        let (tx, mut events) = mpsc::unbounded_channel();
        let watcher = match self.options.mode {
            WatchMode::Auto | WatchMode::Inotify => match watch_events(&self.dir, tx) {
                Ok(watcher) => Some(watcher),
                Err(err) => {
                    tracing::warn!(dir = %self.dir.display(), error = %err, "cannot watch the data directory for events; polling it instead");
                    None
                }
            },
            WatchMode::Poll | WatchMode::Off => None,
        };
        let polling = match self.options.mode {
            WatchMode::Auto | WatchMode::Poll => true,
            WatchMode::Inotify => watcher.is_none(),
            WatchMode::Off => false,
        };
        self.known = scan(&self.dir).await;
        self.catch_up().await;
        if self.options.mode != WatchMode::Off {
            tracing::info!(dir = %self.dir.display(), mode = ?self.options.mode, events = watcher.is_some(), polling, "watching the data directory for day files");
        }
        let mut poll = tokio::time::interval(self.options.interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        poll.tick().await;
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                Some(seen) = events.recv() => {
                    let stamp = stamp_of(&self.dir, seen.day).await;
                    // A version already read (an event after the read).
                    if stamp.is_none() || stamp.as_ref() != self.known.get(&seen.day) {
                        self.waiting.seen(seen.day, stamp, seen.moved_in, Instant::now());
                    }
                }
                _ = poll.tick(), if polling => self.poll().await,
                _ = tick.tick() => {
                    self.look_again().await;
                    if let Some(day) = self.next_ready() {
                        self.ingest(day).await;
                    }
                }
            }
            self.report();
            if self.options.mode == WatchMode::Off && self.waiting.len() == 0 {
                return;
            }
        }
    }

    /// Queues the days from `backfill_days` ago on whose files are not
    /// stored as they are now.
    async fn catch_up(&mut self) {
        if self.options.backfill_days == 0 {
            return;
        }
        let first = chrono::Utc::now()
            .date_naive()
            .checked_sub_days(chrono::Days::new(u64::from(self.options.backfill_days)))
            .and_then(|date| Day::from_naive(date).ok());
        let now = Instant::now();
        let mut queued = 0;
        for (&day, &stamp) in &self.known {
            if first.is_some_and(|first| day < first) {
                continue;
            }
            match self.day_files.is_stored(day).await {
                Ok(true) => {}
                Ok(false) => {
                    self.waiting.seen(day, Some(stamp), false, now);
                    queued += 1;
                }
                Err(err) => {
                    tracing::warn!(%day, error = %chain(&err), "cannot tell whether a day is stored; reading it");
                    self.waiting.seen(day, Some(stamp), false, now);
                    queued += 1;
                }
            }
        }
        tracing::info!(
            days = queued,
            backfill_days = self.options.backfill_days,
            "catching up on day files not stored"
        );
    }

    /// Lists the directory and queues the files that are new or changed.
    async fn poll(&mut self) {
        let now_files = scan(&self.dir).await;
        let now = Instant::now();
        for (day, stamp) in &now_files {
            if self.known.get(day) != Some(stamp) {
                self.waiting.seen(*day, Some(*stamp), false, now);
            }
        }
        for day in self.known.keys() {
            if !now_files.contains_key(day) {
                self.waiting.remove(*day);
            }
        }
        self.known = now_files;
    }

    /// Stats the waiting files again: a change restarts their settle time.
    async fn look_again(&mut self) {
        let now = Instant::now();
        for (day, _) in self.waiting.stamps() {
            let stamp = stamp_of(&self.dir, day).await;
            self.waiting.seen(day, stamp, false, now);
        }
    }

    fn next_ready(&self) -> Option<Day> {
        self.waiting
            .next_ready(self.options.settle, Instant::now(), SystemTime::now())
    }

    /// Reads `day` whole (or finds it stored by a request or a replica).
    async fn ingest(&mut self, day: Day) {
        let started = Instant::now();
        let before = stamp_of(&self.dir, day).await;
        let outcome = self.day_files.ensure_day(day).await;
        let seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(ingested) => {
                self.failures.remove(&day);
                let outcome = match ingested.skipped_rows_read {
                    Some(skipped) => {
                        metrics::gauge!("watch_last_ingest_seconds").set(seconds);
                        tracing::info!(%day, assets = ingested.record.assets, skipped_rows = skipped, seconds, "day file stored as it arrived");
                        "read"
                    }
                    None => "stored_already",
                };
                metrics::counter!("watch_files_ingested_total", "outcome" => outcome).increment(1);
                self.done(day, before).await;
                self.queue_next_day(day).await;
            }
            Err(err) => self.failed(day, before, err),
        }
    }

    /// Forgets `day` if its file is still the version read.
    async fn done(&mut self, day: Day, read: Option<FileStamp>) {
        let now = stamp_of(&self.dir, day).await;
        if now == read {
            self.waiting.remove(day);
            if let Some(stamp) = now {
                self.known.insert(day, stamp);
            }
        }
    }

    /// The next day's carry-in comes from this one: a stored next day
    /// computed from another version of it is read again.
    async fn queue_next_day(&mut self, day: Day) {
        let Some(next) = day.next() else {
            return;
        };
        let Some(&stamp) = self.known.get(&next) else {
            return;
        };
        if let Ok(false) = self.day_files.is_stored(next).await {
            self.waiting.seen(next, Some(stamp), false, Instant::now());
        }
    }

    fn failed(&mut self, day: Day, read: Option<FileStamp>, err: PipelineError) {
        metrics::counter!("watch_files_ingested_total", "outcome" => "failed").increment(1);
        match err {
            // Its content will not change without a new stamp: it is read
            // again when the file changes.
            PipelineError::PowerFile { .. } | PipelineError::NoPowerFile { .. } => {
                tracing::warn!(%day, error = %chain(&err), "day file not stored; waiting for it to change");
                self.waiting.remove(day);
                if let Some(stamp) = read {
                    self.known.insert(day, stamp);
                }
            }
            // Settles on its own: the next look sees the new version.
            PipelineError::FileChanging { .. } => {}
            _ => {
                let failures = self.failures.entry(day).or_insert(0);
                *failures += 1;
                let wait = (self.options.interval * 2u32.saturating_pow(*failures - 1))
                    .min(MOST_BETWEEN_RETRIES);
                tracing::warn!(%day, error = %chain(&err), retry_in_s = wait.as_secs(), "day file not stored yet");
                self.waiting.retry_after(day, wait, Instant::now());
            }
        }
    }

    fn report(&self) {
        metrics::gauge!("watch_files_waiting").set(self.waiting.len() as f64);
        metrics::gauge!("watch_newest_unstored_file_age_seconds").set(
            self.waiting
                .newest_age(SystemTime::now())
                .map_or(f64::NAN, |age| age.as_secs_f64()),
        );
    }
}

/// The stamp of `day`'s power file now, `None` when there is none.
async fn stamp_of(dir: &Path, day: Day) -> Option<FileStamp> {
    let path = power_file_path(dir, day);
    tokio::task::spawn_blocking(move || FileStamp::of(&path).ok().flatten())
        .await
        .ok()
        .flatten()
}

/// Every day file of `dir` with its stamp; empty when it cannot be listed.
async fn scan(dir: &Path) -> HashMap<Day, FileStamp> {
    let dir = dir.to_owned();
    let listed = tokio::task::spawn_blocking(move || {
        let files = match power_files(&dir) {
            Ok(files) => files,
            Err(err) => {
                tracing::warn!(dir = %dir.display(), error = %err, "cannot list the data directory");
                return HashMap::new();
            }
        };
        files
            .into_iter()
            .filter_map(|(day, path)| Some((day, FileStamp::of(&path).ok().flatten()?)))
            .collect()
    })
    .await;
    listed.unwrap_or_default()
}

/// inotify events of `dir`'s day files, sent as [`Seen`].
fn watch_events(
    dir: &Path,
    tx: mpsc::UnboundedSender<Seen>,
) -> notify::Result<notify::RecommendedWatcher> {
    use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
    use notify::{EventKind, RecursiveMode, Watcher as _};
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else {
            return;
        };
        let (paths, moved_in): (&[PathBuf], bool) = match event.kind {
            EventKind::Modify(ModifyKind::Name(RenameMode::To)) => (&event.paths, true),
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => {
                (event.paths.get(1..).unwrap_or_default(), true)
            }
            EventKind::Create(_)
            | EventKind::Modify(_)
            | EventKind::Access(AccessKind::Close(AccessMode::Write)) => (&event.paths, false),
            _ => return,
        };
        for path in paths {
            if let Some(day) = path.file_name().and_then(power_file_day) {
                let _ = tx.send(Seen { day, moved_in });
            }
        }
    })?;
    watcher.watch(dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}
