-- Secrets wrapped under the key-encryption key (ring material, cloud backups).
CREATE TABLE sealed (
    kind    TEXT NOT NULL,
    name    TEXT NOT NULL,
    blob    BLOB NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
);
