-- A plain GET of the URL's path, counting statuses.
dofile(os.getenv("BENCH_WRK") .. "/common.lua")

function response(status)
  count(status)
end
