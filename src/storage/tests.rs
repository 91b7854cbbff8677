//! The storage interface's behaviour, checked on every engine the tests
//! can reach: SQLite always, PostgreSQL when a server is given (always in
//! CI).

use super::test_support::every_engine;
use super::*;
use crate::footprint::{FootprintRow, footprint_rows};
use crate::intensity::{HalfHourIntensity, IntensityKind, KindPreference};
use crate::power::{PowerReading, resample_day};

fn day() -> Day {
    Day::parse("2019-11-25").unwrap()
}

fn asset() -> AssetId {
    AssetId::parse("abc123xyz").unwrap()
}

fn intensity() -> IntensityDay {
    let half_hours = std::array::from_fn(|i| HalfHourIntensity {
        forecast: Some(200.0 + i as f64),
        actual: (i < 40).then_some(100.0 + i as f64),
    });
    IntensityDay::from_half_hours(day(), half_hours).unwrap()
}

fn record(fetched_at: DateTime<Utc>) -> AssetDayRecord {
    AssetDayRecord {
        stamp: SourceStamp {
            day: FileStamp {
                size: 10,
                mtime_ns: 1_574_640_000_123_456_789,
                inode: 42,
                ctime_ns: 1_574_640_000_987_654_321,
            },
            previous: Some(FileStamp::UNREADABLE),
        },
        intensity_fetched_at: fetched_at,
        readings: 2,
        skipped: SkippedRows {
            count: 1,
            first: vec![crate::power::SkippedRow {
                line: 3,
                reason: "bad time `x`".into(),
            }],
        },
        computed_at: fetched_at,
        totals: Totals {
            energy_kwh: Some(1.5),
            import_kwh: Some(2.5),
            export_kwh: Some(1.0),
            footprint_g: None,
            coverage: 0.75,
        },
        intensity_area: Area::Regional(crate::register::Region::Id(13)),
        gross: crate::footprint::GrossFootprint {
            import_g: Some(700.5),
            export_g: Some(-0.0),
        },
    }
}

/// A battery's day: charging, then exporting from noon, with a half-hour
/// (37, 18:00-18:30) that both imports and exports.
fn readings() -> Vec<PowerReading> {
    let at = |h: i64, m: i64| day().start() + chrono::Duration::minutes(h * 60 + m);
    vec![
        PowerReading {
            at: at(0, 0),
            power_kw: 10.0,
        },
        PowerReading {
            at: at(12, 0),
            power_kw: -4.0,
        },
        PowerReading {
            at: at(18, 10),
            power_kw: 6.0,
        },
        PowerReading {
            at: at(18, 20),
            power_kw: -2.0,
        },
        PowerReading {
            at: at(23, 0),
            power_kw: 0.1,
        },
    ]
}

fn computed_day(
    day: Day,
    readings: &[PowerReading],
    intensity: &IntensityDay,
) -> ([HalfHourEnergy; 48], CarryOver, Vec<FootprintRow>) {
    let energies = resample_day(day, readings, None);
    let carry = CarryOver::split(readings, &[], day.end());
    let results = footprint_rows(&energies, intensity, KindPreference::Auto);
    (energies, carry, results)
}

fn save_day(storage: &Storage, fetched_at: DateTime<Utc>) {
    let (energies, carry, _) = computed_day(day(), &readings(), &intensity());
    storage
        .save_asset_day(&ComputedDay {
            asset: &asset(),
            day: day(),
            record: &record(fetched_at),
            carry: &carry,
            energies: &energies,
        })
        .unwrap();
}

#[test]
fn an_asset_day_reads_back_as_written() {
    for store in every_engine() {
        // Arrange
        let storage = &store.storage;
        let fetched_at = now();

        // Act
        save_day(storage, fetched_at);
        let energies = storage.energies(&asset(), day()).unwrap().unwrap();
        let record_back = storage.asset_day(&asset(), day()).unwrap().unwrap();

        // Assert: the footprints are the stored half-hours times the figures.
        let rows = footprint_rows(&energies, &intensity(), KindPreference::Auto);
        assert_eq!(energies[13].energy_kwh, 5.0, "{}", store.engine);
        assert_eq!(rows[13].footprint_g, Some(565.0));
        assert_eq!(rows[13].intensity_kind, IntensityKind::Actual);
        assert_eq!(rows[45].intensity_kind, IntensityKind::Forecast);
        assert_eq!(record_back, record(fetched_at), "{}", store.engine);
        let h25 = storage.energies(&asset(), day()).unwrap().unwrap()[24];
        assert_eq!(
            (h25.energy_kwh, h25.export_kwh, h25.import_kwh),
            (-2.0, 2.0, 0.0)
        );
        storage.integrity_check().unwrap();
    }
}

#[test]
fn measured_half_hours_come_back_bit_for_bit_with_import_and_export_apart() {
    for store in every_engine() {
        let storage = &store.storage;
        save_day(storage, now());
        let (energies, _, _) = computed_day(day(), &readings(), &intensity());
        let back = storage.energies(&asset(), day()).unwrap().unwrap();
        assert_eq!(back, energies, "{}", store.engine);
        // 18:00-18:30: 10 min at -4, 10 at 6, 10 at -2 kW.
        let mixed = back[36];
        assert_eq!(mixed.import_kwh, 1.0, "{}", store.engine);
        assert_eq!(mixed.export_kwh, 1.0, "{}", store.engine);
        assert_eq!(mixed.energy_kwh, 0.0, "{}", store.engine);
    }
}

#[test]
fn new_records_are_written_over_the_old_and_leave_the_half_hours_alone() {
    for store in every_engine() {
        // Arrange
        let storage = &store.storage;
        save_day(storage, now());
        let before = storage.energies(&asset(), day()).unwrap().unwrap();
        let doubled = IntensityDay::from_half_hours(
            day(),
            std::array::from_fn(|i| HalfHourIntensity {
                forecast: Some(2.0 * (200.0 + i as f64)),
                actual: None,
            }),
        )
        .unwrap();
        let results = footprint_rows(&before, &doubled, KindPreference::Auto);
        let later = now() + chrono::Duration::minutes(5);
        let mut record = record(later);
        record.totals = Totals::of(&results);

        // Act
        storage
            .save_records(&[
                NewRecord {
                    asset: &asset(),
                    day: day(),
                    record: &record,
                },
                // Not stored: skipped, not made.
                NewRecord {
                    asset: &AssetId::parse("nobody").unwrap(),
                    day: day(),
                    record: &record,
                },
            ])
            .unwrap();

        // Assert
        let after = storage.energies(&asset(), day()).unwrap().unwrap();
        assert_eq!(after, before, "{}", store.engine);
        assert_eq!(storage.asset_day(&asset(), day()).unwrap(), Some(record));
        let nobody = AssetId::parse("nobody").unwrap();
        assert_eq!(storage.asset_day(&nobody, day()).unwrap(), None);
    }
}

#[test]
fn tidying_after_a_bulk_load_changes_nothing_read() {
    for store in every_engine() {
        let storage = &store.storage;
        save_day(storage, now());
        let before = storage.day_totals(None, day(), day()).unwrap();
        let done = storage.after_bulk_load().unwrap();
        assert_eq!(
            done.is_some(),
            store.engine == "postgres",
            "{}: {done:?}",
            store.engine
        );
        assert_eq!(storage.day_totals(None, day(), day()).unwrap(), before);
        assert_eq!(
            storage.energies(&asset(), day()).unwrap(),
            Some(computed_day(day(), &readings(), &intensity()).0)
        );
    }
}

#[test]
fn saving_a_day_again_replaces_it_whole() {
    for store in every_engine() {
        let storage = &store.storage;
        save_day(storage, now());
        let fetched_at = now() + chrono::Duration::minutes(1);
        save_day(storage, fetched_at);
        let all = storage.day_totals(None, day(), day()).unwrap();
        assert_eq!(all.len(), 1, "{}", store.engine);
        assert_eq!(
            storage.asset_day(&asset(), day()).unwrap(),
            Some(record(fetched_at))
        );
    }
}

#[test]
fn the_half_hour_views_show_the_figures_the_service_answers() {
    for store in every_engine() {
        // Arrange: the asset-day, and its area's intensity, stored.
        let storage = &store.storage;
        save_day(storage, now());
        storage
            .save_intensity(&StoredIntensity {
                area: Area::Regional(crate::register::Region::Id(13)),
                region: Some((13, "London".into())),
                day: intensity(),
                mix: Vec::new(),
                source: Provenance::Api,
                fetched_at: now(),
                checked_at: now(),
            })
            .unwrap();
        let (energies, _, results) = computed_day(day(), &readings(), &intensity());

        // Act
        let rows = store.select_floats(
            "SELECT CAST(half_hour_id AS float8), energy_kwh, import_kwh, export_kwh,
                intensity_g_per_kwh, footprint_g, coverage
             FROM footprint_half_hours
             WHERE asset_id = 'abc123xyz' AND date = '2019-11-25'
               AND half_hour_id BETWEEN 14 AND 40
             ORDER BY half_hour_id",
        );
        let power = store.select_floats(
            "SELECT mean_power_kw, energy_kwh FROM power_half_hours
             WHERE asset_id = 'abc123xyz' AND date = '2019-11-25' ORDER BY half_hour_id",
        );

        // Assert: the same figures, bit for bit.
        assert_eq!(rows.len(), 27, "{}", store.engine);
        for row in &rows {
            let i = row[0].unwrap() as usize - 1;
            let (e, r) = (&energies[i], &results[i]);
            let want = [
                Some(e.energy_kwh),
                Some(e.import_kwh),
                Some(e.export_kwh),
                Some(r.intensity_g_per_kwh),
                r.footprint_g,
                Some(e.coverage),
            ];
            assert_eq!(row[1..], want, "{} half-hour {}", store.engine, i + 1);
        }
        assert_eq!(power.len(), 48, "{}", store.engine);
        for (row, e) in power.iter().zip(&energies) {
            assert_eq!(
                row[..],
                [Some(e.mean_power_kw), Some(e.energy_kwh)],
                "{}",
                store.engine
            );
        }
    }
}

#[test]
fn unknown_half_hours_are_null_in_the_views_not_zero() {
    for store in every_engine() {
        let storage = &store.storage;
        let late = [PowerReading {
            at: day().start() + chrono::Duration::hours(6),
            power_kw: 3.0,
        }];
        let (energies, carry, _) = computed_day(day(), &late, &intensity());
        storage
            .save_asset_day(&ComputedDay {
                asset: &asset(),
                day: day(),
                record: &record(now()),
                carry: &carry,
                energies: &energies,
            })
            .unwrap();
        let rows = store.select_floats(
            "SELECT energy_kwh, mean_power_kw, coverage FROM power_half_hours
             WHERE asset_id = 'abc123xyz' AND half_hour_id IN (1, 13) ORDER BY half_hour_id",
        );
        assert_eq!(rows[0], [None, None, Some(0.0)], "{}", store.engine);
        assert_eq!(
            rows[1],
            [Some(1.5), Some(3.0), Some(1.0)],
            "{}",
            store.engine
        );
    }
}

#[test]
fn what_a_day_carries_into_the_next_is_its_last_reading_and_what_follows() {
    for store in every_engine() {
        let storage = &store.storage;
        save_day(storage, now());
        let carried = storage.carry_over(&asset(), day()).unwrap().unwrap();
        let by_file = storage.carry_overs(day(), record(now()).stamp.day).unwrap();
        assert_eq!(by_file.get(&asset()), Some(&carried), "{}", store.engine);
        let next = day().next().unwrap();
        assert_eq!(storage.carry_over(&asset(), next).unwrap(), None);
        // Another file version carries nothing.
        let other = FileStamp {
            size: 11,
            ..record(now()).stamp.day
        };
        assert!(storage.carry_overs(day(), other).unwrap().is_empty());
    }
}

#[test]
fn a_day_file_record_round_trips_and_drops_asset_days_of_other_versions() {
    for store in every_engine() {
        let storage = &store.storage;
        save_day(storage, now());
        let mut record = DayFileRecord {
            stamp: record(now()).stamp,
            assets: 1,
            rejected: [(AssetId::parse("bad-one").unwrap(), record(now()).skipped)].into(),
            ingested_at: now(),
            intensity_versions: Some([("region-13".to_owned(), now())].into()),
            register_stamp: Some(FileStamp::UNREADABLE),
        };
        storage.save_day_file(day(), &record).unwrap();
        assert_eq!(
            storage.day_file(day()).unwrap().as_ref(),
            Some(&record),
            "{}",
            store.engine
        );
        storage.mark_day_file_intensity(day(), None, None).unwrap();
        record.intensity_versions = None;
        record.register_stamp = None;
        assert_eq!(storage.day_file(day()).unwrap(), Some(record.clone()));
        assert_eq!(
            storage.asset_areas(day()).unwrap(),
            vec![(asset(), Area::Regional(crate::register::Region::Id(13)))]
        );
        let area = Area::Regional(crate::register::Region::Id(13));
        let stale = storage
            .with_other_intensity(day(), &area, now() + chrono::Duration::hours(1))
            .unwrap();
        assert_eq!(stale.len(), 1, "{}", store.engine);
        assert_eq!(stale[0].asset, asset());
        let (energies, _, _) = computed_day(day(), &readings(), &intensity());
        assert_eq!(stale[0].energies, energies);
        assert_eq!(stale[0].record.stamp, record.stamp);
        let fetched_at = storage
            .asset_day(&asset(), day())
            .unwrap()
            .unwrap()
            .intensity_fetched_at;
        assert!(
            storage
                .with_other_intensity(day(), &area, fetched_at)
                .unwrap()
                .is_empty()
        );

        // The file changed: the asset-day read from the old one goes.
        record.stamp.day.size += 1;
        storage.save_day_file(day(), &record).unwrap();
        assert_eq!(storage.asset_day(&asset(), day()).unwrap(), None);
        assert_eq!(storage.energies(&asset(), day()).unwrap(), None);
    }
}

#[test]
fn day_totals_are_listed_by_date_then_asset() {
    for store in every_engine() {
        let storage = &store.storage;
        save_day(storage, now());
        let other = AssetId::parse("Zeta-2").unwrap();
        let lower = AssetId::parse("alpha-1").unwrap();
        for id in [&other, &lower] {
            let energies = resample_day(day(), &[], None);
            storage
                .save_asset_day(&ComputedDay {
                    asset: id,
                    day: day(),
                    record: &record(now()),
                    carry: &CarryOver::default(),
                    energies: &energies,
                })
                .unwrap();
        }
        let all = storage.day_totals(None, day(), day()).unwrap();
        let order: Vec<&str> = all.iter().map(|t| t.asset.as_str()).collect();
        // Byte order, as SQLite compares text: upper case first.
        assert_eq!(
            order,
            ["Zeta-2", "abc123xyz", "alpha-1"],
            "{}",
            store.engine
        );
        let one = storage.day_totals(Some(&asset()), day(), day()).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].totals, record(now()).totals);
        storage.forget_asset_day(&asset(), day()).unwrap();
        assert_eq!(
            storage.day_totals(Some(&asset()), day(), day()).unwrap(),
            []
        );
    }
}

#[test]
fn month_sums_add_up_each_assets_month_and_leave_unknown_footprints_unknown() {
    for store in every_engine() {
        // Arrange: the asset on the day and the next (another month),
        // and a second asset on the first day whose footprints are not known.
        let storage = &store.storage;
        let next = Day::parse("2019-12-01").unwrap();
        let other = AssetId::parse("site-2").unwrap();
        let (energies, carry, _) = computed_day(day(), &readings(), &intensity());
        let unknown = AssetDayRecord {
            gross: crate::footprint::GrossFootprint::default(),
            ..record(now())
        };
        for (id, on, rec) in [
            (asset(), day(), record(now())),
            (asset(), next, record(now())),
            (other.clone(), day(), unknown),
        ] {
            storage
                .save_asset_day(&ComputedDay {
                    asset: &id,
                    day: on,
                    record: &rec,
                    carry: &carry,
                    energies: &energies,
                })
                .unwrap();
        }

        // Act
        let fleet = storage.month_sums(None, day(), next).unwrap();
        let one = storage.month_sums(Some(&asset()), day(), next).unwrap();

        // Assert
        let r = record(now());
        let november = Month::parse("2019-11").unwrap();
        let find = |sums: &MonthSums, id: &AssetId, month: Month| {
            sums.by_asset
                .iter()
                .find(|(a, m, _, _)| a == id && *m == month)
                .map(|(_, _, s, d)| (*s, *d))
        };
        let (mine, days) = find(&fleet, &asset(), november).unwrap();
        assert_eq!(
            mine.import_kwh,
            r.totals.import_kwh.unwrap(),
            "{}",
            store.engine
        );
        assert_eq!(mine.export_kwh, r.totals.export_kwh.unwrap());
        assert_eq!(mine.import_g, r.gross.import_g);
        assert_eq!(mine.known_half_hours, r.totals.coverage * 48.0);
        assert_eq!((mine.asset_days, days), (1, 1));
        let (theirs, _) = find(&fleet, &other, november).unwrap();
        assert_eq!(
            theirs.import_g, None,
            "{}: not known is not zero",
            store.engine
        );
        assert_eq!(fleet.by_asset.len(), 3);
        assert_eq!(one.by_asset.len(), 2);
        assert_eq!(find(&one, &asset(), november).map(|f| f.0), Some(mine));
    }
}

#[test]
fn measured_days_are_every_asset_day_of_a_day_with_its_record() {
    for store in every_engine() {
        let storage = &store.storage;
        save_day(storage, now());
        let all = storage.measured_days(day(), None).unwrap();
        let one = storage.measured_days(day(), Some(&asset())).unwrap();
        let none = storage
            .measured_days(day(), Some(&AssetId::parse("nobody").unwrap()))
            .unwrap();
        assert_eq!(all.len(), 1, "{}", store.engine);
        assert_eq!(one[0].record, record(one[0].record.computed_at));
        assert_eq!(one[0].energies[24].export_kwh, 2.0);
        assert!(none.is_empty());
    }
}

#[test]
fn intensity_round_trips_with_its_source_and_fetch_time() {
    for store in every_engine() {
        let storage = &store.storage;
        assert_eq!(storage.intensity(&Area::National, day()).unwrap(), None);
        let stored = StoredIntensity {
            area: Area::National,
            region: None,
            day: intensity(),
            mix: Vec::new(),
            source: Provenance::File,
            fetched_at: now(),
            checked_at: now() + chrono::Duration::minutes(1),
        };
        storage.save_intensity(&stored).unwrap();
        storage.save_intensity(&stored).unwrap();
        assert_eq!(
            storage.intensity(&Area::National, day()).unwrap(),
            Some(stored.clone()),
            "{}",
            store.engine
        );
        let later = now() + chrono::Duration::hours(2);
        storage
            .mark_intensity_checked(&Area::National, day(), later)
            .unwrap();
        assert_eq!(
            storage
                .intensities(&Area::National, day(), day().next().unwrap())
                .unwrap()
                .remove(&day())
                .map(|s| s.checked_at),
            Some(later)
        );
    }
}

#[test]
fn a_regions_intensity_is_kept_apart_with_its_name_and_generation_mix() {
    for store in every_engine() {
        let storage = &store.storage;
        let area = Area::Regional(crate::register::Region::Postcode("RG10".into()));
        let mix: Vec<GenerationMix> = (0..48)
            .map(|i| [("wind".to_owned(), f64::from(i)), ("gas".to_owned(), 10.0)].into())
            .collect();
        let regional = StoredIntensity {
            area: area.clone(),
            region: Some((15, "South East England".into())),
            day: intensity(),
            mix,
            source: Provenance::Api,
            fetched_at: now(),
            checked_at: now(),
        };
        storage.save_intensity(&regional).unwrap();
        assert_eq!(storage.intensity(&Area::National, day()).unwrap(), None);
        assert_eq!(
            storage.intensity(&area, day()).unwrap(),
            Some(regional.clone()),
            "{}",
            store.engine
        );
        assert_eq!(storage.region_of(&area).unwrap(), Some(15));
        assert_eq!(regional.region_label(), "15 South East England");
    }
}

#[test]
fn a_claim_waits_for_another_holder_of_the_same_key_only() {
    for store in every_engine() {
        let storage = &store.storage;
        let first = storage.claim("day 2019-11-25").unwrap();
        // Another key is free at once.
        drop(storage.claim("day 2019-11-26").unwrap());
        let (taken, waited) = std::sync::mpsc::channel();
        let other = storage.clone();
        std::thread::spawn(move || {
            let claim = other.claim("day 2019-11-25");
            let _ = taken.send(claim.is_ok());
            drop(claim);
        });
        let early = waited.recv_timeout(std::time::Duration::from_millis(300));
        drop(first);
        let late = waited.recv_timeout(std::time::Duration::from_secs(10));
        if store.engine == "postgres" {
            assert!(early.is_err(), "the second claim did not wait");
        }
        assert_eq!(late.or(early), Ok(true), "{}", store.engine);
    }
}

#[test]
fn a_postgres_server_that_cannot_be_reached_is_unreachable_and_its_password_never_shown() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://footprint:s3cret@127.0.0.1:{port}/footprint?connect_timeout=2");
    let database = Database::parse(&url);
    let err = Storage::open(&database).unwrap_err();
    assert!(matches!(err, StorageError::Unreachable(_)), "{err:?}");
    assert!(err.is_unwritable());
    assert_eq!(
        database.to_string(),
        format!("postgres://footprint:***@127.0.0.1:{port}/footprint?connect_timeout=2")
    );
    assert!(!format!("{database:?} {err}").contains("s3cret"));
}

#[test]
fn writers_of_many_new_months_at_once_all_succeed() {
    // Each writer's first day of a month makes that month's partitions (in
    // PostgreSQL) while the others' transactions are open.
    for store in every_engine() {
        let writers: Vec<_> = (0..12u32)
            .map(|month| {
                let storage = store.storage.clone();
                std::thread::spawn(move || {
                    let day = Day::from_naive(
                        chrono::NaiveDate::from_ymd_opt(2021, month + 1, 1).unwrap(),
                    )
                    .unwrap();
                    let energies = resample_day(day, &[], None);
                    for n in 0..4 {
                        let id = AssetId::parse(&format!("site-{month}-{n}")).unwrap();
                        storage
                            .save_asset_day(&ComputedDay {
                                asset: &id,
                                day,
                                record: &record(now()),
                                carry: &CarryOver::default(),
                                energies: &energies,
                            })
                            .map_err(|e| crate::message::chain(&e))?;
                        storage
                            .save_day_file(
                                day,
                                &DayFileRecord {
                                    stamp: record(now()).stamp,
                                    assets: n + 1,
                                    rejected: Default::default(),
                                    ingested_at: now(),
                                    intensity_versions: None,
                                    register_stamp: None,
                                },
                            )
                            .map_err(|e| crate::message::chain(&e))?;
                    }
                    Ok::<_, String>(())
                })
            })
            .collect();
        for writer in writers {
            assert_eq!(writer.join().unwrap(), Ok(()), "{}", store.engine);
        }
        let first = Day::parse("2021-01-01").unwrap();
        let last = Day::parse("2021-12-31").unwrap();
        assert_eq!(
            store.storage.day_totals(None, first, last).unwrap().len(),
            48,
            "{}",
            store.engine
        );
    }
}

#[test]
fn a_forecast_ahead_is_replaced_whole_and_read_back_exactly() {
    for store in every_engine() {
        // Arrange: a regional forecast of four points, then a shorter one.
        let storage = &store.storage;
        let area = Area::Regional(crate::register::Region::Postcode("RG10".to_owned()));
        let starts_at = day().start() + chrono::Duration::hours(17);
        let point = |i: i64, forecast: f64| crate::intensity::AheadPoint {
            from: starts_at + chrono::Duration::minutes(30 * i),
            forecast: Some(forecast),
            actual: (i == 0).then_some(forecast - 1.5),
            index: Some("moderate".to_owned()),
            mix: [("gas".to_owned(), 30.25), ("wind".to_owned(), 41.0)].into(),
        };
        let first = StoredAhead {
            area: area.clone(),
            ahead: Ahead {
                starts_at,
                region: Some((12, "South England".to_owned())),
                points: (0..4).map(|i| point(i, 150.0 + i as f64 / 3.0)).collect(),
            },
            source: Provenance::Api,
            fetched_at: now(),
        };
        let second = StoredAhead {
            ahead: Ahead {
                starts_at: starts_at + chrono::Duration::minutes(30),
                region: Some((12, "South England".to_owned())),
                points: (1..3).map(|i| point(i, 99.0)).collect(),
            },
            source: Provenance::File,
            fetched_at: now(),
            ..first.clone()
        };

        // Act
        let none = storage.ahead(&area).unwrap();
        storage.save_ahead(&first).unwrap();
        let read_first = storage.ahead(&area).unwrap();
        storage.save_ahead(&second).unwrap();
        storage.save_ahead(&second).unwrap();
        let read_second = storage.ahead(&area).unwrap();

        // Assert
        assert_eq!(none, None, "{}", store.engine);
        assert_eq!(read_first, Some(first), "{}", store.engine);
        assert_eq!(read_second, Some(second), "{}", store.engine);
        assert_eq!(
            storage.ahead(&Area::National).unwrap(),
            None,
            "{}",
            store.engine
        );
    }
}

#[test]
fn writers_of_one_areas_forecast_at_once_all_succeed_and_leave_one_whole() {
    for store in every_engine() {
        let storage = &store.storage;
        let area = Area::Regional(crate::register::Region::Id(12));
        let starts_at = day().start();
        let forecast = |n: usize| StoredAhead {
            area: area.clone(),
            ahead: Ahead {
                starts_at,
                region: Some((12, "South England".to_owned())),
                points: (0..96)
                    .map(|i| crate::intensity::AheadPoint {
                        from: starts_at + chrono::Duration::minutes(30 * i),
                        forecast: Some(100.0 + n as f64),
                        actual: None,
                        index: None,
                        mix: GenerationMix::new(),
                    })
                    .collect(),
            },
            source: Provenance::Api,
            fetched_at: now(),
        };
        let written: Vec<StoredAhead> = (0..8).map(forecast).collect();

        let outcomes: Vec<Result<(), StorageError>> = std::thread::scope(|s| {
            let handles: Vec<_> = written
                .iter()
                .map(|f| s.spawn(move || storage.save_ahead(f)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });

        for outcome in &outcomes {
            assert!(outcome.is_ok(), "{}: {outcome:?}", store.engine);
        }
        let read = storage.ahead(&area).unwrap().unwrap();
        assert!(
            written.contains(&read),
            "{}: one writer's forecast, whole",
            store.engine
        );
    }
}
