-- One request, described by the environment, so that the same load reaches fastauth and its
-- peers: LOAD_METHOD, LOAD_PATH, LOAD_TYPE (content type), LOAD_BODY, where each "{n}" becomes
-- a value no other request of the run has, and LOAD_HEADER ("Name: value"), all optional.
dofile(os.getenv("BENCH_WRK") .. "/common.lua")

-- An unset or empty variable is absent.
local function env(name)
  local value = os.getenv(name)
  if value ~= "" then
    return value
  end
end

local method = env("LOAD_METHOD") or "GET"
local path = env("LOAD_PATH") or "/"
local body = env("LOAD_BODY")
local run = env("BENCH_RUN") or "0"
local headers = {}
if env("LOAD_TYPE") then
  headers["Content-Type"] = env("LOAD_TYPE")
end
local header = env("LOAD_HEADER")
if header then
  local name, value = string.match(header, "^([^:]+):%s*(.*)$")
  headers[name] = value
end
local n = 0

function request()
  n = n + 1
  local this = body and string.gsub(body, "{n}", string.format("%s-%d-%d", run, id, n))
  return wrk.format(method, path, headers, this)
end

function response(status)
  count(status)
end
