-- An area's intensity as one row a day, its 48 half-hours in arrays, as
-- asset-days are kept: a year's report checks 365 days' versions and read
-- 17,520 rows to do it (about 15 ms of a 35 ms answer). The day's own
-- columns (source, version, region) were repeated on each half-hour.
-- Every stored day is carried over; intensity_half_hours stays as a view
-- with the same columns, for people and tools.
CREATE TABLE intensity_days (
    area            text        NOT NULL,   -- national | region-<id> | postcode-<outward>
    date            date        NOT NULL,
    source          text        NOT NULL CHECK (source IN ('api', 'file')),
    fetched_at      timestamptz NOT NULL,   -- the day's version
    checked_at      timestamptz NOT NULL,
    region_id       smallint,               -- NULL for national
    region_name     text,
    -- Per half-hour, half-hour 1 first; an element is NULL where that
    -- figure is not known (never both).
    forecast        float8[]    NOT NULL,
    actual          float8[]    NOT NULL,
    generation_mix  jsonb,                  -- an array of 48 mixes; NULL for national
    PRIMARY KEY (area, date),
    CHECK (cardinality(forecast) = 48 AND cardinality(actual) = 48)
);

INSERT INTO intensity_days
SELECT area, date, min(source), min(fetched_at), min(checked_at), min(region_id),
    min(region_name), array_agg(forecast ORDER BY half_hour_id),
    array_agg(actual ORDER BY half_hour_id),
    CASE WHEN bool_or(generation_mix IS NOT NULL)
        THEN jsonb_agg(generation_mix ORDER BY half_hour_id) END
FROM intensity_half_hours
GROUP BY area, date
HAVING count(*) = 48;

DROP VIEW footprint_half_hours;
DROP TABLE intensity_half_hours;

CREATE VIEW intensity_half_hours AS
SELECT d.area, d.date, h.id::smallint AS half_hour_id,
    (d.date + (h.id - 1) * interval '30 minutes') AT TIME ZONE 'UTC' AS from_utc,
    d.forecast[h.id] AS forecast, d.actual[h.id] AS actual, d.source, d.fetched_at,
    d.checked_at, d.region_id, d.region_name,
    NULLIF(d.generation_mix -> (h.id - 1), 'null'::jsonb) AS generation_mix
FROM intensity_days d CROSS JOIN generate_series(1, 48) AS h(id);

CREATE VIEW footprint_half_hours AS
SELECT p.asset_id, p.date, 'auto'::text AS preference, p.half_hour_id,
    COALESCE(i.actual, i.forecast) AS intensity_g_per_kwh,
    CASE WHEN i.actual IS NOT NULL THEN 'actual' WHEN i.forecast IS NOT NULL THEN 'forecast' END
        AS intensity_kind,
    p.energy_kwh * COALESCE(i.actual, i.forecast) AS footprint_g,
    p.energy_kwh, p.import_kwh, p.export_kwh, p.coverage
FROM power_half_hours p
JOIN asset_days d ON d.asset_id = p.asset_id AND d.date = p.date
LEFT JOIN intensity_half_hours i
    ON i.area = d.intensity_area AND i.date = p.date AND i.half_hour_id = p.half_hour_id;
