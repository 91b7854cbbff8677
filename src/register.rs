//! The asset register: an optional `assets.csv` in the data directory
//! saying what each asset is called and where it is (`AssetId,Name,
//! RegionId,Postcode`; RegionId 1..17 as the Carbon Intensity API numbers
//! its regions, or an outward postcode such as `RG10`; either may be
//! empty). It is read with the csv crate, again whenever the file changes;
//! a bad row is reported with its line number and skipped, never the
//! whole register.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

use crate::asset::AssetId;
use crate::message::quote;
use crate::power::FileStamp;

/// The register's file name in the data directory.
pub const REGISTER_FILE: &str = "assets.csv";

/// The API's regions: 1 North Scotland .. 17 Wales (18-21 are England,
/// Scotland, Wales and GB, which are not one place).
pub const REGION_IDS: std::ops::RangeInclusive<u8> = 1..=17;

/// Where an asset's regional intensity comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Region {
    /// A region id of the API, 1..=17.
    Id(u8),
    /// The outward part of a postcode, upper case (`RG10`).
    Postcode(String),
}

impl std::fmt::Display for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Region::Id(id) => write!(f, "region {id}"),
            Region::Postcode(outward) => write!(f, "postcode {outward}"),
        }
    }
}

/// One asset of the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisterEntry {
    pub asset: AssetId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_id: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    /// The asset's electricity supplier's emission factor, for
    /// market-based reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplier_factor: Option<SupplierFactor>,
}

/// A supplier's emission factor in kg CO2e per kWh: finite, 0 to 10.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SupplierFactor(f64);

// Only finite values are made, so equality is total.
impl Eq for SupplierFactor {}

impl SupplierFactor {
    pub fn new(kg_per_kwh: f64) -> Option<SupplierFactor> {
        (kg_per_kwh.is_finite() && (0.0..10.0).contains(&kg_per_kwh))
            .then_some(SupplierFactor(kg_per_kwh))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl RegisterEntry {
    /// The region to ask for: the region id when given (it names the
    /// region exactly), else the postcode.
    pub fn region(&self) -> Option<Region> {
        match (&self.region_id, &self.postcode) {
            (Some(id), _) => Some(Region::Id(*id)),
            (None, Some(outward)) => Some(Region::Postcode(outward.clone())),
            (None, None) => None,
        }
    }
}

/// A row of the register that was skipped, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisterProblem {
    pub line: u64,
    pub reason: String,
}

/// The register as read: its entries by asset, and the rows skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Register {
    pub entries: BTreeMap<AssetId, RegisterEntry>,
    pub problems: Vec<RegisterProblem>,
}

impl Register {
    pub fn get(&self, asset: &AssetId) -> Option<&RegisterEntry> {
        self.entries.get(asset)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(
        "the asset register {REGISTER_FILE} has no AssetId column; expected AssetId,Name,RegionId,Postcode"
    )]
    NoAssetColumn,
    #[error("cannot read the asset register {REGISTER_FILE}")]
    Read(#[source] csv::Error),
    #[error("cannot open the asset register {REGISTER_FILE}")]
    Open(#[source] io::Error),
}

/// Reads a register from CSV. Columns are found by name in any order;
/// only `AssetId` is required.
pub fn read_register<R: io::Read>(input: R) -> Result<Register, RegisterError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers = reader.headers().map_err(RegisterError::Read)?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
    };
    let asset_col = column("AssetId").ok_or(RegisterError::NoAssetColumn)?;
    let (name_col, region_col, postcode_col, supplier_col) = (
        column("Name"),
        column("RegionId"),
        column("Postcode"),
        column("SupplierFactor"),
    );
    let mut register = Register::default();
    let mut lines: BTreeMap<AssetId, u64> = BTreeMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(err) if err.is_io_error() => return Err(RegisterError::Read(err)),
            Err(err) => {
                let line = err.position().map_or(0, |p| p.line());
                register.problems.push(RegisterProblem {
                    line,
                    reason: format!("unreadable CSV record: {err}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let field = |col: Option<usize>| {
            col.and_then(|c| record.get(c))
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let mut problem = |reason: String| {
            register.problems.push(RegisterProblem { line, reason });
        };
        if record.iter().all(str::is_empty) {
            continue;
        }
        let asset = match AssetId::parse(record.get(asset_col).unwrap_or_default()) {
            Ok(asset) => asset,
            Err(err) => {
                problem(err.to_string());
                continue;
            }
        };
        let region_id = match field(region_col) {
            None => None,
            Some(text) => match text.parse::<u8>() {
                Ok(id) if REGION_IDS.contains(&id) => Some(id),
                _ => {
                    problem(format!(
                        "RegionId `{}` of `{asset}` is not a region from 1 to 17",
                        quote(&text, 20)
                    ));
                    continue;
                }
            },
        };
        let postcode = match field(postcode_col) {
            None => None,
            Some(text) => match outward_code(&text) {
                Some(outward) => Some(outward),
                None => {
                    problem(format!(
                        "Postcode `{}` of `{asset}` is not the outward part of a UK postcode (such as RG10)",
                        quote(&text, 20)
                    ));
                    continue;
                }
            },
        };
        let supplier_factor = match field(supplier_col) {
            None => None,
            Some(text) => match text.parse::<f64>().ok().and_then(SupplierFactor::new) {
                Some(factor) => Some(factor),
                None => {
                    problem(format!(
                        "SupplierFactor `{}` of `{asset}` is not a factor in kg CO2e per kWh (0 to 10)",
                        quote(&text, 20)
                    ));
                    continue;
                }
            },
        };
        let name = field(name_col).map(|n| n.chars().take(200).collect());
        if let Some(earlier) = lines.insert(asset.clone(), line) {
            problem(format!(
                "`{asset}` is listed again; this row replaces line {earlier}"
            ));
        }
        register.entries.insert(
            asset.clone(),
            RegisterEntry {
                asset,
                name,
                region_id,
                postcode,
                supplier_factor,
            },
        );
    }
    Ok(register)
}

/// The outward part of a postcode, upper case: one or two letters, a
/// digit, and an optional letter or digit (`RG10`, `W1A`, `M1`).
pub fn outward_code(text: &str) -> Option<String> {
    let code = text.trim().to_ascii_uppercase();
    let b = code.as_bytes();
    let letters = b.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    let rest = &b[letters..];
    let ok = (1..=2).contains(&letters) && matches!(rest, [d] if d.is_ascii_digit())
        || (1..=2).contains(&letters)
            && matches!(rest, [d, x] if d.is_ascii_digit() && x.is_ascii_alphanumeric());
    ok.then_some(code)
}

/// The register last read, and the version of the file it was read from.
type LastRead = Option<(FileStamp, Arc<Register>)>;

/// The register file of a data directory, read again when it changes.
#[derive(Debug, Clone)]
pub struct AssetRegister {
    path: PathBuf,
    read: Arc<Mutex<LastRead>>,
}

impl AssetRegister {
    pub fn new(dir: &Path) -> Self {
        AssetRegister {
            path: dir.join(REGISTER_FILE),
            read: Arc::default(),
        }
    }

    /// The register as the file says now (empty without a file). Blocking:
    /// a `stat`, and a read when the file changed.
    pub fn current(&self) -> Result<Arc<Register>, RegisterError> {
        Ok(self.current_with_stamp()?.1)
    }

    /// [`AssetRegister::current`] with the version of the file it was read
    /// from (`None` without a file).
    pub fn current_with_stamp(&self) -> Result<(Option<FileStamp>, Arc<Register>), RegisterError> {
        let Some(stamp) = FileStamp::of(&self.path).map_err(RegisterError::Open)? else {
            return Ok((None, Arc::default()));
        };
        if let Some((seen, register)) = &*self.read.lock().unwrap_or_else(PoisonError::into_inner)
            && *seen == stamp
        {
            return Ok((Some(stamp), Arc::clone(register)));
        }
        // A FIFO or device in its place is refused, never waited on.
        let (file, _) = crate::power::open_regular(&self.path).map_err(RegisterError::Open)?;
        let register = Arc::new(read_register(file)?);
        for problem in &register.problems {
            tracing::warn!(line = problem.line, reason = %problem.reason, "asset register row skipped");
        }
        *self.read.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((stamp, Arc::clone(&register)));
        Ok((Some(stamp), register))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> AssetId {
        AssetId::parse(s).unwrap()
    }

    #[test]
    fn entries_are_read_by_column_name_and_bad_rows_skipped_with_their_lines() {
        let text = "AssetId,Name,RegionId,Postcode\n\
                    abc123xyz,\"Battery, Reading depot\",,rg10\n\
                    heatpump-07,Heat pump 7,13,\n\
                    bad id!,x,1,\n\
                    hp-2,,18,\n\
                    hp-3,,,NOT A CODE\n\
                    plain,,,\n\
                    heatpump-07,Heat pump 7b,12,\n";
        let register = read_register(text.as_bytes()).unwrap();

        let abc = register.get(&id("abc123xyz")).unwrap();
        assert_eq!(abc.name.as_deref(), Some("Battery, Reading depot"));
        assert_eq!(abc.region(), Some(Region::Postcode("RG10".into())));
        assert_eq!(
            register.get(&id("heatpump-07")).unwrap().region(),
            Some(Region::Id(12))
        );
        assert_eq!(register.get(&id("plain")).unwrap().region(), None);
        assert!(register.get(&id("hp-2")).is_none());
        let lines: Vec<u64> = register.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [4, 5, 6, 8]);
        assert!(
            register.problems[1]
                .reason
                .contains("not a region from 1 to 17")
        );
        assert!(register.problems[3].reason.contains("replaces line 3"));
    }

    #[test]
    fn a_register_without_an_asset_column_is_refused() {
        assert!(matches!(
            read_register("Name,RegionId\nx,1\n".as_bytes()),
            Err(RegisterError::NoAssetColumn)
        ));
    }

    #[test]
    fn outward_codes_are_checked_and_upper_cased() {
        for good in ["RG10", "w1a", "M1", "EC1A", "BS7"] {
            assert!(outward_code(good).is_some(), "{good}");
        }
        for bad in ["", "10", "RG", "RG10 4AB", "ABC1", "R-1"] {
            assert!(outward_code(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_register_is_read_again_when_its_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let register = AssetRegister::new(dir.path());
        assert!(register.current().unwrap().entries.is_empty());
        std::fs::write(dir.path().join(REGISTER_FILE), "AssetId,RegionId\na,1\n").unwrap();
        assert_eq!(register.current().unwrap().entries.len(), 1);
        std::fs::write(
            dir.path().join(REGISTER_FILE),
            "AssetId,RegionId\na,1\nb,2\n",
        )
        .unwrap();
        assert_eq!(register.current().unwrap().entries.len(), 2);
    }
}
