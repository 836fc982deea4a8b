-- POST /refresh-token, each request with the refresh token the previous answer gave. Each
-- thread takes its share of the tokens in REFRESH_FILE (one or more per connection).
dofile(os.getenv("BENCH_WRK") .. "/common.lua")
local queue

function init(args)
  queue = refresh_tokens()
end

function request()
  local body = string.format('{"refresh_token":"%s"}', table.remove(queue, 1) or "exhausted")
  return wrk.format("POST", "/refresh-token", { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  count(status)
  keep_refresh_token(queue, body)
end
