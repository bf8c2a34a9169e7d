-- The thought history of the hosted Sequential Thinking server, and a stable order for the
-- hosted Memory server's graph.
--
-- The reference Sequential Thinking server keeps its history in process memory; Lambda
-- containers share none, so each user's history lives here. It is bounded by the service:
-- a thought numbered 1 that is neither a revision nor a branch starts a new chain and clears
-- the previous one, and only the most recent thoughts of a chain are kept (see
-- auralink/mcp/hosted/thinking_repository.py).

CREATE TABLE sequential_thoughts (
    -- Insertion order: the history is read back, and trimmed, in this order.
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id              text NOT NULL,
    thought              text NOT NULL CHECK (length(thought) <= 20000),
    -- The reference accepts any JavaScript safe integer (up to 2^53 - 1).
    thought_number       bigint NOT NULL CHECK (thought_number >= 1),
    total_thoughts       bigint NOT NULL CHECK (total_thoughts >= thought_number),
    next_thought_needed  boolean NOT NULL,
    is_revision          boolean,
    revises_thought      bigint CHECK (revises_thought >= 1),
    branch_from_thought  bigint CHECK (branch_from_thought >= 1),
    branch_id            text CHECK (length(branch_id) <= 200),
    needs_more_thoughts  boolean,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sequential_thoughts_user_idx ON sequential_thoughts (user_id, id);

SELECT enable_tenant_rls('sequential_thoughts');

-- Thoughts are never edited: a revision is a thought of its own.
GRANT SELECT, INSERT, DELETE ON sequential_thoughts TO auralink_app;

-- The reference Memory server answers with entities and relations in the order they were
-- created; uuids and a transaction's timestamp cannot give that order back.
ALTER TABLE memory_entities ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE memory_relations ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
CREATE INDEX memory_entities_user_seq_idx ON memory_entities (user_id, seq);
CREATE INDEX memory_relations_user_seq_idx ON memory_relations (user_id, seq);
