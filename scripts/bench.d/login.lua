-- POST /api/login cycling over the benchmark's users, with the right password.
local users = tonumber(os.getenv("BENCH_USERS") or "16")
local password = os.getenv("BENCH_PASSWORD")
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"username":"bench%d","password":"%s"}', n % users, password)
  return wrk.format("POST", "/api/login", { ["Content-Type"] = "application/json" }, body)
end
