-- Times are integer milliseconds since the Unix epoch in both dialects, so that every
-- statement is the same text on PostgreSQL and SQLite.
create table users (
    id text primary key,
    firstname text not null default '',
    lastname text not null default '',
    email text,
    phone_number text,
    password_hash text,
    source_profile text,
    status bigint not null default 1,
    email_verified_at bigint,
    phone_verified_at bigint,
    created_at bigint not null,
    updated_at bigint not null,
    constraint users_email_key unique (email),
    constraint users_phone_key unique (phone_number)
);

create table applications (
    id text primary key,
    name text not null,
    allowed_origins text not null default '[]',
    created_at bigint not null
);

create table roles (
    id integer primary key autoincrement,
    role_name text not null,
    permissions text not null default '[]',
    department_name text,
    department_id text,
    is_active bigint not null default 1,
    application text references applications (id),
    created_at bigint not null,
    updated_at bigint not null
);
create unique index roles_name_key on roles (role_name, coalesce(application, ''));

create table user_roles (
    user_id text not null references users (id) on delete cascade,
    role_id bigint not null references roles (id) on delete cascade,
    primary key (user_id, role_id)
);
create index user_roles_role_idx on user_roles (role_id);

create table sessions (
    id text primary key,
    user_id text not null references users (id) on delete cascade,
    client_id text not null,
    created_at bigint not null,
    last_used_at bigint not null,
    idle_expires_at bigint not null,
    absolute_expires_at bigint not null,
    revoked_at bigint,
    user_agent text,
    ip text
);
create index sessions_user_idx on sessions (user_id, last_used_at);

create table refresh_tokens (
    token_hash text primary key,
    session_id text not null references sessions (id) on delete cascade,
    created_at bigint not null,
    rotated_at bigint
);
create index refresh_tokens_session_idx on refresh_tokens (session_id);

create table signing_keys (
    kid text primary key,
    algorithm text not null,
    private_key_encrypted blob not null,
    created_at bigint not null,
    retired_at bigint,
    revoked_at bigint
);

create table audit_events (
    id integer primary key autoincrement,
    type text not null,
    at bigint not null,
    actor_id text,
    subject_id text,
    ip text,
    details text not null default '{}'
);
create index audit_events_subject_idx on audit_events (subject_id, id);
create index audit_events_actor_idx on audit_events (actor_id, id);
create index audit_events_type_idx on audit_events (type, id);
