//! The page for people, the asset list, and the OpenAPI description.

use std::collections::BTreeSet;

use carbon_footprint::http::{OPENAPI_JSON, route_paths};

use crate::helpers::spawn_app;

#[tokio::test]
async fn assets_lists_the_fixture_assets_and_their_dates() {
    let app = spawn_app().await;

    let response = app.get("/assets").await;

    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), "application/json");
    assert_eq!(
        response.json(),
        serde_json::json!({
            "dates": ["2019-11-24", "2019-11-25"],
            "assets": [
                {"asset": "abc123xyz", "dates": ["2019-11-24", "2019-11-25"]},
                {"asset": "heatpump-07", "dates": ["2019-11-24", "2019-11-25"]}
            ]
        })
    );
}

#[tokio::test]
async fn assets_shows_names_and_regions_from_the_register_and_its_skipped_rows() {
    let app = spawn_app().await;
    let register = app.data_dir.path().join("assets.csv");
    std::fs::write(
        &register,
        "AssetId,Name,RegionId,Postcode\nabc123xyz,Depot battery,,RG10\nheatpump-07,Heat pump 7,13,\nghost,,99,\n",
    )
    .unwrap();

    let first = app.get("/assets").await.json();
    std::fs::write(&register, "AssetId,Name\nabc123xyz,Renamed\n").unwrap();
    let second = app.get("/assets").await.json();

    assert_eq!(
        first["assets"],
        serde_json::json!([
            {"asset": "abc123xyz", "dates": ["2019-11-24", "2019-11-25"], "name": "Depot battery", "postcode": "RG10"},
            {"asset": "heatpump-07", "dates": ["2019-11-24", "2019-11-25"], "name": "Heat pump 7", "region_id": 13}
        ])
    );
    assert_eq!(first["register_problems"][0]["line"], 4);
    assert_eq!(second["assets"][0]["name"], "Renamed");
    assert!(second["assets"][1].get("region_id").is_none());
    assert!(second.get("register_problems").is_none());
}

#[tokio::test]
async fn assets_follows_a_new_file_in_the_data_dir() {
    let app = spawn_app().await;
    app.get("/assets").await;
    std::fs::write(
        app.data_dir
            .path()
            .join("power_measurements_2019-12-01.csv"),
        "Time,Variable,AssetId,Value\n2019-12-01 00:00:00,power,newcomer,1\n",
    )
    .unwrap();

    let json = app.get("/assets").await.json();

    assert_eq!(json["dates"][2], "2019-12-01");
    assert!(
        json["assets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["asset"] == "newcomer")
    );
}

#[tokio::test]
async fn the_page_offers_a_labelled_form_with_the_catalog() {
    let app = spawn_app().await;

    let response = app.get("/").await;

    assert_eq!(response.status, 200);
    assert!(response.header("content-type").starts_with("text/html"));
    let html = String::from_utf8(response.body).unwrap();
    for control in ["asset", "date", "from", "to"] {
        assert!(
            html.contains(&format!("<label for=\"{control}\">")),
            "no label for {control}"
        );
        assert!(html.contains(&format!("<select id=\"{control}\" name=\"{control}\">")));
    }
    assert!(html.contains("<form method=\"get\" action=\"/\">"));
    assert!(html.contains("<option value=\"14\">06:30 (14)</option>"));
    assert!(html.contains("<option value=\"heatpump-07\">heatpump-07</option>"));
    assert!(!html.contains("role=\"alert\""));
}

#[tokio::test]
async fn the_page_answers_the_form_with_chart_totals_rows_and_links() {
    let app = spawn_app().await;

    let response = app
        .get("/?asset=abc123xyz&date=2019-11-25&from=14&to=20")
        .await;

    assert_eq!(response.status, 200);
    let html = String::from_utf8(response.body).unwrap();
    assert!(html.contains("src=\"/footprint/abc123xyz/2019-11-25/14-20\""));
    assert!(html.contains("alt=\"Column chart of the carbon footprint of abc123xyz on 2019-11-25, 06:30-10:00 UTC (half-hours 14-20): net 0 g CO2eq from 0.0 kWh net energy.\""));
    let tbody = html
        .split("<tbody>")
        .nth(1)
        .unwrap()
        .split("</tbody>")
        .next()
        .unwrap();
    assert_eq!(tbody.matches("<tr").count(), 7);
    assert!(tbody.contains("06:30-07:00 (14)"));
    for format in ["png", "svg", "csv", "json"] {
        assert!(html.contains(&format!(
            "href=\"/footprint/abc123xyz/2019-11-25/14-20?format={format}\""
        )));
    }
    assert!(html.contains("<option value=\"14\" selected>06:30 (14)</option>"));
}

#[tokio::test]
async fn the_page_shows_one_asset_over_a_period_and_the_fleet_on_a_day() {
    let app = spawn_app().await;

    let period = app
        .get("/?view=period&asset=abc123xyz&first_day=2019-11-24&last_day=2019-11-25")
        .await;
    let fleet = app.get("/?view=fleet&date=2019-11-25").await;
    let reversed = app
        .get("/?view=period&asset=abc123xyz&first_day=2019-11-25&last_day=2019-11-24")
        .await;

    let period = String::from_utf8(period.body).unwrap();
    assert!(period.contains("src=\"/footprint/abc123xyz?from=2019-11-24&amp;to=2019-11-25\""));
    let days = period.split("id=\"days\"").nth(1).unwrap();
    assert_eq!(
        days.split("</tbody>")
            .next()
            .unwrap()
            .matches("<tr")
            .count(),
        3
    );
    assert!(period.contains("2 of 2"));
    let fleet = String::from_utf8(fleet.body).unwrap();
    assert!(fleet.contains("src=\"/fleet/2019-11-25\""));
    assert!(fleet.contains("<td>heatpump-07</td>") && fleet.contains("<td>abc123xyz</td>"));
    let reversed = String::from_utf8(reversed.body).unwrap();
    assert!(reversed.contains("role=\"alert\"") && reversed.contains("is reversed"));
}

#[tokio::test]
async fn the_page_offers_uk_settlement_days() {
    let app = spawn_app().await;

    let page = app.get("/").await;
    let uk = app
        .get("/?asset=abc123xyz&date=2019-11-25&from=14&to=20&day=uk")
        .await;

    let page = String::from_utf8(page.body).unwrap();
    assert!(page.contains("<option value=\"uk\">UK settlement day"));
    let uk = String::from_utf8(uk.body).unwrap();
    assert!(uk.contains("src=\"/footprint/abc123xyz/2019-11-25/14-20?day=uk\""));
    assert!(uk.contains("periods 14-20 of 48 (GMT)"));
    let rows = uk.split("id=\"rows\"").nth(1).unwrap();
    assert_eq!(
        rows.split("</tbody>")
            .next()
            .unwrap()
            .matches("<tr")
            .count(),
        8
    );
    assert!(rows.contains("14 (06:30 +00:00)"));
}

#[tokio::test]
async fn the_page_offers_national_or_regional_intensity_and_keeps_the_choice() {
    let app = spawn_app().await;

    let national = app
        .get("/?asset=abc123xyz&date=2019-11-25&from=14&to=20&intensity=national")
        .await;
    let regional = app
        .get("/?asset=abc123xyz&date=2019-11-25&from=14&to=20&intensity=regional")
        .await;

    let national = String::from_utf8(national.body).unwrap();
    assert!(national.contains("src=\"/footprint/abc123xyz/2019-11-25/14-20?intensity=national\""));
    assert!(national.contains("<option value=\"national\" selected>National</option>"));
    assert!(national.contains("Great Britain (national)"));
    let regional = String::from_utf8(regional.body).unwrap();
    assert!(regional.contains("has no region in the asset register"));
}

#[tokio::test]
async fn the_page_shows_a_bad_choice_as_a_readable_message() {
    let app = spawn_app().await;

    let reversed = String::from_utf8(
        app.get("/?asset=abc123xyz&date=2019-11-25&from=20&to=14")
            .await
            .body,
    )
    .unwrap();
    let no_file = String::from_utf8(
        app.get("/?asset=abc123xyz&date=2019-12-25&from=1&to=2")
            .await
            .body,
    )
    .unwrap();
    let hostile = String::from_utf8(
        app.get("/?asset=%3Cscript%3Ealert(1)%3C%2Fscript%3E&date=x")
            .await
            .body,
    )
    .unwrap();

    assert!(reversed.contains("role=\"alert\""));
    // The sentence alone: no HTTP jargon for people.
    assert!(reversed.contains("range 20-14 is reversed"));
    assert!(!reversed.contains("Bad Request") && !reversed.contains("400"));
    assert!(no_file.contains("no power file for 2019-12-25"));
    assert!(
        !hostile.contains("<script>alert(1)"),
        "unescaped input in the page"
    );
}

#[tokio::test]
async fn openapi_json_is_served_and_describes_every_route() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let response = app.get("/openapi.json").await;

    // Assert
    assert_eq!(response.status, 200);
    let spec = response.json();
    assert_eq!(spec["openapi"], "3.1.0");
    let documented: BTreeSet<String> = spec["paths"].as_object().unwrap().keys().cloned().collect();
    // A trailing-slash variant is served but described with its canonical
    // path only (clients such as Postman merge the two).
    let routed: BTreeSet<String> = route_paths()
        .into_iter()
        .map(|p| match p.strip_suffix('/') {
            Some(canonical) if !canonical.is_empty() => canonical.to_owned(),
            _ => p.to_owned(),
        })
        .collect();
    assert_eq!(documented, routed, "the router and /openapi.json disagree");
    assert!(documented.iter().all(|p| p == "/" || !p.ends_with('/')));
    // Fetched without a Host, the default local address comes first;
    // fetched from a host, that host does.
    assert_eq!(spec["servers"][0]["url"], "http://127.0.0.1:8000");
    let hosted = app
        .get_with("/openapi.json", &[("host", "footprint.example.com:8443")])
        .await
        .json();
    assert_eq!(
        hosted["servers"][0]["url"],
        "http://footprint.example.com:8443"
    );
    let hostile = app
        .get_with("/openapi.json", &[("host", "evil.example/<script>")])
        .await
        .json();
    assert_eq!(hostile["servers"][0]["url"], "http://127.0.0.1:8000");
    let ids: Vec<&str> = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    assert_eq!(
        ids.len(),
        ids.iter().collect::<BTreeSet<_>>().len(),
        "duplicate operationId"
    );
}

#[tokio::test]
async fn the_json_answer_has_exactly_the_documented_fields() {
    // Arrange
    let spec: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
    let schemas = &spec["components"]["schemas"];
    let app = spawn_app().await;

    // Act
    let json = app
        .get("/footprint/abc123xyz/2019-11-25/1-2?format=json")
        .await
        .json();

    // Assert
    let keys = |v: &serde_json::Value| {
        v.as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>()
    };
    let required = |name: &str| {
        schemas[name]["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(keys(&json), required("FootprintReport"));
    assert_eq!(keys(&json["rows"][0]), required("FootprintRow"));
    assert_eq!(keys(&json["totals"]), required("Totals"));
    assert_eq!(keys(&json["skipped_rows"]), required("SkippedRows"));
}

#[test]
fn openapi_json_is_valid_openapi_3_1() {
    // openapi-spec-validator (PyPI), which CI installs; skipped elsewhere
    // when it is missing.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/openapi.json");
    let output = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&path)
        .output();
    let output = match output {
        Ok(o) if !String::from_utf8_lossy(&o.stderr).contains("No module named") => o,
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must provide openapi-spec-validator"
            );
            eprintln!("skipping: openapi-spec-validator is not installed");
            return;
        }
    };
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_range_pattern_admits_exactly_the_ranges_the_service_parses() {
    // Arrange: every one- and two-number candidate from 0 to 99.
    let spec: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
    let pattern = spec["components"]["parameters"]["range"]["schema"]["pattern"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut candidates: Vec<String> = (0..100).map(|n| n.to_string()).collect();
    candidates.extend((0..100).flat_map(|a| (0..100).map(move |b| format!("{a}-{b}"))));

    // Act: Python's regular expressions stand in for a client's.
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            "import re,sys; p=re.compile(sys.argv[1]); print(''.join('1' if p.fullmatch(c) else '0' for c in sys.stdin.read().split()))",
            &pattern,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(candidates.join(" ").as_bytes())?;
            child.wait_with_output()
        })
        .expect("python3 runs");
    let matched = String::from_utf8(output.stdout).unwrap();

    // Assert: the pattern cannot say "first <= last" or how long a UK
    // day is; the description does. It admits what either kind of day
    // parses, up to the 50 periods of the longest settlement day.
    let longest = carbon_footprint::settlement::SettlementDay::new(
        carbon_footprint::half_hour::Day::parse("2019-10-27").unwrap(),
    );
    for (candidate, flag) in candidates.iter().zip(matched.trim().chars()) {
        use carbon_footprint::half_hour::RangeError;
        use carbon_footprint::settlement::SettlementError;
        let utc = carbon_footprint::half_hour::HalfHourRange::parse(candidate);
        let uk = longest.parse_range(Some(candidate));
        let well_formed = utc.is_ok()
            || matches!(utc, Err(RangeError::Reversed { .. }))
            || uk.is_ok()
            || matches!(uk, Err(SettlementError::Range(RangeError::Reversed { .. })));
        assert_eq!(flag == '1', well_formed, "{candidate}");
    }
}

#[tokio::test]
async fn every_data_route_declares_what_it_answers_as_fully_as_the_day_route() {
    // Arrange
    let app = spawn_app().await;
    let spec = app.get("/openapi.json").await.json();
    let day_route = &spec["paths"]["/footprint/{asset}/{date}/{range}"]["get"]["responses"];
    let resolve = |value: &serde_json::Value| -> serde_json::Value {
        match value["$ref"].as_str() {
            Some(reference) => {
                let mut found = &spec;
                for part in reference.trim_start_matches("#/").split('/') {
                    found = &found[part];
                }
                found.clone()
            }
            None => value.clone(),
        }
    };

    // Assert
    // A bearer token where access is on; the open routes say they need none.
    assert_eq!(spec["security"], serde_json::json!([{"bearer": []}]));
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for path in ["/healthz", "/readyz", "/openapi.json", "/"] {
        assert_eq!(
            spec["paths"][path]["get"]["security"],
            serde_json::json!([]),
            "{path}"
        );
    }
    for path in ["/footprint/{asset}", "/fleet/{date}", "/fleet"] {
        let responses = &spec["paths"][path]["get"]["responses"];
        for code in day_route.as_object().unwrap().keys() {
            if code == "422" {
                continue; // a whole-file problem is a day status on these routes
            }
            assert!(
                responses.get(code).is_some(),
                "{path} does not declare {code}"
            );
        }
        let ok = resolve(&responses["200"]);
        for header in [
            "ETag",
            "Cache-Control",
            "Content-Disposition",
            "X-Intensity-Source",
            "X-Intensity-Region",
        ] {
            assert!(
                ok["headers"].get(header).is_some(),
                "{path} 200 lacks {header}"
            );
        }
        let json = &ok["content"]["application/json"]["schema"];
        assert!(json["$ref"].is_string(), "{path}: JSON body is {json}");
        let not_modified = resolve(&responses["304"]);
        assert!(not_modified["headers"].get("ETag").is_some(), "{path} 304");
    }
    let page: Vec<&str> = spec["paths"]["/"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in ["view", "first_day", "last_day", "intensity", "day"] {
        assert!(page.contains(&name), "the page's `{name}` is undeclared");
    }
    let date = &spec["components"]["parameters"]["date"]["schema"]["pattern"];
    assert!(
        date.as_str().is_some_and(|p| p.contains("19|20|21")),
        "{date}"
    );
}

#[tokio::test]
async fn period_and_fleet_json_has_every_field_its_schema_requires() {
    // Arrange
    let app = spawn_app().await;
    let spec = app.get("/openapi.json").await.json();
    let answers = [
        (
            "/footprint/abc123xyz?from=2019-11-24&to=2019-11-25&format=json",
            "AssetPeriod",
        ),
        (
            "/footprint/abc123xyz?from=2019-11-24&to=2019-11-25&step=half-hour&format=json",
            "AssetPeriod",
        ),
        ("/fleet/2019-11-25?format=json", "FleetAnswer"),
        (
            "/fleet?from=2019-11-24&to=2019-11-25&step=day&by=asset&format=json",
            "FleetAnswer",
        ),
    ];

    for (uri, schema) in answers {
        // Act
        let body = app.get(uri).await.json();

        // Assert
        let missing = missing_required(&spec, &spec["components"]["schemas"][schema], &body, "");
        assert!(missing.is_empty(), "{uri}: {missing:?}");
    }
}

/// Paths of fields `schema` requires that `value` lacks, following
/// `$ref`s, arrays and `allOf`.
fn missing_required(
    spec: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    at: &str,
) -> Vec<String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let mut found = spec;
        for part in reference.trim_start_matches("#/").split('/') {
            found = &found[part];
        }
        return missing_required(spec, found, value, at);
    }
    let mut missing = Vec::new();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        missing.extend(missing_required(spec, part, value, at));
    }
    if let Some(items) = value.as_array() {
        for (i, item) in items.iter().enumerate().take(5) {
            missing.extend(missing_required(
                spec,
                &schema["items"],
                item,
                &format!("{at}[{i}]"),
            ));
        }
        return missing;
    }
    for name in schema["required"].as_array().into_iter().flatten() {
        let name = name.as_str().unwrap_or_default();
        if value.get(name).is_none() {
            missing.push(format!("{at}.{name}"));
        }
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            if let Some(inner) = value.get(name) {
                missing.extend(missing_required(
                    spec,
                    property,
                    inner,
                    &format!("{at}.{name}"),
                ));
            }
        }
    }
    missing
}

#[tokio::test]
async fn the_settlement_choosers_list_the_days_own_periods_at_their_local_times() {
    // Arrange: the spring clock change, a 46-period day.
    let app = spawn_app().await;
    app.write_power_file("2019-03-31", &["2019-03-31 00:00:00,power,flat,100"]);
    app.write_flat_intensity("2019-03-31", 200);

    // Act
    let page = app
        .get("/?asset=flat&date=2019-03-31&from=1&to=50&day=uk")
        .await;

    // Assert
    let page = String::from_utf8(page.body).unwrap();
    let chooser = |id: &str| {
        page.split(&format!("select id=\"{id}\""))
            .nth(1)
            .unwrap()
            .split("</select>")
            .next()
            .unwrap()
            .to_owned()
    };
    let (first, last) = (chooser("from"), chooser("to"));
    assert_eq!(first.matches("<option").count(), 46);
    assert_eq!(last.matches("<option").count(), 46);
    assert!(first.contains(">03:00 BST (period 5)<"), "{first}");
    assert!(first.contains(">02:00 BST (period 3)<") && !first.contains("GMT (period 3)"));
    // An end past the day's periods becomes its last.
    assert!(last.contains("value=\"46\" selected"), "{last}");
    assert!(page.contains("First settlement period"));
    assert!(page.contains("Date (UK, Europe/London)"));
}
