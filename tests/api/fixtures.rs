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
    assert_eq!(written.len(), 4);
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
