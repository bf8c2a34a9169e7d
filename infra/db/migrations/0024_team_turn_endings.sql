-- How a team run's last saved turn ended, when it ended the step: {"waiting": {"node", "prompt"}}
-- (a member asked the person) or {"stop": <reason>} (a text mention, the graph's end). A step that
-- dies after saving that turn and before the run records its outcome is done again; it reads this
-- to give the same outcome, rather than run a turn the team never asked for.
ALTER TABLE team_conversations
    ADD COLUMN turn_ending jsonb CHECK (turn_ending IS NULL OR jsonb_typeof(turn_ending) = 'object');
