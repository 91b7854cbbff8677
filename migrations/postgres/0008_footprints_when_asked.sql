-- An asset-day's footprint per half-hour is no longer stored: it is its
-- measured half-hours times the intensity of its area, worked out when
-- asked, as every other choice of intensity already was. That took 388 of
-- a row's 1,250 bytes (6 rows to a page; 9 without it).
--
-- The rows are kept. PostgreSQL drops a column at once but leaves its
-- bytes in the rows already written until they are written again; new
-- rows are narrow from now on. `VACUUM FULL asset_days` hands the space
-- of the old rows back (it locks the table while it runs).
DROP VIEW footprint_half_hours;
-- The length check named the dropped column and goes with it.
ALTER TABLE asset_days DROP COLUMN half_hour_footprint_g, DROP COLUMN intensity_kinds;
ALTER TABLE asset_days ADD CONSTRAINT asset_days_half_hours
    CHECK (octet_length(import_kw_ns) = 384 AND octet_length(export_kw_ns) = 384);

-- The footprint of each half-hour under the asset's own area's figures
-- (preference 'auto': the measured figure where there is one, else the
-- forecast), derived as the service derives it.
CREATE VIEW footprint_half_hours AS
SELECT p.asset_id, p.date, 'auto'::text AS preference, p.half_hour_id,
    COALESCE(i.actual, i.forecast) AS intensity_g_per_kwh,
    CASE WHEN i.actual IS NOT NULL THEN 'actual' WHEN i.forecast IS NOT NULL THEN 'forecast' END
        AS intensity_kind,
    p.energy_kwh * COALESCE(i.actual, i.forecast) AS footprint_g,
    p.energy_kwh, p.import_kwh, p.export_kwh, p.coverage
FROM power_half_hours p
JOIN asset_days d ON d.asset_id = p.asset_id AND d.date = p.date
LEFT JOIN intensity_half_hours i
    ON i.area = d.intensity_area AND i.date = p.date AND i.half_hour_id = p.half_hour_id;
