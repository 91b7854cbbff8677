-- Creating a partition locks its parent table exclusively. A replica doing
-- so while another's write transaction held some parents and waited for
-- another could deadlock. Writes into the partitioned tables now begin by
-- taking this lock shared; creating a month takes it exclusively first, so
-- it waits for the writes in flight and holds back new ones, and no cycle
-- can form. A month already made is seen without any lock.
CREATE OR REPLACE FUNCTION footprint_ensure_month(d date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    first date := date_trunc('month', d)::date;
    next date := (date_trunc('month', d) + interval '1 month')::date;
    suffix text := to_char(first, 'YYYY_MM');
    parent text;
BEGIN
    -- The last partition made in the loop below: present means all are.
    IF to_regclass(format('%I', 'footprint_half_hours_' || suffix)) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('footprint_ensure_month'));
    FOREACH parent IN ARRAY ARRAY['asset_days', 'power_readings', 'power_gaps',
                                  'power_half_hours', 'footprint_half_hours'] LOOP
        IF to_regclass(format('%I', parent || '_' || suffix)) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                           parent || '_' || suffix, parent, first, next);
        END IF;
    END LOOP;
END
$$;
