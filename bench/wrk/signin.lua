-- POST /signin with the bench account's right password.
dofile(os.getenv("BENCH_WRK") .. "/common.lua")
wrk.method = "POST"
wrk.path = "/signin"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"email":"%s","password":"%s"}', os.getenv("BENCH_EMAIL"), os.getenv("BENCH_PASSWORD"))

function response(status)
  count(status)
end
