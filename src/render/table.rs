//! Footprint rows as CSV, one line per half-hour, ready for a spreadsheet.
//! A generation mix (regional intensity) becomes one column per fuel,
//! `mix_<fuel>_pct` under the API's fuel names, empty where a row has none;
//! rows without one keep exactly the columns they always had.

use std::collections::BTreeSet;

use chrono::SecondsFormat;

use super::RenderError;
use crate::footprint::FootprintRow;
use crate::half_hour::Day;

/// The columns every row has, in order.
const COLUMNS: [&str; 13] = [
    "half_hour_id",
    "from",
    "to",
    "samples",
    "coverage",
    "carried_forward",
    "mean_power_kw",
    "energy_kwh",
    "import_kwh",
    "export_kwh",
    "intensity_g_per_kwh",
    "intensity_kind",
    "footprint_g",
];

/// `rows` as CSV under a header line; each row is preceded by its date
/// when `dated` (a period's half-hours).
pub(super) fn footprint_csv<'a>(
    rows: impl Iterator<Item = (Option<Day>, &'a FootprintRow)> + Clone,
    dated: bool,
) -> Result<Vec<u8>, RenderError> {
    let settlement = rows.clone().any(|(_, r)| r.settlement_period.is_some());
    let fuels: BTreeSet<&str> = rows
        .clone()
        .flat_map(|(_, r)| r.generation_mix.iter().flat_map(|m| m.keys()))
        .map(String::as_str)
        .collect();
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = Vec::new();
    if dated {
        header.push("date".to_owned());
    }
    header.extend(COLUMNS.iter().map(|c| (*c).to_owned()));
    if settlement {
        header.extend(["settlement_period".to_owned(), "local_from".to_owned()]);
    }
    header.extend(fuels.iter().map(|fuel| format!("mix_{fuel}_pct")));
    writer.write_record(&header)?;
    let mut record: Vec<String> = Vec::with_capacity(header.len());
    for (date, row) in rows {
        record.clear();
        if dated {
            record.push(date.map(|d| d.to_string()).unwrap_or_default());
        }
        record.extend([
            row.half_hour_id.get().to_string(),
            row.from.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            row.to.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            row.samples.to_string(),
            number(Some(row.coverage)),
            row.carried_forward.to_string(),
            number(row.mean_power_kw),
            number(row.energy_kwh),
            number(row.import_kwh),
            number(row.export_kwh),
            number(Some(row.intensity_g_per_kwh)),
            row.intensity_kind.as_str().to_owned(),
            number(row.footprint_g),
        ]);
        if settlement {
            record.push(
                row.settlement_period
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
            );
            record.push(
                row.local_from
                    .map(|at| at.format("%Y-%m-%dT%H:%M:%S%:z").to_string())
                    .unwrap_or_default(),
            );
        }
        for fuel in &fuels {
            let share = row.generation_mix.as_ref().and_then(|m| m.get(*fuel));
            record.push(number(share.copied()));
        }
        writer.write_record(&record)?;
    }
    writer
        .into_inner()
        .map_err(|e| RenderError::CsvFlush(e.into_error()))
}

/// A number as serde writes it to CSV (shortest round-trip form, `1.0`
/// for one); empty when unknown, never zero.
fn number(value: Option<f64>) -> String {
    value.map_or_else(String::new, |v| ryu::Buffer::new().format(v).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::half_hour::HalfHourId;
    use crate::intensity::{GenerationMix, IntensityKind};

    fn row(mix: Option<GenerationMix>) -> FootprintRow {
        let day = Day::parse("2023-01-01").unwrap();
        let id = HalfHourId::FIRST;
        FootprintRow {
            half_hour_id: id,
            from: id.start(day),
            to: id.end(day),
            samples: 2,
            coverage: 1.0,
            carried_forward: false,
            mean_power_kw: Some(10.0),
            energy_kwh: Some(5.0),
            import_kwh: Some(5.0),
            export_kwh: Some(0.0),
            intensity_g_per_kwh: 300.0,
            intensity_kind: IntensityKind::Forecast,
            footprint_g: Some(1500.0),
            settlement_period: None,
            local_from: None,
            generation_mix: mix,
        }
    }

    #[test]
    fn a_generation_mix_is_one_column_per_fuel() {
        let mix: GenerationMix = [("wind".to_owned(), 61.5), ("gas".to_owned(), 12.0)].into();
        let rows = [row(Some(mix)), row(None)];

        let csv = footprint_csv(rows.iter().map(|r| (None, r)), false).unwrap();

        let text = String::from_utf8(csv).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].ends_with(",footprint_g,mix_gas_pct,mix_wind_pct"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].ends_with(",forecast,1500.0,12.0,61.5"),
            "{}",
            lines[1]
        );
        assert!(lines[2].ends_with(",forecast,1500.0,,"), "{}", lines[2]);
    }

    #[test]
    fn rows_without_a_mix_are_written_as_serde_writes_them() {
        let rows = [row(None)];
        let ours = footprint_csv(rows.iter().map(|r| (None, r)), false).unwrap();
        let mut serde_writer = csv::Writer::from_writer(Vec::new());
        serde_writer.serialize(&rows[0]).unwrap();
        assert_eq!(ours, serde_writer.into_inner().unwrap());
    }
}
