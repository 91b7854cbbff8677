//! When a day file seen changing may be read: once it has been renamed into
//! place (the producer wrote it elsewhere and moved it, as producers are
//! told to), or once its size and modification time have held still for
//! the settle time. A file read half-written would store half a day.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::half_hour::Day;
use crate::power::FileStamp;

/// A day file seen new or changed, and not read since.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    /// The stamp last seen; `None` while the file is absent.
    stamp: Option<FileStamp>,
    /// When that stamp was first seen.
    since: Instant,
    /// Renamed into place with that stamp: complete.
    moved_in: bool,
    /// Not to be tried before this (after a failure).
    not_before: Instant,
}

/// The day files waiting to be read, and when each may be.
#[derive(Debug, Default)]
pub(super) struct Waiting {
    days: HashMap<Day, Candidate>,
}

impl Waiting {
    /// Notes `day`'s file as seen at `now` with `stamp`; `moved_in` when an
    /// event said it was renamed into place. A changed stamp starts the
    /// settle time again.
    pub(super) fn seen(
        &mut self,
        day: Day,
        stamp: Option<FileStamp>,
        moved_in: bool,
        now: Instant,
    ) {
        let entry = self.days.entry(day).or_insert(Candidate {
            stamp,
            since: now,
            moved_in,
            not_before: now,
        });
        if entry.stamp != stamp {
            entry.stamp = stamp;
            entry.since = now;
            entry.moved_in = moved_in;
        } else {
            entry.moved_in |= moved_in;
        }
    }

    /// Tries `day` again no sooner than `after` from `now`.
    pub(super) fn retry_after(&mut self, day: Day, after: Duration, now: Instant) {
        if let Some(entry) = self.days.get_mut(&day) {
            entry.not_before = now + after;
        }
    }

    /// Forgets `day` (read, or its file gone).
    pub(super) fn remove(&mut self, day: Day) {
        self.days.remove(&day);
    }

    /// The days waiting, and the stamps they were last seen with.
    pub(super) fn stamps(&self) -> Vec<(Day, Option<FileStamp>)> {
        self.days.iter().map(|(d, c)| (*d, c.stamp)).collect()
    }

    pub(super) fn len(&self) -> usize {
        self.days.len()
    }

    /// The newest day whose file may be read now: renamed into place, or
    /// still for `settle` (by this clock, or by its modification time).
    pub(super) fn next_ready(
        &self,
        settle: Duration,
        now: Instant,
        wall: SystemTime,
    ) -> Option<Day> {
        self.days
            .iter()
            .filter(|(_, c)| c.not_before <= now)
            .filter(|(_, c)| {
                let Some(stamp) = c.stamp else {
                    return false;
                };
                c.moved_in || now.duration_since(c.since) >= settle || age(stamp, wall) >= settle
            })
            .map(|(day, _)| *day)
            .max()
    }

    /// How long ago the newest waiting file was last written, if any waits.
    pub(super) fn newest_age(&self, wall: SystemTime) -> Option<Duration> {
        self.days
            .values()
            .filter_map(|c| c.stamp)
            .map(|stamp| age(stamp, wall))
            .min()
    }
}

/// Time since `stamp`'s modification time (zero for one in the future: a
/// clock ahead on the machine that wrote it).
fn age(stamp: FileStamp, wall: SystemTime) -> Duration {
    let now_ns = wall
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    Duration::from_nanos(u64::try_from(now_ns.saturating_sub(stamp.mtime_ns)).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTLE: Duration = Duration::from_secs(3);

    fn stamp(size: u64, written: SystemTime) -> FileStamp {
        let mtime_ns = written.duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64;
        FileStamp {
            size,
            mtime_ns,
            inode: 7,
            ctime_ns: mtime_ns,
        }
    }

    #[test]
    fn a_file_still_growing_waits_and_a_still_one_is_ready_after_the_settle_time() {
        // Arrange
        let (start, wall) = (Instant::now(), SystemTime::now());
        let day = Day::parse("2026-12-05").unwrap();
        let mut waiting = Waiting::default();

        // Act: seen growing each second, then still.
        let mut outcomes = Vec::new();
        for second in 0..3u64 {
            let at = start + Duration::from_secs(second);
            let written = wall + Duration::from_secs(second);
            waiting.seen(day, Some(stamp(100 * (second + 1), written)), false, at);
            outcomes.push(waiting.next_ready(SETTLE, at, written));
        }
        let last_written = wall + Duration::from_secs(2);
        let still = start + Duration::from_secs(5);
        waiting.seen(day, Some(stamp(300, last_written)), false, still);
        let after = waiting.next_ready(SETTLE, still, wall + Duration::from_secs(5));

        // Assert
        assert_eq!(outcomes, vec![None, None, None]);
        assert_eq!(after, Some(day));
    }

    #[test]
    fn a_file_renamed_into_place_is_ready_at_once_and_a_later_change_waits_again() {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let day = Day::parse("2026-12-05").unwrap();
        let mut waiting = Waiting::default();

        waiting.seen(day, Some(stamp(10, wall)), true, now);
        let renamed = waiting.next_ready(SETTLE, now, wall);
        waiting.seen(day, Some(stamp(20, wall)), false, now);
        let rewritten = waiting.next_ready(SETTLE, now, wall);

        assert_eq!(renamed, Some(day));
        assert_eq!(rewritten, None);
    }

    #[test]
    fn the_newest_day_goes_first_and_a_failed_one_waits_its_turn() {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let old = wall - Duration::from_secs(60);
        let (a, b) = (
            Day::parse("2026-12-01").unwrap(),
            Day::parse("2026-12-04").unwrap(),
        );
        let mut waiting = Waiting::default();
        waiting.seen(a, Some(stamp(1, old)), false, now);
        waiting.seen(b, Some(stamp(1, old)), false, now);

        let first = waiting.next_ready(SETTLE, now, wall);
        waiting.retry_after(b, Duration::from_secs(30), now);
        let then = waiting.next_ready(SETTLE, now, wall);
        let absent = {
            waiting.seen(a, None, false, now);
            waiting.next_ready(SETTLE, now + SETTLE, wall)
        };

        assert_eq!(first, Some(b));
        assert_eq!(then, Some(a));
        assert_eq!(absent, None, "a file gone is not read");
        assert_eq!(waiting.newest_age(wall), Some(Duration::from_secs(60)));
    }
}
