-- Counting the keys of one source in one state (Keys pane with both
-- filters) reads this index instead of every key in that state.
CREATE INDEX keys_by_state_source ON keys(state, source);
