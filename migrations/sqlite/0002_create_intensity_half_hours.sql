-- Grid carbon intensity of each half-hour of a UTC day, shared by all assets.
CREATE TABLE intensity_half_hours (
    date          TEXT    NOT NULL,              -- YYYY-MM-DD, UTC
    half_hour_id  INTEGER NOT NULL CHECK (half_hour_id BETWEEN 1 AND 48),
    from_utc      TEXT    NOT NULL,              -- RFC 3339 start of the half-hour
    forecast      REAL,                          -- gCO2/kWh
    actual        REAL,                          -- gCO2/kWh, NULL until measured
    source        TEXT    NOT NULL CHECK (source IN ('api', 'file')),
    fetched_at    TEXT    NOT NULL,              -- RFC 3339, when this day was fetched
    PRIMARY KEY (date, half_hour_id),
    CHECK (forecast IS NOT NULL OR actual IS NOT NULL)
) WITHOUT ROWID;
