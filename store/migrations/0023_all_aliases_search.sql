-- The "/" filter (q=) finds an AWS key by any of its aliases, not only the
-- first one it is shown by: display_name now holds every name a key is
-- known by besides its name (all its aliases, one per line; '' for most
-- keys), in the same trigram index (keys_display_search), so a search asks
-- the same two indexes as before however many aliases a key has. The Go
-- step (store/sortname.go) writes it again for the keys with an alias tag;
-- the update trigger reindexes them.
SELECT 1;
