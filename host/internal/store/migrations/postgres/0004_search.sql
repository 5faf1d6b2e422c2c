-- medgate store schema, version 4 (PostgreSQL): indexes for the console's
-- message search, newest first and keyset-paged on (received_at, id). The
-- business key (a visit, a card, a document) is what an operator searches
-- by most; a site narrows a provincial store. Type and status searches use
-- messages_received_at and messages_status_occurred_at: every index is one
-- more write per message on the hot path, so only these two are added.
CREATE INDEX messages_business_key_received ON messages (business_key, received_at, id);
CREATE INDEX messages_site_received ON messages (site, received_at, id);
