//! What the data directory holds: the dates that have a power file and the
//! assets inside each. The directory is listed on every call (cheap); a
//! file is read again only when its size or modification time changed, so
//! new, rewritten and removed files show up at once. Each asset carries
//! its name and region from the asset register, when it has one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

use crate::asset::AssetId;
use crate::half_hour::Day;
use crate::message::chain;
use crate::power::{FileStamp, power_files, read_asset_ids};
use crate::register::{AssetRegister, RegisterProblem};

/// One asset and the dates it has readings on, ascending, with what the
/// asset register says of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssetDates {
    pub asset: AssetId,
    pub dates: Vec<Day>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_id: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
}

impl AssetDates {
    /// The area whose intensity the asset's footprint uses: its region id
    /// in the register, else its postcode, else the nation's.
    pub fn area(&self) -> crate::intensity::Area {
        use crate::intensity::Area;
        use crate::register::Region;
        match (self.region_id, &self.postcode) {
            (Some(id), _) => Area::Regional(Region::Id(id)),
            (None, Some(outward)) => Area::Regional(Region::Postcode(outward.clone())),
            (None, None) => Area::National,
        }
    }
}

/// The whole directory, as `GET /assets` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct CatalogView {
    /// Every date with a power file, ascending.
    pub dates: Vec<Day>,
    /// Every asset with at least one power row, by id.
    pub assets: Vec<AssetDates>,
    /// Rows of the asset register that were skipped, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub register_problems: Vec<RegisterProblem>,
}

impl CatalogView {
    /// What a reader of `scope` may see: its assets, the dates they have,
    /// and the register's problems only for a reader of every asset (they
    /// name assets).
    pub fn within(mut self, scope: &crate::asset::AssetScope) -> CatalogView {
        if scope.is_everything() {
            return self;
        }
        self.assets.retain(|a| scope.covers(&a.asset));
        let dates: std::collections::BTreeSet<Day> = self
            .assets
            .iter()
            .flat_map(|a| a.dates.iter().copied())
            .collect();
        self.dates = dates.into_iter().collect();
        self.register_problems.clear();
        self
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot list the data directory {dir}")]
pub struct CatalogError {
    dir: String,
    #[source]
    source: std::io::Error,
}

/// The assets found in each day's power file, with the stamp they were
/// read at.
type FileAssets = HashMap<Day, (FileStamp, BTreeSet<AssetId>)>;

/// A cache of the assets in each power file, keyed by the file's stamp.
#[derive(Debug, Clone)]
pub struct Catalog {
    dir: PathBuf,
    files: Arc<Mutex<FileAssets>>,
    register: AssetRegister,
}

impl Catalog {
    pub fn new(dir: PathBuf) -> Self {
        Catalog {
            register: AssetRegister::new(&dir),
            dir,
            files: Arc::default(),
        }
    }

    /// The asset register of the directory.
    pub fn register(&self) -> &AssetRegister {
        &self.register
    }

    /// Lists the directory and returns what it holds now (blocking).
    /// A file that cannot be read is left out and logged.
    pub fn view(&self) -> Result<CatalogView, CatalogError> {
        let listed = power_files(&self.dir).map_err(|source| CatalogError {
            dir: self.dir.display().to_string(),
            source,
        })?;
        let known = self
            .files
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut current = HashMap::with_capacity(listed.len());
        for (day, path) in listed {
            let Ok(Some(stamp)) = FileStamp::of(&path) else {
                continue;
            };
            let assets = match known.get(&day) {
                Some((seen, assets)) if *seen == stamp => assets.clone(),
                _ => match crate::power::open_regular(&path)
                    .map(|(file, _)| file)
                    .map_err(|e| e.to_string())
                    .and_then(|f| read_asset_ids(f).map_err(|e| e.to_string()))
                {
                    Ok(assets) => assets,
                    Err(error) => {
                        tracing::warn!(file = %path.display(), %error, "power file left out of the asset list");
                        continue;
                    }
                },
            };
            current.insert(day, (stamp, assets));
        }
        let mut view = summarise(&current);
        *self.files.lock().unwrap_or_else(PoisonError::into_inner) = current;
        // A register that cannot be read leaves names and regions out and
        // says why; the power files are listed all the same.
        match self.register.current() {
            Ok(register) => {
                for entry in &mut view.assets {
                    if let Some(known) = register.get(&entry.asset) {
                        entry.name.clone_from(&known.name);
                        entry.region_id = known.region_id;
                        entry.postcode.clone_from(&known.postcode);
                    }
                }
                view.register_problems.clone_from(&register.problems);
            }
            Err(err) => {
                tracing::warn!(error = %chain(&err), "asset register not used");
                view.register_problems.push(RegisterProblem {
                    line: 0,
                    reason: chain(&err),
                });
            }
        }
        Ok(view)
    }
}

fn summarise(files: &FileAssets) -> CatalogView {
    let mut by_asset: BTreeMap<&AssetId, Vec<Day>> = BTreeMap::new();
    for (day, (_, assets)) in files {
        for asset in assets {
            by_asset.entry(asset).or_default().push(*day);
        }
    }
    let mut dates: Vec<Day> = files.keys().copied().collect();
    dates.sort();
    CatalogView {
        dates,
        register_problems: Vec::new(),
        assets: by_asset
            .into_iter()
            .map(|(asset, mut dates)| {
                dates.sort();
                AssetDates {
                    asset: asset.clone(),
                    dates,
                    name: None,
                    region_id: None,
                    postcode: None,
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_lists_assets_and_dates_and_follows_changes() {
        // Arrange
        let dir = tempfile::tempdir().unwrap();
        let header = "Time,Variable,AssetId,Value\n";
        for (date, rows) in [
            (
                "2019-11-24",
                "2019-11-24 18:00:00,power,heatpump-07,2\n2019-11-24 00:00:00,power,abc123xyz,1\n",
            ),
            (
                "2019-11-25",
                "2019-11-25 00:00:00,power,abc123xyz,1\n2019-11-25 00:10:00,power,heatpump-07,3\n",
            ),
        ] {
            let path = dir.path().join(format!("power_measurements_{date}.csv"));
            std::fs::write(path, format!("{header}{rows}")).unwrap();
        }
        std::fs::write(dir.path().join("power_measurements_not-a-date.csv"), "x").unwrap();
        let catalog = Catalog::new(dir.path().to_owned());

        // Act
        let before = catalog.view().unwrap();
        std::fs::write(
            dir.path().join("power_measurements_2019-11-26.csv"),
            "Time,Variable,AssetId,Value\n2019-11-26 00:00:00,power,newcomer,1\n",
        )
        .unwrap();
        let after = catalog.view().unwrap();

        // Assert
        let dates = |v: &CatalogView| v.dates.iter().map(Day::to_string).collect::<Vec<_>>();
        assert_eq!(dates(&before), ["2019-11-24", "2019-11-25"]);
        let ids: Vec<&str> = before.assets.iter().map(|a| a.asset.as_str()).collect();
        assert_eq!(ids, ["abc123xyz", "heatpump-07"]);
        assert_eq!(before.assets[0].dates.len(), 2);
        assert_eq!(dates(&after).last().map(String::as_str), Some("2019-11-26"));
        assert!(after.assets.iter().any(|a| a.asset.as_str() == "newcomer"));
        let json = serde_json::to_value(&after).unwrap();
        assert_eq!(json["assets"][0]["dates"][0], "2019-11-24");
    }
}
