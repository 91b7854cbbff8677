-- What each asset-day took from the grid and what it sent to it, each
-- times its half-hours' intensity of the asset's own area, gCO2eq: the
-- figures a report keeps apart and never nets. NULL: not known (no
-- half-hour's figure, or the day was stored with the nation's figures
-- while its own area's could not be had).
--
-- The asset-day tables are a cache of what the power files say: they are
-- emptied here, and each day is read again from its file when a request,
-- the watcher or `carbon-footprint ingest` next needs it. Intensity is kept.
DELETE FROM day_files;
DELETE FROM asset_days;
ALTER TABLE asset_days ADD COLUMN import_footprint_g REAL;
ALTER TABLE asset_days ADD COLUMN export_footprint_g REAL;
