-- Substring search over key names and applications (the Keys pane's "/"
-- filter) through a trigram index, so a search costs what it finds, not a
-- scan of the inventory. Kept in step with keys by triggers.
CREATE VIRTUAL TABLE keys_search USING fts5(name, application, content='keys', content_rowid='rowid', tokenize='trigram');
CREATE TRIGGER keys_search_ai AFTER INSERT ON keys BEGIN
    INSERT INTO keys_search(rowid, name, application) VALUES (new.rowid, new.name, new.application);
END;
CREATE TRIGGER keys_search_ad AFTER DELETE ON keys BEGIN
    INSERT INTO keys_search(keys_search, rowid, name, application) VALUES ('delete', old.rowid, old.name, old.application);
END;
CREATE TRIGGER keys_search_au AFTER UPDATE OF name, application ON keys BEGIN
    INSERT INTO keys_search(keys_search, rowid, name, application) VALUES ('delete', old.rowid, old.name, old.application);
    INSERT INTO keys_search(rowid, name, application) VALUES (new.rowid, new.name, new.application);
END;
INSERT INTO keys_search(keys_search) VALUES ('rebuild');
CREATE INDEX keys_by_fingerprint ON keys(fingerprint) WHERE fingerprint != '';
