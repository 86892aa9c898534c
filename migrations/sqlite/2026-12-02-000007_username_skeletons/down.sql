DROP INDEX users_username_skeleton_idx;
ALTER TABLE users DROP COLUMN username_skeleton;
