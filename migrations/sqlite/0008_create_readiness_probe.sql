-- One row that readiness checks rewrite: a real write, so a full or
-- read-only disk, or a database file removed under the server, shows.
CREATE TABLE readiness_probe (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    written_at  TEXT    NOT NULL
);
