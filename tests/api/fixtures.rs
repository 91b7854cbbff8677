//! The bundled fixtures are exactly what the generator writes: they were
//! made by the project's own COV encoder, not copied from anywhere.

use crate::helpers::fixtures_dir;

#[test]
fn the_bundled_fixtures_are_what_the_generator_writes() {
    // Arrange
    let out = tempfile::tempdir().unwrap();

    // Act
    let written = carbon_footprint::fixtures::write_fixtures(out.path()).unwrap();

    // Assert
    // Two days, each a power file, a national and 17 regional intensity files.
    assert_eq!(written.len(), 2 * (2 + 17));
    for path in written {
        let name = path.file_name().unwrap();
        let bundled = std::fs::read(fixtures_dir().join(name))
            .unwrap_or_else(|e| panic!("fixtures/{} is missing: {e}", name.to_string_lossy()));
        let generated = std::fs::read(&path).unwrap();
        assert!(
            bundled == generated,
            "fixtures/{} differs from the generator's output; run `cargo run --release -- fixtures --out fixtures`",
            name.to_string_lossy()
        );
    }
}

#[test]
fn the_fixture_power_file_holds_two_assets_unsorted() {
    let text =
        std::fs::read_to_string(fixtures_dir().join("power_measurements_2019-11-25.csv")).unwrap();
    let times: Vec<&str> = text.lines().skip(1).map(|l| &l[..27]).collect();
    assert!(times.windows(2).any(|w| w[0] > w[1]), "rows are sorted");
    assert!(text.contains(",abc123xyz,") && text.contains(",heatpump-07,"));
    assert!(times.len() > 4_000, "{} rows", times.len());
}

/// The `actual` of every entry of an intensity file, in order.
fn actuals(path: &std::path::Path) -> Vec<serde_json::Value> {
    let body: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["intensity"]["actual"].clone())
        .collect()
}

#[test]
fn the_fixture_days_have_different_intensity_and_the_25th_is_the_apis_record() {
    let day_24 = actuals(&fixtures_dir().join("carbon_intensity_2019-11-24.json"));
    let day_25 = actuals(&fixtures_dir().join("carbon_intensity_2019-11-25.json"));

    assert_ne!(day_24[1..], day_25[..48]);
    if let Some(shared) = crate::helpers::shared_data_dir() {
        assert_eq!(
            day_25,
            actuals(&shared.join("carbon_intensity_2019-11-25.json"))
        );
    }
}
