-- The resampled power of each asset, day and half-hour: the exact integral
-- of the held COV value.
CREATE TABLE power_half_hours (
    asset_id         TEXT    NOT NULL,
    date             TEXT    NOT NULL,
    half_hour_id     INTEGER NOT NULL CHECK (half_hour_id BETWEEN 1 AND 48),
    samples          INTEGER NOT NULL,
    coverage         REAL    NOT NULL CHECK (coverage BETWEEN 0 AND 1),
    carried_forward  INTEGER NOT NULL CHECK (carried_forward IN (0, 1)),
    mean_power_kw    REAL    NOT NULL,
    energy_kwh       REAL    NOT NULL,
    PRIMARY KEY (asset_id, date, half_hour_id)
) WITHOUT ROWID;
