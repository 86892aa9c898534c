-- The confusable skeleton (Unicode TS #39) of `username_key`: two names that look the same
-- ("inputuser" with a Latin s and with a Cyrillic ѕ, "paypal" and "paypaI") have one skeleton,
-- and this unique index lets only the first register. Rows from before this migration are
-- filled in by the server at start-up (SQL cannot compute a skeleton); until then they are NULL,
-- which a unique index lets repeat.
ALTER TABLE users ADD COLUMN username_skeleton TEXT;
CREATE UNIQUE INDEX users_username_skeleton_idx ON users (username_skeleton);
