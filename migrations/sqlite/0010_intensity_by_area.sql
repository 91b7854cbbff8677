-- Intensity per area (the nation, or one region of the API asked for by
-- region id or postcode), date and half-hour: national is its own area.
-- Regional rows name their region and keep each half-hour's generation
-- mix (JSON {fuel: percent}).
CREATE TABLE intensity_by_area (
    area            TEXT    NOT NULL,        -- national | region-<id> | postcode-<outward>
    date            TEXT    NOT NULL,
    half_hour_id    INTEGER NOT NULL CHECK (half_hour_id BETWEEN 1 AND 48),
    from_utc        TEXT    NOT NULL,
    forecast        REAL,
    actual          REAL,
    source          TEXT    NOT NULL CHECK (source IN ('api', 'file')),
    fetched_at      TEXT    NOT NULL,
    checked_at      TEXT,
    region_id       INTEGER,                 -- NULL for national
    region_name     TEXT,
    generation_mix  TEXT,                    -- NULL for national
    PRIMARY KEY (area, date, half_hour_id),
    CHECK (forecast IS NOT NULL OR actual IS NOT NULL)
) WITHOUT ROWID;
INSERT INTO intensity_by_area
    (area, date, half_hour_id, from_utc, forecast, actual, source, fetched_at, checked_at)
    SELECT 'national', date, half_hour_id, from_utc, forecast, actual, source, fetched_at, checked_at
    FROM intensity_half_hours;
DROP TABLE intensity_half_hours;
ALTER TABLE intensity_by_area RENAME TO intensity_half_hours;

-- The area whose figures an asset-day's stored footprint rows use.
ALTER TABLE asset_days ADD COLUMN intensity_area TEXT NOT NULL DEFAULT 'national';
