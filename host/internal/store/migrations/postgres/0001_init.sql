-- medgate store schema, version 1 (PostgreSQL).
-- Keys that are scanned by prefix or listed in key order use COLLATE "C",
-- so their order is byte order, the same as SQLite's BINARY collation.

CREATE TABLE messages (
    id           text        NOT NULL PRIMARY KEY,
    site         text        NOT NULL,
    type         text        COLLATE "C" NOT NULL,
    business_key text        NOT NULL DEFAULT '',
    status       text        NOT NULL CHECK (status IN ('pending', 'done')),
    outcome      text        NOT NULL DEFAULT '',
    reply        bytea,
    attempts     integer     NOT NULL DEFAULT 0,
    occurred_at  timestamptz,
    received_at  timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX messages_status_occurred_at ON messages (status, occurred_at);
CREATE INDEX messages_received_at ON messages (received_at);

CREATE TABLE exchanges (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id  text        NOT NULL DEFAULT '',
    plugin      text        NOT NULL,
    site        text        NOT NULL,
    system      text        NOT NULL DEFAULT '',
    code        text        NOT NULL DEFAULT '',
    serial      text        NOT NULL DEFAULT '',
    request     bytea,
    response    bytea,
    status      text        NOT NULL,
    error       text        NOT NULL DEFAULT '',
    duration_ms bigint      NOT NULL DEFAULT 0,
    at          timestamptz NOT NULL
);
CREATE INDEX exchanges_at ON exchanges (at);
CREATE INDEX exchanges_plugin_site_at ON exchanges (plugin, site, at);
CREATE INDEX exchanges_message_id ON exchanges (message_id);
CREATE INDEX exchanges_serial ON exchanges (serial);

CREATE TABLE plugin_state (
    ns         text        COLLATE "C" NOT NULL,
    key        text        COLLATE "C" NOT NULL,
    value      bytea,
    version    bigint      NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (ns, key)
);

CREATE TABLE batches (
    plugin     text        NOT NULL,
    site       text        NOT NULL,
    job        text        NOT NULL,
    batch_id   text        NOT NULL,
    step       text        NOT NULL,
    payload    bytea,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (plugin, site, job, batch_id)
);

CREATE TABLE leases (
    name       text        NOT NULL PRIMARY KEY,
    holder     text        NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE TABLE sequences (
    name  text   NOT NULL PRIMARY KEY,
    value bigint NOT NULL
);
