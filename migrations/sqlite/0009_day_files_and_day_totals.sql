-- A whole day file is read once for every asset it holds. This row says
-- which version of the file (and of the previous day's, for the value held
-- at 00:00) was read for every asset, written after the last of its
-- asset-days: without it, the day is read again.
CREATE TABLE day_files (
    date                    TEXT    NOT NULL PRIMARY KEY,
    power_file_size         INTEGER NOT NULL,
    power_file_mtime_ns     INTEGER NOT NULL,
    power_file_inode        INTEGER NOT NULL,
    power_file_ctime_ns     INTEGER NOT NULL,
    previous_file_size      INTEGER,            -- NULL: no previous day's file used
    previous_file_mtime_ns  INTEGER,
    previous_file_inode     INTEGER,
    previous_file_ctime_ns  INTEGER,
    assets                  INTEGER NOT NULL,   -- assets with power rows in the file
    rejected                TEXT    NOT NULL,   -- JSON {asset: {"count", "first"}}: assets with no usable row
    intensity_versions      TEXT,               -- JSON {area: fetched_at}: the intensity every asset-day uses; NULL: mixed
    register_stamp          TEXT,               -- JSON file stamp of the asset register read; NULL: none
    ingested_at             TEXT    NOT NULL
) WITHOUT ROWID;

-- Each asset-day's totals under the default preference (actual, else
-- forecast), so that a fleet or a period is summed from one row per
-- asset-day. NULL energy or footprint: no part of the day is known.
ALTER TABLE asset_days ADD COLUMN energy_kwh REAL;
ALTER TABLE asset_days ADD COLUMN footprint_g REAL;
ALTER TABLE asset_days ADD COLUMN coverage REAL NOT NULL DEFAULT 0;
CREATE INDEX asset_days_by_date ON asset_days (date, asset_id, energy_kwh, footprint_g, coverage);

-- power_readings keeps from now on only what carries into the next day
-- (the last reading before midnight, with anything after it); the day
-- file itself is the record of every reading. Stored days lack totals:
-- the store is a cache of the files, so they are computed again.
DELETE FROM footprint_half_hours;
DELETE FROM power_half_hours;
DELETE FROM power_readings;
DELETE FROM power_gaps;
DELETE FROM asset_days;
