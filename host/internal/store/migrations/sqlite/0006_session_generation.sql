-- medgate store schema, version 6 (SQLite): a per-user session generation.
-- A console session records the user's session_generation at sign-in and
-- ends once the stored one differs. UpdateUser adds 1 to it in the same
-- UPDATE that changes the password, role or enabled flag, so every such
-- change ends the sessions begun before it, at every instance, whatever
-- the clocks say (updated_at, used before, is a time: two changes within
-- one clock tick, or a clock stepped back, could leave it unchanged).
-- Existing users start at 0; their next change makes it 1.
ALTER TABLE users ADD COLUMN session_generation INTEGER NOT NULL DEFAULT 0 CHECK (session_generation >= 0);
