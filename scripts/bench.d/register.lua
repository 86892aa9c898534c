-- POST /api/register with a new name every time (thread id + counter + run tag).
local counter = 1
local threads = {}
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
local n = 0
local tag = os.getenv("BENCH_TAG") or "x"
local password = os.getenv("BENCH_PASSWORD")
request = function()
  n = n + 1
  local body = string.format('{"username":"reg%s_%d_%d","password":"%s"}', tag, id, n, password)
  return wrk.format("POST", "/api/register", { ["Content-Type"] = "application/json" }, body)
end
