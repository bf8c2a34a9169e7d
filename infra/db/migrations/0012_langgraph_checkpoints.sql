-- LangGraph's checkpoints of workflow runs (langgraph-checkpoint-postgres 3.2: the tables its
-- setup() would create, created here because the service role owns nothing). A checkpoint's
-- thread is the run; each row also carries its owner, filled from the session's caller, so the
-- same row-level security as every user table applies without the library knowing of it.

CREATE TABLE checkpoint_migrations (
    v integer PRIMARY KEY
);
-- The library's migrations 0..9 are what this file creates; setup() is never called, but a
-- checkpointer that reads this table finds the schema current.
INSERT INTO checkpoint_migrations (v) SELECT generate_series(0, 9);

CREATE TABLE checkpoints (
    thread_id             text NOT NULL,
    checkpoint_ns         text NOT NULL DEFAULT '',
    checkpoint_id         text NOT NULL,
    parent_checkpoint_id  text,
    type                  text,
    checkpoint            jsonb NOT NULL,
    metadata              jsonb NOT NULL DEFAULT '{}',
    user_id               text NOT NULL DEFAULT app_current_user_id(),
    created_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
);

CREATE TABLE checkpoint_blobs (
    thread_id      text NOT NULL,
    checkpoint_ns  text NOT NULL DEFAULT '',
    channel        text NOT NULL,
    version        text NOT NULL,
    type           text NOT NULL,
    blob           bytea,
    user_id        text NOT NULL DEFAULT app_current_user_id(),
    PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
);

CREATE TABLE checkpoint_writes (
    thread_id      text NOT NULL,
    checkpoint_ns  text NOT NULL DEFAULT '',
    checkpoint_id  text NOT NULL,
    task_id        text NOT NULL,
    idx            integer NOT NULL,
    channel        text NOT NULL,
    type           text,
    blob           bytea NOT NULL,
    task_path      text NOT NULL DEFAULT '',
    user_id        text NOT NULL DEFAULT app_current_user_id(),
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
);

CREATE INDEX checkpoints_thread_id_idx ON checkpoints (thread_id);
CREATE INDEX checkpoint_blobs_thread_id_idx ON checkpoint_blobs (thread_id);
CREATE INDEX checkpoint_writes_thread_id_idx ON checkpoint_writes (thread_id);

SELECT enable_tenant_rls('checkpoints');
SELECT enable_tenant_rls('checkpoint_blobs');
SELECT enable_tenant_rls('checkpoint_writes');

GRANT SELECT ON checkpoint_migrations TO auralink_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON checkpoints, checkpoint_blobs, checkpoint_writes TO auralink_app;

-- The definition a workflow run executes, copied at its first step (a workflow edited later
-- does not change a graph under its checkpoint), and the workflow's version it came from.
ALTER TABLE workflow_executions
    ADD COLUMN definition jsonb CHECK (definition IS NULL OR jsonb_typeof(definition) = 'object'),
    ADD COLUMN workflow_version integer CHECK (workflow_version IS NULL OR workflow_version >= 1);
