-- Events written in the same transaction as the change they describe (SPEC section 8).
create table outbox_events (
    id integer primary key autoincrement,
    uid text not null unique,
    event_type text not null,
    -- The user (or role) the event is about: deliveries keep each subject's order.
    subject text not null,
    payload text not null,
    created_at bigint not null
);
-- Which events each webhook endpoint has acknowledged.
create table webhook_deliveries (
    endpoint text not null,
    event_id bigint not null references outbox_events (id) on delete cascade,
    delivered_at bigint not null,
    primary key (endpoint, event_id)
);
-- One instance at a time delivers to an endpoint; it starts after the events older than it.
create table webhook_endpoints (
    endpoint text primary key,
    start_after bigint not null,
    holder text not null,
    lease_until bigint not null
);
