-- A lock's end in milliseconds: in whole seconds, a "2 s" lock set late in a second lasted about
-- one second and a bit.
ALTER TABLE login_throttles RENAME COLUMN locked_until TO locked_until_ms;
UPDATE login_throttles SET locked_until_ms = locked_until_ms * 1000;
