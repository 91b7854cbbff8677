-- The COV rows of one asset read for one UTC day, as the file gave them
-- (sorted, one per instant). Kept so a day's numbers can be audited.
CREATE TABLE power_readings (
    asset_id    TEXT    NOT NULL,
    date        TEXT    NOT NULL,                -- YYYY-MM-DD, UTC
    at_unix_ns  INTEGER NOT NULL,                -- nanoseconds since 1970-01-01T00:00Z
    power_kw    REAL    NOT NULL,
    PRIMARY KEY (asset_id, date, at_unix_ns)
) WITHOUT ROWID;
