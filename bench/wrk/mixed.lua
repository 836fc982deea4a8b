-- 90 % GET /token, 8 % refresh (chained as in refresh.lua), 2 % sign-in.
dofile(os.getenv("BENCH_WRK") .. "/common.lua")
local queue
local token = os.getenv("TOKEN")
local signin = string.format('{"email":"%s","password":"%s"}', os.getenv("BENCH_EMAIL"), os.getenv("BENCH_PASSWORD"))
local json = { ["Content-Type"] = "application/json" }

function init(args)
  queue = refresh_tokens()
end

function request()
  local r = math.random(100)
  if r <= 2 then
    return wrk.format("POST", "/signin", json, signin)
  elseif r <= 10 and #queue > 0 then
    return wrk.format("POST", "/refresh-token", json, string.format('{"refresh_token":"%s"}', table.remove(queue, 1)))
  end
  return wrk.format("GET", "/token", { ["Authorization"] = "Bearer " .. token })
end

function response(status, headers, body)
  count(status)
  -- Only refresh answers: sign-in answers (they name the user_id) are of the sign-in account,
  -- whose oldest sessions MAX_SESSIONS_PER_USER keeps ending.
  if not string.find(body, '"user_id"', 1, true) then
    keep_refresh_token(queue, body)
  end
end
