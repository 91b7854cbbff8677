-- A file version is also known by its inode and change time: a copy that
-- keeps size and mtime (cp -p, rsync -t, tar x) is still a new version.
-- Existing rows get 0, which no real file matches, so they are recomputed.
ALTER TABLE asset_days ADD COLUMN power_file_inode INTEGER NOT NULL DEFAULT 0;
ALTER TABLE asset_days ADD COLUMN power_file_ctime_ns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE asset_days ADD COLUMN previous_file_inode INTEGER;
ALTER TABLE asset_days ADD COLUMN previous_file_ctime_ns INTEGER;

-- Instants from which an asset's power is unknown: a rejected row whose
-- time could be read. Kept beside the readings so that the value carried
-- into the next day is unknown too when such a row came last.
CREATE TABLE power_gaps (
    asset_id    TEXT    NOT NULL,
    date        TEXT    NOT NULL,
    at_unix_ns  INTEGER NOT NULL,
    PRIMARY KEY (asset_id, date, at_unix_ns)
) WITHOUT ROWID;
