-- The "/" filter (q=) finds a key by the name it is shown by, not only by
-- its name: an AWS key's first alias (engine.Key.DisplayName), where its
-- name is the key ID nobody types. display_name holds that name when it
-- differs from the key's name, else ''; a trigram index of its own covers
-- only those keys (a few per AWS account), so keys_search is not rebuilt
-- and keys of other kinds add nothing to either. The Go step
-- (store/sortname.go) fills display_name for the keys that have an alias;
-- the update trigger indexes them.
ALTER TABLE keys ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
CREATE VIRTUAL TABLE keys_display_search USING fts5(display_name, content='keys', content_rowid='rowid', tokenize='trigram');
CREATE TRIGGER keys_display_search_ai AFTER INSERT ON keys WHEN new.display_name != '' BEGIN
    INSERT INTO keys_display_search(rowid, display_name) VALUES (new.rowid, new.display_name);
END;
CREATE TRIGGER keys_display_search_ad AFTER DELETE ON keys WHEN old.display_name != '' BEGIN
    INSERT INTO keys_display_search(keys_display_search, rowid, display_name) VALUES ('delete', old.rowid, old.display_name);
END;
CREATE TRIGGER keys_display_search_au AFTER UPDATE OF display_name ON keys
    WHEN old.display_name IS NOT new.display_name BEGIN
    INSERT INTO keys_display_search(keys_display_search, rowid, display_name)
        SELECT 'delete', old.rowid, old.display_name WHERE old.display_name != '';
    INSERT INTO keys_display_search(rowid, display_name)
        SELECT new.rowid, new.display_name WHERE new.display_name != '';
END;
