-- Sessions of OTP test identities: their tokens say so and grant no more than DEFAULT_ROLE.
alter table sessions add column test_identity bigint not null default 0;
