UPDATE login_throttles SET locked_until_ms = locked_until_ms / 1000;
ALTER TABLE login_throttles RENAME COLUMN locked_until_ms TO locked_until;
