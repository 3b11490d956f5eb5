-- Northbound access: one API key per marketplace (stored as a hash), and which customers and
-- subscriptions each marketplace owns.
CREATE TABLE api_keys (
    name VARCHAR(100) NOT NULL PRIMARY KEY,
    prefix VARCHAR(20) NOT NULL,
    key_hash VARCHAR(64) NOT NULL UNIQUE,
    previous_hash VARCHAR(64) UNIQUE,
    previous_until DATETIME,
    created_at DATETIME NOT NULL,
    rotated_at DATETIME,
    revoked_at DATETIME
);

CREATE TABLE customer_owners (
    customer_id VARCHAR(64) NOT NULL,
    owner VARCHAR(100) NOT NULL,
    operation_id VARCHAR(36) REFERENCES operations (id),
    PRIMARY KEY (customer_id, owner)
);

CREATE TABLE subscription_owners (
    subscription_id VARCHAR(64) NOT NULL PRIMARY KEY,
    owner VARCHAR(100) NOT NULL,
    customer_id VARCHAR(64) NOT NULL,
    operation_id VARCHAR(36) REFERENCES operations (id)
);
