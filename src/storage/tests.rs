//! The storage interface's behaviour, checked on every engine the tests
//! can reach: SQLite always, PostgreSQL when a server is given (always in
//! CI).

use super::test_support::every_engine;
use super::*;
use crate::footprint::footprint_rows;
use crate::intensity::{HalfHourIntensity, IntensityKind};
use crate::power::resample_day;

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
            footprint_g: None,
            coverage: 0.75,
        },
        intensity_area: Area::Regional(crate::register::Region::Id(13)),
    }
}

fn save_day(storage: &Storage, fetched_at: DateTime<Utc>) {
    let readings = [
        PowerReading {
            at: day().start(),
            power_kw: 10.0,
        },
        PowerReading {
            at: day().start() + chrono::Duration::hours(12),
            power_kw: -4.0,
        },
    ];
    let energies = resample_day(day(), &readings, None);
    let footprints: Vec<(KindPreference, Vec<FootprintRow>)> = [
        KindPreference::Auto,
        KindPreference::Only(IntensityKind::Actual),
    ]
    .into_iter()
    .map(|p| (p, footprint_rows(&energies, &intensity(), p)))
    .collect();
    storage
        .save_asset_day(&ComputedDay {
            asset: &asset(),
            day: day(),
            record: &record(fetched_at),
            readings: &readings,
            gaps: &[],
            energies: &energies,
            footprints: &footprints,
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
        let rows = storage
            .footprint_range(
                &asset(),
                day(),
                KindPreference::Auto,
                HalfHourRange::parse("14-20").unwrap(),
            )
            .unwrap();
        let stored = storage.asset_day(&asset(), day()).unwrap().unwrap();

        // Assert
        assert_eq!(rows.len(), 7, "{}", store.engine);
        assert_eq!(rows[0].half_hour_id.get(), 14);
        assert_eq!(rows[0].energy_kwh, Some(5.0));
        assert_eq!(rows[0].intensity_g_per_kwh, 113.0);
        assert_eq!(rows[0].footprint_g, Some(565.0));
        assert_eq!(stored, record(fetched_at), "{}", store.engine);
        assert_eq!(
            storage.energies(&asset(), day()).unwrap().unwrap()[24].energy_kwh,
            -2.0
        );
        storage.integrity_check().unwrap();
    }
}

#[test]
fn a_forced_kind_has_rows_only_where_that_figure_exists() {
    for store in every_engine() {
        let storage = &store.storage;
        save_day(storage, now());
        let actual = KindPreference::Only(IntensityKind::Actual);
        assert_eq!(
            storage
                .footprint_row_count(&asset(), day(), actual)
                .unwrap(),
            40,
            "{}",
            store.engine
        );
        let rows = storage
            .footprint_range(
                &asset(),
                day(),
                actual,
                HalfHourRange::parse("38-45").unwrap(),
            )
            .unwrap();
        assert_eq!(rows.len(), 3, "{}", store.engine);
    }
}

#[test]
fn saving_a_day_again_replaces_it_whole() {
    for store in every_engine() {
        let storage = &store.storage;
        save_day(storage, now());
        save_day(storage, now());
        assert_eq!(
            storage
                .footprint_row_count(&asset(), day(), KindPreference::Auto)
                .unwrap(),
            48,
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
        assert_eq!(
            storage
                .assets_with_other_intensity(day(), &area, now() + chrono::Duration::hours(1))
                .unwrap(),
            vec![asset()]
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
                    readings: &[],
                    gaps: &[],
                    energies: &energies,
                    footprints: &[],
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
                                readings: &[],
                                gaps: &[],
                                energies: &energies,
                                footprints: &[],
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
