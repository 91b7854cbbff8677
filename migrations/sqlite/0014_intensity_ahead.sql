-- Each area's latest forecast ahead (the API's 48 hours from a half-hour,
-- or its fallback file): one row per area, one per half-hour forecast,
-- both replaced whole when a newer forecast is fetched.
CREATE TABLE intensity_ahead (
    area          TEXT    NOT NULL PRIMARY KEY,   -- national | region-<id> | postcode-<outward>
    starts_at     TEXT    NOT NULL,               -- the half-hour the forecast was asked from
    source        TEXT    NOT NULL CHECK (source IN ('api', 'file')),
    fetched_at    TEXT    NOT NULL,
    region_id     INTEGER,                        -- NULL for national
    region_name   TEXT
) WITHOUT ROWID;

CREATE TABLE intensity_ahead_half_hours (
    area            TEXT    NOT NULL,
    from_utc        TEXT    NOT NULL,
    forecast        REAL,
    actual          REAL,
    band            TEXT,                         -- the API's index: very low .. very high
    generation_mix  TEXT,                         -- JSON {fuel: percent}; NULL for national
    PRIMARY KEY (area, from_utc),
    CHECK (forecast IS NOT NULL OR actual IS NOT NULL)
) WITHOUT ROWID;
