-- medgate store schema, version 5 (PostgreSQL): the table of large
-- requests that SQLite keeps apart from their message's row (an UPDATE
-- there writes the whole row again). PostgreSQL does not rewrite a TOASTed
-- request when the outcome is stored, so it keeps every request in
-- messages.request and this table stays empty; it exists so that both
-- engines read messages with the same statements.
CREATE TABLE message_requests (
    id      text  NOT NULL PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    request bytea NOT NULL
);
