-- Webhooks: what a waiting operation waits on (a Partner Center event about it wakes it), each
-- marketplace's endpoint, and the outbox of operation events (written in the transaction that
-- changes the operation's status, delivered and retried by the gateway's delivery loop).
ALTER TABLE operations ADD COLUMN waiting_on VARCHAR(200);

CREATE INDEX operations_waiting ON operations (waiting_on);

CREATE TABLE webhook_endpoints (
    owner VARCHAR(100) NOT NULL PRIMARY KEY,
    url VARCHAR(2000) NOT NULL,
    secret VARCHAR(200) NOT NULL,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
);

CREATE TABLE webhook_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id VARCHAR(36) NOT NULL UNIQUE,
    owner VARCHAR(100) NOT NULL,
    operation_id VARCHAR(36) NOT NULL REFERENCES operations (id),
    type VARCHAR(40) NOT NULL,
    payload TEXT NOT NULL,
    status VARCHAR(20) NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at DATETIME NOT NULL,
    created_at DATETIME NOT NULL,
    finished_at DATETIME,
    last_status INTEGER,
    last_error VARCHAR(500),
    lease_owner VARCHAR(100),
    lease_until DATETIME
);

CREATE INDEX webhook_outbox_due ON webhook_outbox (status, next_attempt_at);

CREATE INDEX webhook_outbox_operation ON webhook_outbox (operation_id, seq);

CREATE INDEX webhook_outbox_owner ON webhook_outbox (owner, seq)
