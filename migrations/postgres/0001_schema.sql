-- The whole schema as SQLite has it after its migration 0010, in
-- PostgreSQL's types. The tables keyed by asset and date are partitioned by
-- month: a year of a large fleet is twelve tables of each, and a month is
-- dropped or vacuumed on its own. Partitions are made by
-- footprint_ensure_month() before the first row of a month is written.

CREATE TABLE intensity_half_hours (
    area            text             NOT NULL,   -- national | region-<id> | postcode-<outward>
    date            date             NOT NULL,
    half_hour_id    smallint         NOT NULL CHECK (half_hour_id BETWEEN 1 AND 48),
    from_utc        timestamptz      NOT NULL,
    forecast        double precision,
    actual          double precision,
    source          text             NOT NULL CHECK (source IN ('api', 'file')),
    fetched_at      timestamptz      NOT NULL,
    checked_at      timestamptz      NOT NULL,
    region_id       smallint,                    -- NULL for national
    region_name     text,
    generation_mix  jsonb,                       -- NULL for national
    PRIMARY KEY (area, date, half_hour_id),
    CHECK (forecast IS NOT NULL OR actual IS NOT NULL)
);

CREATE TABLE asset_days (
    asset_id                text COLLATE "C"             NOT NULL,
    date                    date             NOT NULL,
    power_file_size         bigint           NOT NULL,
    power_file_mtime_ns     bigint           NOT NULL,
    power_file_inode        bigint           NOT NULL,
    power_file_ctime_ns     bigint           NOT NULL,
    previous_file_size      bigint,                       -- NULL: no previous day's file
    previous_file_mtime_ns  bigint,
    previous_file_inode     bigint,
    previous_file_ctime_ns  bigint,
    intensity_fetched_at    timestamptz      NOT NULL,    -- the intensity_half_hours version used
    intensity_area          text             NOT NULL,
    readings                bigint           NOT NULL,
    skipped_rows            jsonb            NOT NULL,    -- {"count", "first": [{"line", "reason"}]}
    computed_at             timestamptz      NOT NULL,
    energy_kwh              double precision,
    footprint_g             double precision,
    coverage                double precision NOT NULL,
    PRIMARY KEY (date, asset_id)
) PARTITION BY RANGE (date);

CREATE TABLE power_readings (
    asset_id    text COLLATE "C"             NOT NULL,
    date        date             NOT NULL,
    at_unix_ns  bigint           NOT NULL,
    power_kw    double precision NOT NULL,
    PRIMARY KEY (date, asset_id, at_unix_ns)
) PARTITION BY RANGE (date);

CREATE TABLE power_gaps (
    asset_id    text COLLATE "C"   NOT NULL,
    date        date   NOT NULL,
    at_unix_ns  bigint NOT NULL,
    PRIMARY KEY (date, asset_id, at_unix_ns)
) PARTITION BY RANGE (date);

CREATE TABLE power_half_hours (
    asset_id         text COLLATE "C"             NOT NULL,
    date             date             NOT NULL,
    half_hour_id     smallint         NOT NULL CHECK (half_hour_id BETWEEN 1 AND 48),
    samples          integer          NOT NULL,
    coverage         double precision NOT NULL CHECK (coverage BETWEEN 0 AND 1),
    carried_forward  boolean          NOT NULL,
    mean_power_kw    double precision NOT NULL,
    energy_kwh       double precision NOT NULL,
    PRIMARY KEY (asset_id, date, half_hour_id)
) PARTITION BY RANGE (date);

CREATE TABLE footprint_half_hours (
    asset_id             text COLLATE "C"             NOT NULL,
    date                 date             NOT NULL,
    preference           text             NOT NULL CHECK (preference IN ('auto', 'actual', 'forecast')),
    half_hour_id         smallint         NOT NULL CHECK (half_hour_id BETWEEN 1 AND 48),
    intensity_g_per_kwh  double precision NOT NULL,
    intensity_kind       text             NOT NULL CHECK (intensity_kind IN ('actual', 'forecast')),
    footprint_g          double precision NOT NULL,
    PRIMARY KEY (asset_id, date, preference, half_hour_id)
) PARTITION BY RANGE (date);

CREATE TABLE day_files (
    date                    date        NOT NULL PRIMARY KEY,
    power_file_size         bigint      NOT NULL,
    power_file_mtime_ns     bigint      NOT NULL,
    power_file_inode        bigint      NOT NULL,
    power_file_ctime_ns     bigint      NOT NULL,
    previous_file_size      bigint,
    previous_file_mtime_ns  bigint,
    previous_file_inode     bigint,
    previous_file_ctime_ns  bigint,
    assets                  bigint      NOT NULL,
    rejected                jsonb       NOT NULL,   -- {asset: {"count", "first"}}
    intensity_versions      jsonb,                  -- {area: fetched_at}; NULL: mixed
    register_stamp          jsonb,                  -- file stamp of the asset register read
    ingested_at             timestamptz NOT NULL
);

CREATE TABLE readiness_probe (
    id          integer     PRIMARY KEY CHECK (id = 1),
    written_at  timestamptz NOT NULL
);

-- Creates the month of `d` in every partitioned table, once. Replicas may
-- ask at the same moment: the transaction lock makes the second wait and
-- then find the partitions there.
CREATE FUNCTION footprint_ensure_month(d date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    first date := date_trunc('month', d)::date;
    next date := (date_trunc('month', d) + interval '1 month')::date;
    suffix text := to_char(first, 'YYYY_MM');
    parent text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('footprint_ensure_month'));
    FOREACH parent IN ARRAY ARRAY['asset_days', 'power_readings', 'power_gaps',
                                  'power_half_hours', 'footprint_half_hours'] LOOP
        IF to_regclass(format('%I', parent || '_' || suffix)) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                           parent || '_' || suffix, parent, first, next);
        END IF;
    END LOOP;
END
$$;
