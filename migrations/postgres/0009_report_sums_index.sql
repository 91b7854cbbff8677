-- Reports and period totals read only the day's totals. Kept beside the
-- key in the index by asset, they are read from the index alone (once
-- vacuum has marked the pages visible, which autovacuum does after a
-- day's inserts): a year of a fleet's sums reads about 155 bytes of index
-- an asset-day rather than 885 bytes of rows.
DROP INDEX asset_days_by_asset;
CREATE INDEX asset_days_by_asset ON asset_days (asset_id, date)
    INCLUDE (coverage, energy_kwh, footprint_g, import_kwh, export_kwh,
             import_footprint_g, export_footprint_g, intensity_area);
