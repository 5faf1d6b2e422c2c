-- medgate store schema, version 7 (PostgreSQL): journal entries bound to
-- their row. seal_id is a random id of the entry (32 hex digits), written
-- with it by a store that encrypts; the encryption of its request and
-- response is bound to it and to every other column of the entry, so
-- neither body can be moved into another entry, nor the entry's status,
-- time or error changed, without the read failing. Entries written before
-- (seal_id NULL) stay bound to their message, plugin, site, code and
-- serial only, until Rekey binds them to their row. Adding a column
-- without a default rewrites no row.
ALTER TABLE exchanges ADD COLUMN seal_id text;
