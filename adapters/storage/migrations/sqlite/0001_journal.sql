-- The operation journal: operations and their steps.
CREATE TABLE operations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id VARCHAR(36) NOT NULL UNIQUE,
    kind VARCHAR(40) NOT NULL,
    status VARCHAR(20) NOT NULL,
    owner VARCHAR(100) NOT NULL,
    idempotency_key VARCHAR(255) NOT NULL,
    body_hash VARCHAR(64) NOT NULL,
    request JSON NOT NULL,
    result JSON NOT NULL,
    error JSON,
    action JSON,
    secrets JSON,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL,
    run_after DATETIME NOT NULL,
    attempts INTEGER NOT NULL,
    lease_owner VARCHAR(100),
    lease_until DATETIME,
    CONSTRAINT operations_owner_key UNIQUE (owner, idempotency_key)
);
CREATE INDEX operations_due ON operations (status, run_after);

CREATE TABLE steps (
    operation_id VARCHAR(36) NOT NULL REFERENCES operations (id),
    position INTEGER NOT NULL,
    name VARCHAR(60) NOT NULL,
    status VARCHAR(20) NOT NULL,
    ms_request_id VARCHAR(36) NOT NULL,
    attempts INTEGER NOT NULL,
    started_at DATETIME NOT NULL,
    finished_at DATETIME,
    output JSON NOT NULL,
    error JSON,
    PRIMARY KEY (operation_id, position)
);
