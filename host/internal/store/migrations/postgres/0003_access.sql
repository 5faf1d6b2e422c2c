-- medgate store schema, version 3 (PostgreSQL): console users and the
-- audit log. Users sign in with a password kept as an argon2id PHC string
-- (the cost parameters are part of it). The audit log is append-only:
-- triggers refuse every UPDATE, DELETE and TRUNCATE, so nothing in medgate
-- can edit it.

CREATE TABLE users (
    name          text        NOT NULL PRIMARY KEY,
    role          text        NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    password_hash text        NOT NULL,
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE audit_log (
    id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL,
    actor   text        NOT NULL,
    role    text        NOT NULL DEFAULT '',
    action  text        NOT NULL,
    target  text        NOT NULL DEFAULT '',
    site    text        NOT NULL DEFAULT '',
    outcome text        NOT NULL,
    detail  text        NOT NULL DEFAULT '',
    remote  text        NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_action ON audit_log (action, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: entries cannot be changed or deleted (%)', TG_OP;
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
