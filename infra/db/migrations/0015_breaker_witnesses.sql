-- Who saw the failures that a circuit breaker counts. A breaker shared by every user opens on
-- failures that one caller can provoke (a 5xx, a timeout) only once several users saw them, so
-- each failure's witness is kept: the digest of the user's subject (as the rate limit buckets
-- name users, never the subject itself) -> the time of their latest failure, epoch seconds.
-- '*' stands for a failure that needs no other witness (a server that cannot be reached).
ALTER TABLE mcp_circuit_breakers
    ADD COLUMN failure_witnesses jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(failure_witnesses) = 'object');
