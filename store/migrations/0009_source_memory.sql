-- What a source learned of its backend and keeps across restarts (a KMIP
-- source: whether the KMS expands wildcards, names of objects no
-- application matches). Never key material.
ALTER TABLE sources ADD COLUMN memory BLOB;
