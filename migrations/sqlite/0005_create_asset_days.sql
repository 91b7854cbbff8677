-- One row per computed asset-day: which source versions it was computed
-- from, so a request can tell whether the stored rows still hold. Written
-- in the same transaction as the day's rows: a day is all there or absent.
CREATE TABLE asset_days (
    asset_id                TEXT    NOT NULL,
    date                    TEXT    NOT NULL,
    power_file_size         INTEGER NOT NULL,
    power_file_mtime_ns     INTEGER NOT NULL,
    previous_file_size      INTEGER,            -- NULL: no previous day's file
    previous_file_mtime_ns  INTEGER,
    intensity_fetched_at    TEXT    NOT NULL,   -- the intensity_half_hours version used
    readings                INTEGER NOT NULL,   -- rows kept for the asset
    skipped_rows            TEXT    NOT NULL,   -- JSON {"count", "first": [{"line", "reason"}]}
    computed_at             TEXT    NOT NULL,
    PRIMARY KEY (asset_id, date)
) WITHOUT ROWID;
