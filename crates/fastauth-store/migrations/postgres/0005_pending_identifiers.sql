-- An email or phone a user asked to switch to, active once a code sent to it is confirmed.
alter table users add column pending_email text;
alter table users add column pending_phone text;
