-- medgate store schema, version 5 (SQLite): a large request is kept in a
-- table of its own. SQLite writes a whole row again when an UPDATE changes
-- its size, so the outcome of a message (status, reply) wrote its request
-- once more: 250 KB more per 500-line fee upload, in the WAL and again in
-- the checkpoint. The row keeps small requests; messages.request is NULL
-- for a request kept here. The sealed value is the same in both places
-- (its additional data names messages.request and the message id).
CREATE TABLE message_requests (
    id      TEXT NOT NULL PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    request BLOB NOT NULL
) STRICT;
