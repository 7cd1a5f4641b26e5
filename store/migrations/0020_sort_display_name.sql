-- The name sort reads the name a key is shown by: an AWS key's first alias
-- (engine.Key.DisplayName), not its key ID. sort_name and its indexes stay;
-- the Go step (store/sortname.go) writes it again for the keys that have
-- an alias, with the padding of trailing numbers SQL cannot do.
UPDATE keys SET sort_name = sort_name WHERE 0;
