-- medgate store schema, version 8 (SQLite): a user's site scope. sites
-- holds the site codes a console and admin-API user may see and act on,
-- comma-separated and sorted; empty is every site (the users before this
-- version, and every admin: package access refuses a scope for admins).
ALTER TABLE users ADD COLUMN sites TEXT NOT NULL DEFAULT '';
