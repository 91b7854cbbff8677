-- When a day's intensity was last checked against its sources, apart from
-- when the figures were fetched (their version): a check that finds the
-- same figures moves this on and leaves the answers' versions alone.
ALTER TABLE intensity_half_hours ADD COLUMN checked_at TEXT;
