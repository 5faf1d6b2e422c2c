-- medgate store schema, version 9 (PostgreSQL): a user's site scope. sites
-- holds the site codes a console and admin-API user may see and act on,
-- comma-separated and sorted; empty is every site (the users before this
-- version, and every admin: package access refuses a scope for admins).
ALTER TABLE users ADD COLUMN sites text NOT NULL DEFAULT '';
