-- The current refresh token moves onto its session, so that rotating it is one conditional
-- update (a single statement, atomic on its own). refresh_tokens keeps only rotated tokens, for
-- reuse detection; the trigger writes each one as part of the update that replaces it. A token's
-- issue time is its session's last_used_at, which only issuing a token sets.
alter table sessions add column refresh_hash text;
update sessions set refresh_hash =
    (select token_hash from refresh_tokens t where t.session_id = sessions.id and t.rotated_at is null);
delete from refresh_tokens where rotated_at is null;
create unique index sessions_refresh_hash_idx on sessions (refresh_hash);

create trigger sessions_keep_rotated_refresh_token after update of refresh_hash on sessions
for each row when old.refresh_hash is not null and old.refresh_hash <> new.refresh_hash
begin
    insert into refresh_tokens (token_hash, session_id, created_at, rotated_at)
        values (old.refresh_hash, old.id, old.last_used_at, new.last_used_at);
end;
