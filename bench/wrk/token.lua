-- GET /token with a bearer token (TOKEN in the environment).
dofile(os.getenv("BENCH_WRK") .. "/common.lua")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.path = "/token"

function response(status)
  count(status)
end
