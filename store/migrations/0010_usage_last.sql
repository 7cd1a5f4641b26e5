-- The time of the latest use in each hour, so the usage report's "last use"
-- is when a key was last used, not the start of its hour. NULL for rows
-- written before (their hour is all that is known).
ALTER TABLE usage ADD COLUMN last_use INTEGER; -- unix milliseconds UTC
