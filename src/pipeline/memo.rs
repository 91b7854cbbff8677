//! What the pipeline remembers between requests so that a warm answer
//! touches no database: the answers and days found current, the files'
//! stamps taken within the last millisecond, and which assets each
//! version of a day file holds. Each entry names the versions it was
//! found with, and is used only while they still hold.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::{Freshness, IngestedDay};
use crate::asset::AssetId;
use crate::half_hour::Day;
use crate::intensity::AreaChoice;
use crate::power::{FileStamp, SourceStamp};
use crate::register::REGISTER_FILE;

/// How long a file's stamps are reused.
const STAMP_REUSE: std::time::Duration = std::time::Duration::from_millis(1);

/// Day files whose stamps and assets are remembered.
const MAX_REMEMBERED_FILES: usize = 64;

/// Days remembered as current: a year and more, so that a year's report
/// or fleet answer is checked with a `stat` a day and no database.
const MAX_REMEMBERED_DAYS: usize = 400;

/// Areas' days of intensity held by the remembered days: a region's day
/// with its generation mix is some 20 kB, so 2,000 of them are 40 MB.
const MAX_REMEMBERED_INTENSITIES: usize = 2_000;

/// One asset-day asked with one area choice.
pub(super) type AnswerKey = (AssetId, Day, AreaChoice);

/// An answer's freshness, and the asset register it was computed with.
pub(super) type KnownAnswer = (Freshness, Option<FileStamp>);

/// A day read whole and current, with the register it was checked with.
pub(super) type KnownDay = (Option<FileStamp>, IngestedDay);

/// The assets one version of a day's file holds.
type FileAssets = (FileStamp, Arc<BTreeSet<AssetId>>);

#[derive(Debug, Default)]
pub(super) struct Memo {
    /// Versions already checked against storage, for the fast path.
    answers: Mutex<HashMap<AnswerKey, KnownAnswer>>,
    /// Days found read whole and current, for the fleet's fast path.
    days: Mutex<HashMap<Day, KnownDay>>,
    /// How many areas' days of intensity `days` holds.
    day_intensities: Mutex<usize>,
    /// The register's stamp, and when it was taken.
    register: Mutex<Option<(Instant, Option<FileStamp>)>>,
    /// Stamps of day files, and when they were taken.
    stamps: Mutex<HashMap<Day, (Instant, Option<SourceStamp>)>>,
    /// The assets of each day file version read so far.
    file_assets: Mutex<HashMap<Day, FileAssets>>,
}

impl Memo {
    pub(super) fn answer(&self, key: &AnswerKey) -> Option<KnownAnswer> {
        lock(&self.answers).get(key).copied()
    }

    pub(super) fn remember_answer(&self, key: AnswerKey, known: KnownAnswer) {
        lock(&self.answers).insert(key, known);
    }

    pub(super) fn day(&self, day: Day) -> Option<KnownDay> {
        lock(&self.days).get(&day).cloned()
    }

    pub(super) fn remember_day(&self, day: Day, known: KnownDay) {
        let mut days = lock(&self.days);
        let mut held = lock(&self.day_intensities);
        let adding = known.1.intensities.len();
        if (days.len() >= MAX_REMEMBERED_DAYS || *held + adding > MAX_REMEMBERED_INTENSITIES)
            && !days.contains_key(&day)
        {
            days.clear();
            *held = 0;
        }
        if let Some((_, before)) = days.insert(day, known) {
            *held -= before.intensities.len().min(*held);
        }
        *held += adding;
    }

    /// The asset register's stamp in `data_dir`, taken at most
    /// [`STAMP_REUSE`] ago, as the day files' are.
    pub(super) fn register_stamp(&self, data_dir: &Path) -> Option<FileStamp> {
        let now = Instant::now();
        let mut recent = lock(&self.register);
        if let Some((taken, stamp)) = *recent
            && now.duration_since(taken) < STAMP_REUSE
        {
            return stamp;
        }
        let stamp =
            FileStamp::of(&data_dir.join(REGISTER_FILE)).unwrap_or(Some(FileStamp::UNREADABLE));
        *recent = Some((now, stamp));
        stamp
    }

    /// The stamps of `day`'s power files, taken at most [`STAMP_REUSE`]
    /// ago: under load the same two `stat` calls would otherwise be made
    /// for every request, and a file changed within that millisecond is
    /// noticed by the next.
    pub(super) fn stamp(&self, data_dir: &Path, day: Day) -> Option<SourceStamp> {
        let now = Instant::now();
        if let Some((taken, stamp)) = lock(&self.stamps).get(&day)
            && now.duration_since(*taken) < STAMP_REUSE
        {
            return *stamp;
        }
        let stamp = SourceStamp::of(data_dir, day).ok().flatten();
        let mut stamps = lock(&self.stamps);
        if stamps.len() >= MAX_REMEMBERED_FILES {
            stamps.retain(|_, (taken, _)| now.duration_since(*taken) < STAMP_REUSE);
        }
        stamps.insert(day, (now, stamp));
        stamp
    }

    /// Whether `asset` is known to have no rows in the version `stamp` of
    /// `day`'s file, from an earlier read of it.
    pub(super) fn known_absent(&self, asset: &AssetId, day: Day, stamp: FileStamp) -> bool {
        lock(&self.file_assets)
            .get(&day)
            .is_some_and(|(seen, assets)| *seen == stamp && !assets.contains(asset))
    }

    /// Remembers which assets the version `stamp` of `day`'s file holds.
    pub(super) fn remember_assets(&self, day: Day, stamp: FileStamp, assets: BTreeSet<AssetId>) {
        let mut files = lock(&self.file_assets);
        if files.len() >= MAX_REMEMBERED_FILES && !files.contains_key(&day) {
            files.clear();
        }
        files.insert(day, (stamp, Arc::new(assets)));
    }
}

/// A poisoned lock only means a panic elsewhere: the map is still sound.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
