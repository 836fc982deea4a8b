-- POST /refresh-token, each request with the refresh token the previous answer gave. Each
-- thread takes its share of the tokens in REFRESH_FILE (one per line, one or more per connection).
dofile(os.getenv("BENCH_WRK") .. "/common.lua")
local queue = {}

function init(args)
  local line_no = 0
  local threads = tonumber(os.getenv("BENCH_THREADS") or "2")
  for line in io.lines(os.getenv("REFRESH_FILE")) do
    line_no = line_no + 1
    if line_no % threads == id - 1 then
      table.insert(queue, line)
    end
  end
end

function request()
  local token = table.remove(queue, 1)
  if token == nil then
    token = "exhausted"
  end
  local body = string.format('{"refresh_token":"%s"}', token)
  return wrk.format("POST", "/refresh-token", { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  count(status)
  local token = string.match(body, '"refresh_token":"([^"]+)"')
  if token then
    table.insert(queue, token)
  end
end
