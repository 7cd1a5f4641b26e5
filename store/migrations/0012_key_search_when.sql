-- A sync writes every key it sees again, setting name and application to
-- what they already were; the trigram index is rewritten only when one of
-- them really changed (it was deleted and inserted again for every key of
-- every sync, a large share of a sync's cost).
DROP TRIGGER keys_search_au;
CREATE TRIGGER keys_search_au AFTER UPDATE OF name, application ON keys
    WHEN old.name IS NOT new.name OR old.application IS NOT new.application BEGIN
    INSERT INTO keys_search(keys_search, rowid, name, application) VALUES ('delete', old.rowid, old.name, old.application);
    INSERT INTO keys_search(rowid, name, application) VALUES (new.rowid, new.name, new.application);
END;
