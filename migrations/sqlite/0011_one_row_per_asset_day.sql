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

-- Per half-hour, 48 values, half-hour 1 first. Counts are JSON arrays of
-- integers; floating values are BLOBs of 48 IEEE-754 doubles, 8 bytes
-- each, big-endian (what `hex()` shows is the double's bits in order), so
-- that they come back bit for bit in 384 bytes.
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
    skipped_rows            TEXT,               -- JSON {"count", "first": [...]}; NULL: none skipped
    computed_at             TEXT    NOT NULL,
    -- The day's totals under the asset's own intensity; NULL: nothing known.
    energy_kwh              REAL,
    import_kwh              REAL,
    export_kwh              REAL,
    footprint_g             REAL,
    coverage                REAL    NOT NULL,
    -- What was measured in each half-hour.
    samples                 TEXT    NOT NULL,   -- JSON: readings inside it
    known_ns                TEXT,               -- JSON: ns the power was known; NULL: all 1.8e12
    import_kw_ns            BLOB    NOT NULL,   -- integral of the positive part, kW x ns
    export_kw_ns            BLOB,               -- of the negative part, positive; NULL: all 0
    -- The results under the asset's own intensity.
    half_hour_footprint_g   BLOB    NOT NULL,   -- gCO2eq; NaN where nothing is known
    intensity_kinds         TEXT    NOT NULL,   -- a(ctual) or f(orecast), a letter a half-hour; one: all 48
    -- JSON {"held": [ns, kW] | null, "readings": [[ns, kW]...], "gaps": [ns...]}:
    -- the value held at midnight and the rows past it, for the next day.
    carry                   TEXT    NOT NULL,
    PRIMARY KEY (asset_id, date)
);
CREATE INDEX asset_days_by_date ON asset_days (date, asset_id);

-- 2^k for every exponent a double can have, for the views below to turn
-- the stored bits back into the same double with exact arithmetic only.
CREATE TABLE powers_of_two (k INTEGER PRIMARY KEY, v REAL NOT NULL);
INSERT INTO powers_of_two (k, v)
WITH RECURSIVE
    up(k, v) AS (SELECT 0, 1.0 UNION ALL SELECT k + 1, v * 2.0 FROM up WHERE k < 1023),
    down(k, v) AS (SELECT -1, 0.5 UNION ALL SELECT k - 1, v / 2.0 FROM down WHERE k > -1074)
SELECT k, v FROM up UNION ALL SELECT k, v FROM down;

-- The per-half-hour tables as views, for people and tools (sqlite3, a
-- dashboard's SQL data source): every figure derived as the service
-- derives it, so they show the API's figures. Each stored double is taken
-- apart from its 16 hex digits (sign, exponent, mantissa) and put back
-- together as mantissa x 2^exponent, which is exact.
CREATE VIEW power_half_hours AS
SELECT asset_id, date, half_hour_id, samples,
    known_ns / 1800000000000.0 AS coverage,
    samples = 0 AND known_ns > 0 AS carried_forward,
    CASE WHEN known_ns > 0 THEN (import_kw_ns - export_kw_ns) / known_ns END AS mean_power_kw,
    CASE WHEN known_ns > 0 THEN (import_kw_ns - export_kw_ns) / 3600000000000.0 END AS energy_kwh,
    CASE WHEN known_ns > 0 THEN import_kw_ns / 3600000000000.0 END AS import_kwh,
    CASE WHEN known_ns > 0 THEN export_kw_ns / 3600000000000.0 END AS export_kwh
FROM (
    SELECT asset_id, date, half_hour_id, samples, known_ns,
        CASE
            WHEN import_exponent = 2047 THEN NULL
            WHEN import_exponent = 0 THEN import_mantissa
                * (SELECT v FROM powers_of_two WHERE k = -1074)
            ELSE (import_mantissa + 4503599627370496)
                * (SELECT v FROM powers_of_two WHERE k = import_exponent - 1075)
        END * CASE WHEN import_negative THEN -1.0 ELSE 1.0 END AS import_kw_ns,
        COALESCE(CASE
            WHEN export_exponent = 2047 THEN NULL
            WHEN export_exponent = 0 THEN export_mantissa
                * (SELECT v FROM powers_of_two WHERE k = -1074)
            ELSE (export_mantissa + 4503599627370496)
                * (SELECT v FROM powers_of_two WHERE k = export_exponent - 1075)
        END * CASE WHEN export_negative THEN -1.0 ELSE 1.0 END, 0.0) AS export_kw_ns
    FROM (
        SELECT asset_id, date, half_hour_id, samples, known_ns,
        (instr('0123456789ABCDEF', substr(import_hex, 1, 1)) - 1) >= 8 AS import_negative,
        ((instr('0123456789ABCDEF', substr(import_hex, 1, 1)) - 1) % 8) * 256 + (instr('0123456789ABCDEF', substr(import_hex, 2, 1)) - 1) * 16 + (instr('0123456789ABCDEF', substr(import_hex, 3, 1)) - 1) AS import_exponent,
        ((((((((((((instr('0123456789ABCDEF', substr(import_hex, 4, 1)) - 1) * 16 + (instr('0123456789ABCDEF', substr(import_hex, 5, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(import_hex, 6, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(import_hex, 7, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(import_hex, 8, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(import_hex, 9, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(import_hex, 10, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(import_hex, 11, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(import_hex, 12, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(import_hex, 13, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(import_hex, 14, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(import_hex, 15, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(import_hex, 16, 1)) - 1) AS import_mantissa,
        (instr('0123456789ABCDEF', substr(export_hex, 1, 1)) - 1) >= 8 AS export_negative,
        ((instr('0123456789ABCDEF', substr(export_hex, 1, 1)) - 1) % 8) * 256 + (instr('0123456789ABCDEF', substr(export_hex, 2, 1)) - 1) * 16 + (instr('0123456789ABCDEF', substr(export_hex, 3, 1)) - 1) AS export_exponent,
        ((((((((((((instr('0123456789ABCDEF', substr(export_hex, 4, 1)) - 1) * 16 + (instr('0123456789ABCDEF', substr(export_hex, 5, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(export_hex, 6, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(export_hex, 7, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(export_hex, 8, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(export_hex, 9, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(export_hex, 10, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(export_hex, 11, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(export_hex, 12, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(export_hex, 13, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(export_hex, 14, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(export_hex, 15, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(export_hex, 16, 1)) - 1) AS export_mantissa
        FROM (
            SELECT d.asset_id, d.date, h.id AS half_hour_id,
                d.samples ->> (h.id - 1) AS samples,
                COALESCE(d.known_ns ->> (h.id - 1), 1800000000000) AS known_ns,
                hex(substr(d.import_kw_ns, 8 * h.id - 7, 8)) AS import_hex,
                hex(substr(d.export_kw_ns, 8 * h.id - 7, 8)) AS export_hex
            FROM asset_days d
            CROSS JOIN (WITH RECURSIVE h(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM h WHERE id < 48)
                        SELECT id FROM h) h
        )
    )
);

-- The stored results (the asset's own intensity, preference 'auto') with
-- the intensity figure of the kind each used.
CREATE VIEW footprint_half_hours AS
SELECT r.asset_id, r.date, 'auto' AS preference, r.half_hour_id,
    CASE r.kind WHEN 'a' THEN i.actual ELSE i.forecast END AS intensity_g_per_kwh,
    CASE r.kind WHEN 'a' THEN 'actual' ELSE 'forecast' END AS intensity_kind,
    r.footprint_g, p.energy_kwh, p.import_kwh, p.export_kwh, p.coverage
FROM (
    SELECT asset_id, date, half_hour_id, kind, area,
        CASE
            WHEN footprint_exponent = 2047 THEN NULL
            WHEN footprint_exponent = 0 THEN footprint_mantissa
                * (SELECT v FROM powers_of_two WHERE k = -1074)
            ELSE (footprint_mantissa + 4503599627370496)
                * (SELECT v FROM powers_of_two WHERE k = footprint_exponent - 1075)
        END * CASE WHEN footprint_negative THEN -1.0 ELSE 1.0 END AS footprint_g
    FROM (
        SELECT asset_id, date, half_hour_id, kind, area,
        (instr('0123456789ABCDEF', substr(footprint_hex, 1, 1)) - 1) >= 8 AS footprint_negative,
        ((instr('0123456789ABCDEF', substr(footprint_hex, 1, 1)) - 1) % 8) * 256 + (instr('0123456789ABCDEF', substr(footprint_hex, 2, 1)) - 1) * 16 + (instr('0123456789ABCDEF', substr(footprint_hex, 3, 1)) - 1) AS footprint_exponent,
        ((((((((((((instr('0123456789ABCDEF', substr(footprint_hex, 4, 1)) - 1) * 16 + (instr('0123456789ABCDEF', substr(footprint_hex, 5, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(footprint_hex, 6, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(footprint_hex, 7, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(footprint_hex, 8, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(footprint_hex, 9, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(footprint_hex, 10, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(footprint_hex, 11, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(footprint_hex, 12, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(footprint_hex, 13, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(footprint_hex, 14, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(footprint_hex, 15, 1)) - 1)) * 16 + (instr('0123456789ABCDEF', substr(footprint_hex, 16, 1)) - 1) AS footprint_mantissa
        FROM (
            SELECT d.asset_id, d.date, h.id AS half_hour_id, d.intensity_area AS area,
                substr(d.intensity_kinds,
                    CASE WHEN length(d.intensity_kinds) = 1 THEN 1 ELSE h.id END, 1) AS kind,
                hex(substr(d.half_hour_footprint_g, 8 * h.id - 7, 8)) AS footprint_hex
            FROM asset_days d
            CROSS JOIN (WITH RECURSIVE h(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM h WHERE id < 48)
                        SELECT id FROM h) h
        )
    )
) r
JOIN power_half_hours p
    ON p.asset_id = r.asset_id AND p.date = r.date AND p.half_hour_id = r.half_hour_id
LEFT JOIN intensity_half_hours i
    ON i.area = r.area AND i.date = r.date AND i.half_hour_id = r.half_hour_id;
