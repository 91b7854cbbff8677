-- Claims as leases: what a replica computes that the others must not
-- compute at the same time (a day file, an asset-day, a day's intensity).
-- A holder renews its lease while it works; a replica that dies or is
-- frozen (SIGSTOP, a paused VM, a process stuck on NFS) stops renewing,
-- and another takes the claim over once the lease has run out. Unlike
-- session advisory locks, a lease needs no session state, so it holds
-- behind a pooler that hands each transaction another server connection.
CREATE TABLE IF NOT EXISTS claims (
    key         text        PRIMARY KEY,
    holder      text        NOT NULL,
    expires_at  timestamptz NOT NULL
);
