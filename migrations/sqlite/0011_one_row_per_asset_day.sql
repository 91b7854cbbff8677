-- One row per asset-day. The half-hour tables kept every half-hour of every
-- asset-day as its own row, and the footprint once more per way of choosing
-- the intensity figure. An asset-day is now one row: its record, what was
-- measured in each half-hour (the integrals every figure is derived from),
-- the footprint results under the asset's own intensity, and what carries
-- into the next day. Any other choice of intensity is computed when asked.
--
-- The asset-day tables are a cache of what the day files say: they are
-- dropped here, not converted, and every asset-day is computed again from
-- its file when next asked for. Intensity is not derivable from any file
-- (the API's figures of a past day may no longer be fetchable) and is kept.
DROP TABLE footprint_half_hours;
DROP TABLE power_half_hours;
DROP TABLE power_readings;
DROP TABLE power_gaps;
DROP TABLE asset_days;
DELETE FROM day_files;

-- Arrays are JSON arrays of 48 values, half-hour 1 first, numbers written
-- so that they read back bit for bit.
CREATE TABLE asset_days (
    asset_id                TEXT    NOT NULL,
    date                    TEXT    NOT NULL,
    power_file_size         INTEGER NOT NULL,
    power_file_mtime_ns     INTEGER NOT NULL,
    power_file_inode        INTEGER NOT NULL,
    power_file_ctime_ns     INTEGER NOT NULL,
    previous_file_size      INTEGER,            -- NULL: no previous day's file used
    previous_file_mtime_ns  INTEGER,
    previous_file_inode     INTEGER,
    previous_file_ctime_ns  INTEGER,
    intensity_area          TEXT    NOT NULL,   -- whose intensity the results use
    intensity_fetched_at    TEXT    NOT NULL,   -- the intensity_half_hours version they use
    readings                INTEGER NOT NULL,   -- rows kept for the asset
    skipped_rows            TEXT    NOT NULL,   -- JSON {"count", "first": [{"line", "reason"}]}
    computed_at             TEXT    NOT NULL,
    -- The day's totals under the asset's own intensity; NULL: nothing known.
    energy_kwh              REAL,
    import_kwh              REAL,
    export_kwh              REAL,
    footprint_g             REAL,
    coverage                REAL    NOT NULL,
    -- What was measured in each half-hour.
    samples                 TEXT    NOT NULL,   -- readings inside it
    known_ns                TEXT,               -- ns the power was known; NULL: all 1.8e12
    import_kw_ns            TEXT    NOT NULL,   -- integral of the positive part, kW x ns
    export_kw_ns            TEXT,               -- of the negative part, positive; NULL: all 0
    -- The results under the asset's own intensity.
    half_hour_footprint_g   TEXT    NOT NULL,   -- gCO2eq; null where nothing is known
    intensity_kinds         TEXT    NOT NULL,   -- a letter a half-hour: a(ctual) or f(orecast)
    -- JSON {"held": [ns, kW] | null, "readings": [[ns, kW]...], "gaps": [ns...]}:
    -- the value held at midnight and the rows past it, for the next day.
    carry                   TEXT    NOT NULL,
    PRIMARY KEY (asset_id, date)
);
CREATE INDEX asset_days_by_date ON asset_days (date, asset_id);

-- The per-half-hour tables as views, for people and tools (sqlite3, a
-- dashboard's SQL data source): every figure derived as the service
-- derives it, so they show the API's figures.
CREATE VIEW power_half_hours AS
WITH RECURSIVE h(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM h WHERE id < 48),
m AS (
    SELECT d.asset_id, d.date, h.id AS half_hour_id,
        d.samples ->> (h.id - 1) AS samples,
        COALESCE(d.known_ns ->> (h.id - 1), 1800000000000) AS known_ns,
        d.import_kw_ns ->> (h.id - 1) AS import_kw_ns,
        COALESCE(d.export_kw_ns ->> (h.id - 1), 0.0) AS export_kw_ns
    FROM asset_days d CROSS JOIN h
)
SELECT asset_id, date, half_hour_id, samples,
    known_ns / 1800000000000.0 AS coverage,
    samples = 0 AND known_ns > 0 AS carried_forward,
    CASE WHEN known_ns > 0 THEN (import_kw_ns - export_kw_ns) / known_ns END AS mean_power_kw,
    CASE WHEN known_ns > 0 THEN (import_kw_ns - export_kw_ns) / 3600000000000.0 END AS energy_kwh,
    CASE WHEN known_ns > 0 THEN import_kw_ns / 3600000000000.0 END AS import_kwh,
    CASE WHEN known_ns > 0 THEN export_kw_ns / 3600000000000.0 END AS export_kwh
FROM m;

-- The stored results (the asset's own intensity, preference 'auto') with
-- the intensity figure of the kind each used.
CREATE VIEW footprint_half_hours AS
WITH RECURSIVE h(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM h WHERE id < 48)
SELECT d.asset_id, d.date, 'auto' AS preference, h.id AS half_hour_id,
    CASE substr(d.intensity_kinds, h.id, 1) WHEN 'a' THEN i.actual ELSE i.forecast END
        AS intensity_g_per_kwh,
    CASE substr(d.intensity_kinds, h.id, 1) WHEN 'a' THEN 'actual' ELSE 'forecast' END
        AS intensity_kind,
    d.half_hour_footprint_g ->> (h.id - 1) AS footprint_g,
    p.energy_kwh, p.import_kwh, p.export_kwh, p.coverage
FROM asset_days d CROSS JOIN h
JOIN power_half_hours p
    ON p.asset_id = d.asset_id AND p.date = d.date AND p.half_hour_id = h.id
LEFT JOIN intensity_half_hours i
    ON i.area = d.intensity_area AND i.date = d.date AND i.half_hour_id = h.id;
