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

-- Arrays hold 48 values, half-hour 1 first.
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
    skipped_rows            jsonb            NOT NULL, -- {"count", "first": [{"line", "reason"}]}
    computed_at             timestamptz      NOT NULL,
    -- The day's totals under the asset's own intensity; NULL: nothing known.
    energy_kwh              float8,
    import_kwh              float8,
    export_kwh              float8,
    footprint_g             float8,
    coverage                float8           NOT NULL,
    -- What was measured in each half-hour.
    samples                 int4[]           NOT NULL, -- readings inside it
    known_ns                int8[],                    -- ns the power was known; NULL: all 1.8e12
    import_kw_ns            float8[]         NOT NULL, -- integral of the positive part, kW x ns
    export_kw_ns            float8[],                  -- of the negative part, positive; NULL: all 0
    -- The results under the asset's own intensity.
    half_hour_footprint_g   float8[]         NOT NULL, -- gCO2eq; NULL where nothing is known
    intensity_kinds         text             NOT NULL, -- a letter a half-hour: a(ctual) or f(orecast)
    -- {"held": [ns, kW] | null, "readings": [[ns, kW]...], "gaps": [ns...]}:
    -- the value held at midnight and the rows past it, for the next day.
    carry                   text             NOT NULL,
    PRIMARY KEY (date, asset_id),
    CHECK (cardinality(samples) = 48 AND cardinality(import_kw_ns) = 48
           AND cardinality(half_hour_footprint_g) = 48 AND length(intensity_kinds) = 48)
) PARTITION BY RANGE (date);
CREATE INDEX asset_days_by_asset ON asset_days (asset_id, date)
    INCLUDE (energy_kwh, footprint_g, coverage, import_kwh, export_kwh);

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
    SELECT d.asset_id, d.date, h.id::smallint AS half_hour_id, d.samples[h.id] AS samples,
        COALESCE(d.known_ns[h.id], 1800000000000) AS known_ns,
        d.import_kw_ns[h.id] AS import_kw_ns,
        COALESCE(d.export_kw_ns[h.id], 0) AS export_kw_ns
    FROM asset_days d CROSS JOIN generate_series(1, 48) AS h(id)
) m;

-- The stored results (the asset's own intensity, preference 'auto') with
-- the intensity figure of the kind each used.
CREATE VIEW footprint_half_hours AS
SELECT d.asset_id, d.date, 'auto'::text AS preference, h.id::smallint AS half_hour_id,
    CASE substr(d.intensity_kinds, h.id, 1) WHEN 'a' THEN i.actual ELSE i.forecast END
        AS intensity_g_per_kwh,
    CASE substr(d.intensity_kinds, h.id, 1) WHEN 'a' THEN 'actual' ELSE 'forecast' END
        AS intensity_kind,
    d.half_hour_footprint_g[h.id] AS footprint_g,
    p.energy_kwh, p.import_kwh, p.export_kwh, p.coverage
FROM asset_days d CROSS JOIN generate_series(1, 48) AS h(id)
JOIN power_half_hours p
    ON p.asset_id = d.asset_id AND p.date = d.date AND p.half_hour_id = h.id
LEFT JOIN intensity_half_hours i
    ON i.area = d.intensity_area AND i.date = d.date AND i.half_hour_id = h.id;
