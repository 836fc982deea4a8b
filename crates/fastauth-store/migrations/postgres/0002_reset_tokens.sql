-- Password reset tokens: only a SHA-256 of the token is kept; single use, short-lived.
create table reset_tokens (
    token_hash text primary key,
    user_id text not null references users (id) on delete cascade,
    created_at bigint not null,
    expires_at bigint not null,
    used_at bigint
);
create index reset_tokens_user_idx on reset_tokens (user_id);
