//! Power, the first source: the day's file on disk ([`file`]), COV rows in
//! from CSV ([`csv`]), exact energy per half-hour out ([`resample`]), and the
//! meter-side encoder that produces COV rows from a known signal ([`cov`]).

pub mod carry;
pub mod cov;
pub mod csv;
pub mod day_file;
pub mod file;
pub mod resample;

pub use self::carry::CarryOver;
pub use self::csv::{
    CsvError, PowerReading, PowerSeries, SkippedRow, SkippedRows, read_asset_ids, read_power_csv,
};
pub use self::day_file::{DayFile, read_day_file};
pub use self::file::{
    FileStamp, SourceStamp, open_regular, power_file_day, power_file_path, power_files,
};
pub use self::resample::{HalfHourEnergy, Integrals, resample_day, resample_day_with_gaps};
