-- Shared by the wrk scripts: counts answers by status, printed at the end.
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

statuses = {}

function count(status)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    table.insert(parts, string.format("%s=%d", status, n))
  end
  table.sort(parts)
  io.write(string.format("STATUS %s\n", table.concat(parts, " ")))
  io.write(string.format("LATENCY p50=%.2fms p99=%.2fms max=%.2fms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end

-- This thread's share of the refresh tokens in REFRESH_FILE (one per line), as a queue.
function refresh_tokens()
  local queue, line_no = {}, 0
  local threads = tonumber(os.getenv("BENCH_THREADS") or "2")
  for line in io.lines(os.getenv("REFRESH_FILE")) do
    line_no = line_no + 1
    if line_no % threads == id - 1 then
      table.insert(queue, line)
    end
  end
  return queue
end

-- Keeps the refresh token an answer carries, for a later request.
function keep_refresh_token(queue, body)
  local token = string.match(body, '"refresh_token":"([^"]+)"')
  if token then
    table.insert(queue, token)
  end
end
