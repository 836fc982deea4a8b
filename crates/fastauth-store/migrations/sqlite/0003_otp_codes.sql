-- One-time codes, keyed-hashed. Rows exist for unknown destinations too (with a hash nothing
-- matches) so that the per-destination limits count both alike.
create table otp_codes (
    id text primary key,
    destination text not null,
    channel text not null,
    -- The SMS provider that sent the code; a provider that checks its own codes verifies it.
    provider text,
    client_id text not null,
    code_hash text not null,
    created_at bigint not null,
    expires_at bigint not null,
    attempts bigint not null default 0,
    consumed_at bigint,
    voided_at bigint
);
create index otp_codes_destination_idx on otp_codes (destination, channel, created_at);
