-- POST /signup with a new email each time.
dofile(os.getenv("BENCH_WRK") .. "/common.lua")
local n = 0
local run = os.getenv("BENCH_RUN") or "0"

function request()
  n = n + 1
  local body = string.format(
    '{"firstname":"Bench","lastname":"User","email":"b-%s-%d-%d@example.com","password":"%s"}',
    run, id, n, os.getenv("BENCH_PASSWORD"))
  return wrk.format("POST", "/signup", { ["Content-Type"] = "application/json" }, body)
end

function response(status)
  count(status)
end
