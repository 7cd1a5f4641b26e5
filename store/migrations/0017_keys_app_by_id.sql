-- The usage report's unused keys of every application, in id order, a page
-- at a time: without this index SQLite read every key in the usable states
-- (hundreds of thousands at a million keys) and sorted them (1-2 s).
CREATE INDEX keys_app_by_id ON keys(id) WHERE application != '';
