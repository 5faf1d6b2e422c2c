-- medgate store schema, version 8 (PostgreSQL): message ids in byte
-- order. The console searches messages by id prefix as a range
-- (id >= prefix AND id < the prefix's successor), which selects exactly
-- the ids starting with the prefix only in byte order; messages.id had
-- the database's default collation, which initdb takes from the system's
-- locale (en_US.UTF-8, zh_CN.UTF-8), and in which the prefix "A" selected
-- "ab" and "b", and "MSG_" selected "MSG-1". COLLATE "C", as version 1
-- gave the other keys scanned by prefix, makes it byte order, the same as
-- SQLite's. The table is not rewritten (text stays text); the indexes
-- holding id (the primary key, messages_business_key_received,
-- messages_site_received) are rebuilt once, holding the table meanwhile.
-- Lookups by id compare bytes instead of the locale's rules, which is
-- cheaper. message_requests.id, which references it, follows.
ALTER TABLE messages ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE message_requests ALTER COLUMN id TYPE text COLLATE "C";
