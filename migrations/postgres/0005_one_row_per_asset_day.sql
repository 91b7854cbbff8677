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
DROP TABLE footprint_half_hours, power_half_hours, power_readings, power_gaps, asset_days;
DELETE FROM day_files;

-- Per half-hour, 48 values, half-hour 1 first. Counts are JSON arrays of
-- integers; doubles are 384 bytes, 8 a value, big-endian, so that they come
-- back bit for bit (the encoding SQLite uses too).
CREATE TABLE asset_days (
    asset_id                text COLLATE "C" NOT NULL,
    date                    date             NOT NULL,
    power_file_size         bigint           NOT NULL,
    power_file_mtime_ns     bigint           NOT NULL,
    power_file_inode        bigint           NOT NULL,
    power_file_ctime_ns     bigint           NOT NULL,
    previous_file_size      bigint,                    -- NULL: no previous day's file used
    previous_file_mtime_ns  bigint,
    previous_file_inode     bigint,
    previous_file_ctime_ns  bigint,
    intensity_area          text             NOT NULL, -- whose intensity the results use
    intensity_fetched_at    timestamptz      NOT NULL, -- the intensity_half_hours version they use
    readings                bigint           NOT NULL,
    skipped_rows            jsonb,                     -- {"count", "first": [...]}; NULL: none skipped
    computed_at             timestamptz      NOT NULL,
    -- The day's totals under the asset's own intensity; NULL: nothing known.
    energy_kwh              float8,
    import_kwh              float8,
    export_kwh              float8,
    footprint_g             float8,
    coverage                float8           NOT NULL,
    -- What was measured in each half-hour.
    samples                 text             NOT NULL, -- JSON: readings inside it
    known_ns                text,                      -- JSON: ns the power was known; NULL: all 1.8e12
    import_kw_ns            bytea            NOT NULL, -- integral of the positive part, kW x ns
    export_kw_ns            bytea,                     -- of the negative part, positive; NULL: all 0
    -- The results under the asset's own intensity.
    half_hour_footprint_g   bytea            NOT NULL, -- gCO2eq; NaN where nothing is known
    intensity_kinds         text             NOT NULL, -- a(ctual) or f(orecast), a letter a half-hour; one: all 48
    -- {"held": [ns, kW] | null, "readings": [[ns, kW]...], "gaps": [ns...]}:
    -- the value held at midnight and the rows past it, for the next day.
    carry                   text             NOT NULL,
    PRIMARY KEY (date, asset_id),
    CHECK (octet_length(import_kw_ns) = 384 AND octet_length(half_hour_footprint_g) = 384
           AND octet_length(export_kw_ns) = 384 AND length(intensity_kinds) IN (1, 48))
) PARTITION BY RANGE (date);
-- A period of one asset reads its asset-days by asset, then date.
CREATE INDEX asset_days_by_asset ON asset_days (asset_id, date);

-- Only asset_days is partitioned now.
CREATE OR REPLACE FUNCTION footprint_ensure_month(d date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    first date := date_trunc('month', d)::date;
    next date := (date_trunc('month', d) + interval '1 month')::date;
    name text := 'asset_days_' || to_char(first, 'YYYY_MM');
BEGIN
    IF to_regclass(format('%I', name)) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('footprint_ensure_month'));
    -- Not to_regclass again: the lookup above may be cached as absent for
    -- the rest of this statement, though another replica made the table
    -- while this one waited for the lock.
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF asset_days
                    FOR VALUES FROM (%L) TO (%L)', name, first, next);
END
$$;

-- Double `i` (1-48) of 384 stored bytes, bit for bit: its sign, exponent
-- and mantissa taken from its 64 bits and put back together as
-- mantissa x 2^exponent, which is exact. NaN (nothing known) is NULL.
CREATE FUNCTION footprint_double(b bytea, i int) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE
            WHEN e = 2047 THEN NULL
            WHEN e = 0 THEN m * power(2::float8, -1074)
            ELSE (m + 4503599627370496) * power(2::float8, e - 1075)
        END * CASE WHEN bits < 0 THEN -1 ELSE 1 END
    FROM (SELECT bits, ((bits >> 52) & 2047)::int AS e, bits & 4503599627370495 AS m
          FROM (SELECT ('x' || encode(substring(b FROM 8 * i - 7 FOR 8), 'hex'))::bit(64)::int8
                    AS bits) AS raw) AS parts
$$;

-- The per-half-hour tables as views, for people and tools (psql, a
-- dashboard's SQL data source): every figure derived as the service
-- derives it, so they show the API's figures.
CREATE VIEW power_half_hours AS
SELECT asset_id, date, half_hour_id, samples,
    known_ns / 1800000000000::float8 AS coverage,
    samples = 0 AND known_ns > 0 AS carried_forward,
    CASE WHEN known_ns > 0 THEN (import_kw_ns - export_kw_ns) / known_ns END AS mean_power_kw,
    CASE WHEN known_ns > 0 THEN (import_kw_ns - export_kw_ns) / 3600000000000::float8 END
        AS energy_kwh,
    CASE WHEN known_ns > 0 THEN import_kw_ns / 3600000000000::float8 END AS import_kwh,
    CASE WHEN known_ns > 0 THEN export_kw_ns / 3600000000000::float8 END AS export_kwh
FROM (
    SELECT d.asset_id, d.date, h.id::smallint AS half_hour_id,
        (d.samples::jsonb ->> (h.id - 1))::int AS samples,
        COALESCE((d.known_ns::jsonb ->> (h.id - 1))::int8, 1800000000000) AS known_ns,
        footprint_double(d.import_kw_ns, h.id) AS import_kw_ns,
        COALESCE(footprint_double(d.export_kw_ns, h.id), 0) AS export_kw_ns
    FROM asset_days d CROSS JOIN generate_series(1, 48) AS h(id)
) m;

-- The stored results (the asset's own intensity, preference 'auto') with
-- the intensity figure of the kind each used.
CREATE VIEW footprint_half_hours AS
SELECT d.asset_id, d.date, 'auto'::text AS preference, d.half_hour_id,
    CASE d.kind WHEN 'a' THEN i.actual ELSE i.forecast END AS intensity_g_per_kwh,
    CASE d.kind WHEN 'a' THEN 'actual' ELSE 'forecast' END AS intensity_kind,
    d.footprint_g, p.energy_kwh, p.import_kwh, p.export_kwh, p.coverage
FROM (
    SELECT a.asset_id, a.date, a.intensity_area, h.id::smallint AS half_hour_id,
        substr(a.intensity_kinds, CASE WHEN length(a.intensity_kinds) = 1 THEN 1 ELSE h.id END, 1)
            AS kind,
        footprint_double(a.half_hour_footprint_g, h.id) AS footprint_g
    FROM asset_days a CROSS JOIN generate_series(1, 48) AS h(id)
) d
JOIN power_half_hours p
    ON p.asset_id = d.asset_id AND p.date = d.date AND p.half_hour_id = d.half_hour_id
LEFT JOIN intensity_half_hours i
    ON i.area = d.intensity_area AND i.date = d.date AND i.half_hour_id = d.half_hour_id;
