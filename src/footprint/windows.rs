//! The best times to run: windows of a given length starting on half-hour
//! boundaries, ranked by their time-weighted mean intensity (a window of
//! 45 minutes counts its second half-hour for half), none overlapping
//! another; or, for a load that can pause, the cheapest half-hours adding
//! up to the length. Each is compared with starting at once.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// Shortest and longest window, in minutes.
pub const MINUTES: std::ops::RangeInclusive<u32> = 30..=2_880;
/// The largest load's energy: a TWh, past which grams would overflow.
pub const MAX_ENERGY_KWH: f64 = 1e9;
/// Most windows ranked in one answer.
pub const MAX_RESULTS: usize = 48;

/// One half-hour of the range searched; `None` where its intensity is
/// not known (no window may hold it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    pub from: DateTime<Utc>,
    pub g_per_kwh: Option<f64>,
}

/// What is asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowAsk {
    pub minutes: u32,
    pub results: usize,
    /// `false`: any half-hours, not one run of them.
    pub contiguous: bool,
    /// The energy the load takes, for figures in grams.
    pub energy_kwh: Option<f64>,
}

/// A stretch of time a window runs in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// One ranked window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub mean_g_per_kwh: f64,
    /// Against the window of the same length starting at `from`; `None`
    /// when that one's intensity is not wholly known.
    pub saving_g_per_kwh: Option<f64>,
    pub saving_pct: Option<f64>,
    /// With `energy_kwh`: the load's emissions in this window, and the
    /// grams saved against starting at `from`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emissions_g: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saving_g: Option<f64>,
    /// For a load that can pause: the stretches it runs in, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs: Option<Vec<Span>>,
}

/// The ranking, best first, and what it was compared with.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub windows: Vec<Window>,
    /// The mean of the window of the same length starting at `from`.
    pub from_now_g_per_kwh: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WindowsError {
    #[error("minutes must be from 30 to 2880, not {0}")]
    Minutes(u32),
    #[error("results must be from 1 to {MAX_RESULTS}, not {0}")]
    Results(usize),
    #[error("energy_kwh must be from 0 to 1e9 (a TWh), not {0}")]
    Energy(f64),
    #[error(
        "no window of {minutes} minutes fits between {} and {}: the intensity is known for {known} half-hour(s) of it",
        .from.format("%Y-%m-%dT%H:%MZ"), .before.format("%Y-%m-%dT%H:%MZ")
    )]
    NoneFits {
        minutes: u32,
        from: DateTime<Utc>,
        before: DateTime<Utc>,
        known: usize,
    },
}

impl WindowAsk {
    pub fn check(&self) -> Result<(), WindowsError> {
        if !MINUTES.contains(&self.minutes) {
            return Err(WindowsError::Minutes(self.minutes));
        }
        if !(1..=MAX_RESULTS).contains(&self.results) {
            return Err(WindowsError::Results(self.results));
        }
        match self.energy_kwh {
            Some(e) if !(0.0..=MAX_ENERGY_KWH).contains(&e) => Err(WindowsError::Energy(e)),
            _ => Ok(()),
        }
    }

    /// Whole half-hours, and the share of one more.
    fn shape(&self) -> (usize, f64) {
        (
            (self.minutes / 30) as usize,
            f64::from(self.minutes % 30) / 30.0,
        )
    }

    /// Half-hours a window touches.
    fn touched(&self) -> usize {
        self.minutes.div_ceil(30) as usize
    }
}

/// The best `ask.results` windows within `slots` (consecutive half-hours,
/// the first at `from`, the last ending at `before`).
pub fn best_windows(slots: &[Slot], ask: &WindowAsk) -> Result<Ranked, WindowsError> {
    ask.check()?;
    let from_now = mean_at(slots, 0, ask);
    let picked: Vec<Window> = if ask.contiguous {
        contiguous(slots, ask)
    } else {
        pausing(slots, ask)
    };
    if picked.is_empty() {
        let (from, before) = bounds(slots);
        return Err(WindowsError::NoneFits {
            minutes: ask.minutes,
            from,
            before,
            known: slots.iter().filter(|s| s.g_per_kwh.is_some()).count(),
        });
    }
    let windows = picked
        .into_iter()
        .map(|w| compared(w, from_now, ask.energy_kwh))
        .collect();
    Ok(Ranked {
        windows,
        from_now_g_per_kwh: from_now,
    })
}

fn bounds(slots: &[Slot]) -> (DateTime<Utc>, DateTime<Utc>) {
    match (slots.first(), slots.last()) {
        (Some(first), Some(last)) => (first.from, last.from + Duration::minutes(30)),
        _ => (DateTime::UNIX_EPOCH, DateTime::UNIX_EPOCH),
    }
}

/// The mean of the window starting at slot `i`, if it fits and is known.
fn mean_at(slots: &[Slot], i: usize, ask: &WindowAsk) -> Option<f64> {
    let (whole, part) = ask.shape();
    if i + ask.touched() > slots.len() {
        return None;
    }
    let mut sum = 0.0;
    for slot in &slots[i..i + whole] {
        sum += slot.g_per_kwh?;
    }
    if part > 0.0 {
        sum += part * slots[i + whole].g_per_kwh?;
    }
    Some(sum / (f64::from(ask.minutes) / 30.0))
}

/// Every window that fits, best first (ties to the earlier start), then
/// kept greedily when it overlaps none kept before: the second best is the
/// best window that does not overlap the first.
fn contiguous(slots: &[Slot], ask: &WindowAsk) -> Vec<Window> {
    let mut candidates: Vec<(f64, usize)> = (0..slots.len())
        .filter_map(|i| mean_at(slots, i, ask).map(|m| (m, i)))
        .collect();
    candidates.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let length = Duration::minutes(i64::from(ask.minutes));
    let mut kept: Vec<Window> = Vec::new();
    for (mean, i) in candidates {
        if kept.len() == ask.results {
            break;
        }
        let start = slots[i].from;
        let end = start + length;
        if kept.iter().all(|w| end <= w.start || start >= w.end) {
            kept.push(bare(start, end, mean, None));
        }
    }
    kept
}

/// The cheapest known half-hours (ties to the earlier) adding up to the
/// length, the last of them run for its share; the next result takes the
/// cheapest of those left, and so on.
fn pausing(slots: &[Slot], ask: &WindowAsk) -> Vec<Window> {
    let (whole, part) = ask.shape();
    let mut known: Vec<(f64, DateTime<Utc>)> = slots
        .iter()
        .filter_map(|s| s.g_per_kwh.map(|g| (g, s.from)))
        .collect();
    known.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let hours = f64::from(ask.minutes) / 30.0;
    known
        .chunks_exact(ask.touched())
        .take(ask.results)
        .map(|chosen| {
            let sum: f64 = chosen[..whole].iter().map(|c| c.0).sum::<f64>()
                + chosen.get(whole).map_or(0.0, |c| part * c.0);
            let mut spans: Vec<Span> = chosen
                .iter()
                .enumerate()
                .map(|(k, c)| Span {
                    start: c.1,
                    end: c.1
                        + if k < whole {
                            Duration::minutes(30)
                        } else {
                            Duration::minutes(i64::from(ask.minutes % 30))
                        },
                })
                .collect();
            spans.sort_by_key(|s| s.start);
            let runs = merged(spans);
            let (start, end) = (runs[0].start, runs[runs.len() - 1].end);
            bare(start, end, sum / hours, Some(runs))
        })
        .collect()
}

/// Touching spans made one.
fn merged(spans: Vec<Span>) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        match out.last_mut() {
            Some(last) if last.end == span.start => last.end = span.end,
            _ => out.push(span),
        }
    }
    out
}

fn bare(start: DateTime<Utc>, end: DateTime<Utc>, mean: f64, runs: Option<Vec<Span>>) -> Window {
    Window {
        start,
        end,
        mean_g_per_kwh: mean,
        saving_g_per_kwh: None,
        saving_pct: None,
        emissions_g: None,
        saving_g: None,
        runs,
    }
}

fn compared(w: Window, from_now: Option<f64>, energy_kwh: Option<f64>) -> Window {
    let saving = from_now.map(|now| now - w.mean_g_per_kwh);
    Window {
        saving_g_per_kwh: saving,
        saving_pct: from_now
            .zip(saving)
            .filter(|(now, _)| *now > 0.0)
            .map(|(now, s)| s / now * 100.0),
        emissions_g: energy_kwh.map(|e| e * w.mean_g_per_kwh),
        saving_g: energy_kwh.zip(saving).map(|(e, s)| e * s),
        ..w
    }
}

#[cfg(test)]
mod tests {
    //! Checked against brute force: every start and every duration from 30
    //! to 300 minutes, the mean taken minute by minute, and for a load that
    //! pauses every choice of half-hours.

    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-06T17:00:00Z")
            .unwrap()
            .to_utc()
    }

    /// A day-like curve with repeats (ties) and, when `gaps`, unknowns.
    fn slots(n: usize, gaps: bool) -> Vec<Slot> {
        (0..n)
            .map(|i| Slot {
                from: t0() + Duration::minutes(30 * i as i64),
                g_per_kwh: if gaps && i % 7 == 5 {
                    None
                } else {
                    Some(f64::from(((i * 37 + 11) % 13) as u32) * 10.0 + 50.0)
                },
            })
            .collect()
    }

    /// The minute-by-minute mean of `minutes` from slot `i`.
    fn brute_mean(slots: &[Slot], i: usize, minutes: u32) -> Option<f64> {
        let mut sum = 0.0;
        for m in 0..minutes as usize {
            sum += slots.get(i + m / 30)?.g_per_kwh?;
        }
        Some(sum / f64::from(minutes))
    }

    fn ask(minutes: u32, results: usize, contiguous: bool) -> WindowAsk {
        WindowAsk {
            minutes,
            results,
            contiguous,
            energy_kwh: Some(2.0),
        }
    }

    #[test]
    fn every_contiguous_ranking_matches_a_brute_force() {
        for gaps in [false, true] {
            let slots = slots(30, gaps);
            for minutes in (30..=300).step_by(15) {
                // Brute force: every start's mean, then the best not
                // overlapping those taken, ties to the earlier start.
                let mut taken: Vec<(usize, f64)> = Vec::new();
                loop {
                    let span = |i: usize| (i * 30, i * 30 + minutes as usize);
                    let best = (0..slots.len())
                        .filter_map(|i| brute_mean(&slots, i, minutes).map(|m| (i, m)))
                        .filter(|(i, _)| {
                            taken.iter().all(|(j, _)| {
                                let (a, b) = (span(*i), span(*j));
                                a.1 <= b.0 || a.0 >= b.1
                            })
                        })
                        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
                    match best {
                        Some(b) if taken.len() < 4 => taken.push(b),
                        _ => break,
                    }
                }
                match best_windows(&slots, &ask(minutes, 4, true)) {
                    Ok(ranked) => {
                        assert_eq!(ranked.windows.len(), taken.len(), "{minutes} {gaps}");
                        for (w, (i, mean)) in ranked.windows.iter().zip(&taken) {
                            assert_eq!(w.start, slots[*i].from, "{minutes} {gaps}");
                            assert!((w.mean_g_per_kwh - mean).abs() < 1e-9);
                            assert_eq!(w.end - w.start, Duration::minutes(i64::from(minutes)));
                        }
                        let now = brute_mean(&slots, 0, minutes);
                        let first = &ranked.windows[0];
                        match now {
                            Some(now) => {
                                let saving = first.saving_g_per_kwh.unwrap();
                                assert!((saving - (now - first.mean_g_per_kwh)).abs() < 1e-9);
                                assert!((first.saving_g.unwrap() - 2.0 * saving).abs() < 1e-9);
                                assert!(saving >= 0.0, "the best is no worse than now");
                            }
                            None => assert_eq!(first.saving_g_per_kwh, None),
                        }
                    }
                    Err(_) => assert!(taken.is_empty(), "{minutes} {gaps}"),
                }
            }
        }
    }

    /// Every way to pick `k` of `n` items.
    fn choices(n: usize, k: usize) -> Vec<Vec<usize>> {
        if k == 0 {
            return vec![vec![]];
        }
        if n < k {
            return vec![];
        }
        let mut out = choices(n - 1, k);
        for mut c in choices(n - 1, k - 1) {
            c.push(n - 1);
            out.push(c);
        }
        out
    }

    #[test]
    fn the_best_pausing_load_matches_every_choice_of_half_hours() {
        let slots = slots(12, true);
        let known: Vec<f64> = slots.iter().filter_map(|s| s.g_per_kwh).collect();
        for minutes in (30..=300).step_by(15) {
            let touched = (minutes as usize).div_ceil(30);
            let part = f64::from(minutes % 30) / 30.0;
            // Brute force: every set of half-hours, any one of them run
            // for the share when the length is not whole half-hours.
            let mut best: Option<f64> = None;
            for chosen in choices(known.len(), touched) {
                for short in 0..chosen.len() {
                    let sum: f64 = chosen
                        .iter()
                        .enumerate()
                        .map(|(k, &c)| {
                            let w = if part > 0.0 && k == short { part } else { 1.0 };
                            w * known[c]
                        })
                        .sum();
                    let mean = sum / (f64::from(minutes) / 30.0);
                    best = Some(best.map_or(mean, |b: f64| b.min(mean)));
                    if part == 0.0 {
                        break;
                    }
                }
            }
            match (best, best_windows(&slots, &ask(minutes, 1, false))) {
                (Some(b), Ok(ranked)) => {
                    let w = &ranked.windows[0];
                    assert!((w.mean_g_per_kwh - b).abs() < 1e-9, "{minutes}");
                    let runs = w.runs.as_ref().unwrap();
                    let ran: i64 = runs.iter().map(|r| (r.end - r.start).num_minutes()).sum();
                    assert_eq!(ran, i64::from(minutes));
                    assert!(runs.windows(2).all(|p| p[0].end < p[1].start));
                }
                (None, Err(_)) => {}
                (b, r) => panic!("{minutes}: brute {b:?}, ranked {r:?}"),
            }
        }
    }

    #[test]
    fn pausing_results_never_share_a_half_hour() {
        let slots = slots(20, false);
        let ranked = best_windows(&slots, &ask(90, 3, false)).unwrap();
        let mut seen: Vec<DateTime<Utc>> = Vec::new();
        for w in &ranked.windows {
            for run in w.runs.as_ref().unwrap() {
                let mut at = run.start;
                while at < run.end {
                    assert!(!seen.contains(&at), "{at}");
                    seen.push(at);
                    at += Duration::minutes(30);
                }
            }
        }
        assert!(
            ranked.windows[0].mean_g_per_kwh <= ranked.windows[1].mean_g_per_kwh
                && ranked.windows[1].mean_g_per_kwh <= ranked.windows[2].mean_g_per_kwh
        );
    }

    #[test]
    fn a_window_longer_than_the_range_says_so() {
        let err = best_windows(&slots(3, false), &ask(120, 1, true)).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "no window of 120 minutes fits between 2026-12-06T17:00Z and 2026-12-06T18:30Z"
            ),
            "{err}"
        );
        assert_eq!(
            best_windows(&slots(3, false), &ask(20, 1, true)).unwrap_err(),
            WindowsError::Minutes(20)
        );
    }
}
