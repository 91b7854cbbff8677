-- An asset-day's footprint per half-hour is no longer stored: it is its
-- measured half-hours times the intensity of its area, worked out when
-- asked, as every other choice of intensity already was. The rows are
-- kept; dropping the columns rewrites them without those bytes.
DROP VIEW footprint_half_hours;
ALTER TABLE asset_days DROP COLUMN half_hour_footprint_g;
ALTER TABLE asset_days DROP COLUMN intensity_kinds;

-- The footprint of each half-hour under the asset's own area's figures
-- (preference 'auto': the measured figure where there is one, else the
-- forecast), derived as the service derives it.
CREATE VIEW footprint_half_hours AS
SELECT p.asset_id, p.date, 'auto' AS preference, p.half_hour_id,
    COALESCE(i.actual, i.forecast) AS intensity_g_per_kwh,
    CASE WHEN i.actual IS NOT NULL THEN 'actual' WHEN i.forecast IS NOT NULL THEN 'forecast' END
        AS intensity_kind,
    p.energy_kwh * COALESCE(i.actual, i.forecast) AS footprint_g,
    p.energy_kwh, p.import_kwh, p.export_kwh, p.coverage
FROM power_half_hours p
JOIN asset_days d ON d.asset_id = p.asset_id AND d.date = p.date
LEFT JOIN intensity_half_hours i
    ON i.area = d.intensity_area AND i.date = p.date AND i.half_hour_id = p.half_hour_id;
