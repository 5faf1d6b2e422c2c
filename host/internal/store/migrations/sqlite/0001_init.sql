-- medgate store schema, version 1 (SQLite).
-- Times are INTEGER unix microseconds (UTC); NULL means unknown.
-- Text compares with the BINARY collation, so key order is byte order,
-- the same as COLLATE "C" in the PostgreSQL schema.

CREATE TABLE messages (
    id           TEXT    NOT NULL PRIMARY KEY,
    site         TEXT    NOT NULL,
    type         TEXT    NOT NULL,
    business_key TEXT    NOT NULL DEFAULT '',
    status       TEXT    NOT NULL CHECK (status IN ('pending', 'done')),
    outcome      TEXT    NOT NULL DEFAULT '',
    reply        BLOB,
    attempts     INTEGER NOT NULL DEFAULT 0,
    occurred_at  INTEGER,
    received_at  INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX messages_status_occurred_at ON messages (status, occurred_at);
CREATE INDEX messages_received_at ON messages (received_at);

CREATE TABLE exchanges (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  TEXT    NOT NULL DEFAULT '',
    plugin      TEXT    NOT NULL,
    site        TEXT    NOT NULL,
    system      TEXT    NOT NULL DEFAULT '',
    code        TEXT    NOT NULL DEFAULT '',
    serial      TEXT    NOT NULL DEFAULT '',
    request     BLOB,
    response    BLOB,
    status      TEXT    NOT NULL,
    error       TEXT    NOT NULL DEFAULT '',
    duration_ms INTEGER NOT NULL DEFAULT 0,
    at          INTEGER NOT NULL
) STRICT;
CREATE INDEX exchanges_at ON exchanges (at);
CREATE INDEX exchanges_plugin_site_at ON exchanges (plugin, site, at);
CREATE INDEX exchanges_message_id ON exchanges (message_id);
CREATE INDEX exchanges_serial ON exchanges (serial);

CREATE TABLE plugin_state (
    ns         TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    value      BLOB,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (ns, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE batches (
    plugin     TEXT    NOT NULL,
    site       TEXT    NOT NULL,
    job        TEXT    NOT NULL,
    batch_id   TEXT    NOT NULL,
    step       TEXT    NOT NULL,
    payload    BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (plugin, site, job, batch_id)
) STRICT;

CREATE TABLE leases (
    name       TEXT    NOT NULL PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE sequences (
    name  TEXT    NOT NULL PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;
