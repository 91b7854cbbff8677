//! Every asset of a day file in one pass. A fleet's day file holds
//! thousands of assets; reading it once per asset costs the whole file
//! each time, so it is read once, its rows grouped by asset (compactly:
//! memory grows with the file's usable rows, about 24 bytes each), and
//! each asset's series is then made exactly as a read of that asset alone
//! would make it.

use std::collections::{BTreeSet, HashMap};
use std::io;

use crate::asset::AssetId;

use super::csv::{AssetRows, CsvError, PowerSeries, RowSink, SkippedRows, scan};

/// The rows of a whole day file, grouped by asset.
#[derive(Debug)]
pub struct DayFile {
    /// Sorted by id; ids that could never be asked for are left out.
    assets: Vec<(AssetId, AssetRows)>,
    /// Rows that named no asset: reported for every asset.
    unowned: SkippedRows,
}

/// Reads every asset's `power` rows from a CSV stream in one pass.
pub fn read_day_file<R: io::Read>(input: R) -> Result<DayFile, CsvError> {
    let mut sink = EveryAsset::default();
    let unowned = scan(input, &mut sink)?;
    let mut assets: Vec<(AssetId, AssetRows)> = sink
        .assets
        .into_iter()
        .filter_map(|(raw, rows)| {
            let id = AssetId::parse(std::str::from_utf8(&raw).ok()?).ok()?;
            Some((id, rows))
        })
        .collect();
    assets.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(DayFile { assets, unowned })
}

impl DayFile {
    /// The assets with `power` rows in the file.
    pub fn asset_ids(&self) -> BTreeSet<AssetId> {
        self.assets.iter().map(|(id, _)| id.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.assets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    /// Each asset's series, one at a time, giving back each asset's rows as
    /// it goes. An asset whose every row was rejected is its own error
    /// ([`CsvError::NoUsableRows`]); it does not stop the others.
    pub fn into_series(self) -> impl Iterator<Item = (AssetId, Result<PowerSeries, CsvError>)> {
        let unowned = self.unowned;
        self.assets.into_iter().map(move |(id, rows)| {
            let series = rows.into_series(&id, &unowned);
            (id, series)
        })
    }
}

/// Keeps every asset's rows.
#[derive(Default)]
struct EveryAsset {
    index: HashMap<Box<[u8]>, usize>,
    assets: Vec<(Box<[u8]>, AssetRows)>,
}

impl RowSink for EveryAsset {
    fn rows_of(&mut self, id: &[u8]) -> Option<&mut AssetRows> {
        let slot = match self.index.get(id) {
            Some(&slot) => slot,
            None => {
                let slot = self.assets.len();
                self.index.insert(id.into(), slot);
                self.assets.push((id.into(), AssetRows::default()));
                slot
            }
        };
        Some(&mut self.assets[slot].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::power::read_power_csv;

    /// Each asset's series from the one-pass read equals a read of that
    /// asset alone (which also lists the file's assets).
    fn assert_same_as_one_asset_reads(text: &str) {
        let whole = read_day_file(text.as_bytes()).unwrap();
        let ids = whole.asset_ids();
        for (id, series) in whole.into_series() {
            let alone = read_power_csv(text.as_bytes(), &id);
            match (series, alone) {
                (Ok(one_pass), Ok(mut alone)) => {
                    assert_eq!(alone.assets_in_file, ids);
                    alone.assets_in_file.clear();
                    assert_eq!(one_pass, alone, "asset {id}");
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "asset {id}"),
                (a, b) => panic!("asset {id}: one pass {a:?}, alone {b:?}"),
            }
        }
    }

    #[test]
    fn every_asset_is_read_as_a_read_of_it_alone_would_read_it() {
        assert_same_as_one_asset_reads(
            "Time,Variable,AssetId,Value\n\
             2019-11-25 10:00:00,power,a,3\n\
             2019-11-25 08:00:00,power,b,1\n\
             2019-11-25 09:00:00,power,a,-2\n\
             2019-11-25 09:00:00,power,a,-3\n\
             not a time,power,b,2\n\
             2019-11-25 08:10:00,power,a,NaN\n\
             2019-11-25 08:20:00,power,b\n\
             short\n\
             2019-11-25 08:30:00,soc,c,55\n\
             2019-11-25 11:00:00,power,c,bad\n\
             2019-11-25 11:00:00,power,d,7\n",
        );
    }

    #[test]
    fn a_bad_row_is_reported_for_its_own_asset_only() {
        let text = "Time,Variable,AssetId,Value\n\
                    2019-11-25 08:00:00,power,a,1\n\
                    2019-11-25 08:00:00,power,b,1\n\
                    2019-11-25 09:00:00,power,b,oops\n";
        let series: HashMap<AssetId, _> = read_day_file(text.as_bytes())
            .unwrap()
            .into_series()
            .collect();
        let of = |id: &str| series[&AssetId::parse(id).unwrap()].as_ref().unwrap();
        assert_eq!(of("a").skipped.count, 0);
        assert_eq!(of("b").skipped.count, 1);
        assert_eq!(of("b").skipped.first[0].line, 4);
    }

    #[test]
    fn an_asset_with_only_rejected_rows_fails_alone() {
        let text = "Time,Variable,AssetId,Value\n\
                    2019-11-25 08:00:00,power,a,1\n\
                    2019-11-25 08:00:00,power,b,x\n";
        let series: HashMap<AssetId, _> = read_day_file(text.as_bytes())
            .unwrap()
            .into_series()
            .collect();
        assert!(series[&AssetId::parse("a").unwrap()].is_ok());
        assert!(matches!(
            series[&AssetId::parse("b").unwrap()],
            Err(CsvError::NoUsableRows { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn one_pass_agrees_with_one_asset_reads_on_any_mix_of_rows(
            rows in proptest::collection::vec(
                (0u32..4, 0u32..6, -50i32..50, 0u8..10),
                0..60,
            )
        ) {
            let mut text = String::from("Time,Variable,AssetId,Value\n");
            for (asset, slot, value, fault) in rows {
                let time = format!("2019-11-25 {:02}:{:02}:00", 8 + slot / 2, (slot % 2) * 30);
                let id = ["a", "b", "c", "d"][asset as usize];
                let line = match fault {
                    0 => format!("{time},power,{id},x\n"),
                    1 => format!("never,power,{id},{value}\n"),
                    2 => format!("{time},power,{id}\n"),
                    3 => "junk\n".to_string(),
                    4 => format!("{time},soc,{id},{value}\n"),
                    _ => format!("{time},power,{id},{value}\n"),
                };
                text.push_str(&line);
            }
            if read_day_file(text.as_bytes()).is_ok() {
                assert_same_as_one_asset_reads(&text);
            }
        }
    }
}
