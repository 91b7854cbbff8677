-- Each area's latest forecast ahead (the API's 48 hours from a half-hour,
-- or its fallback file): one row per area, one per half-hour forecast,
-- both replaced whole when a newer forecast is fetched.
CREATE TABLE intensity_ahead (
    area          text        NOT NULL PRIMARY KEY,   -- national | region-<id> | postcode-<outward>
    starts_at     timestamptz NOT NULL,               -- the half-hour the forecast was asked from
    source        text        NOT NULL CHECK (source IN ('api', 'file')),
    fetched_at    timestamptz NOT NULL,
    region_id     smallint,                           -- NULL for national
    region_name   text
);

CREATE TABLE intensity_ahead_half_hours (
    area            text             NOT NULL,
    from_utc        timestamptz      NOT NULL,
    forecast        double precision,
    actual          double precision,
    band            text,                             -- the API's index: very low .. very high
    generation_mix  jsonb,                            -- NULL for national
    PRIMARY KEY (area, from_utc),
    CHECK (forecast IS NOT NULL OR actual IS NOT NULL)
);
