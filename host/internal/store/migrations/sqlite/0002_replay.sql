-- medgate store schema, version 2 (SQLite): keep each request as received,
-- so a failed message can be replayed from the store.
ALTER TABLE messages ADD COLUMN request BLOB;
