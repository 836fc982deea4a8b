-- Sign-in ends a user's oldest live sessions beyond MAX_SESSIONS_PER_USER. Through the index on
-- all of the user's sessions that scan grew with every session they ever had (2 ms a sign-in at
-- 7,500 ended sessions on SQLite); an index of live sessions only keeps it to the live ones.
create index sessions_live_user_idx on sessions (user_id, last_used_at, id) where revoked_at is null;
