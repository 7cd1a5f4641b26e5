-- Encryption proxy usage: encrypt and decrypt counts per application, key
-- generation (short id from the fingerprint) and hour.
CREATE TABLE usage (
    hour        INTEGER NOT NULL, -- start of the hour, unix milliseconds UTC
    application TEXT    NOT NULL,
    key_id      TEXT    NOT NULL,
    encrypts    INTEGER NOT NULL DEFAULT 0,
    decrypts    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, application, key_id)
);
CREATE INDEX usage_app_hour ON usage (application, hour);
