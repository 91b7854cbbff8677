-- The computed footprint of each asset, day and half-hour, for each way of
-- choosing the intensity figure ('auto' = actual, else forecast; or one
-- kind forced). A forced kind has no row where that figure is missing.
CREATE TABLE footprint_half_hours (
    asset_id             TEXT    NOT NULL,
    date                 TEXT    NOT NULL,
    preference           TEXT    NOT NULL CHECK (preference IN ('auto', 'actual', 'forecast')),
    half_hour_id         INTEGER NOT NULL CHECK (half_hour_id BETWEEN 1 AND 48),
    intensity_g_per_kwh  REAL    NOT NULL,
    intensity_kind       TEXT    NOT NULL CHECK (intensity_kind IN ('actual', 'forecast')),
    footprint_g          REAL    NOT NULL,
    PRIMARY KEY (asset_id, date, preference, half_hour_id),
    FOREIGN KEY (asset_id, date, half_hour_id)
        REFERENCES power_half_hours (asset_id, date, half_hour_id) ON DELETE CASCADE
) WITHOUT ROWID;
