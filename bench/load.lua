-- wrk script for bench/js/load.mjs: the request comes from the environment (BENCH_METHOD,
-- BENCH_BODY, BENCH_COOKIE), every status is counted per class, and the summary is printed as
-- one JSON line that load.mjs reads.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = os.getenv("BENCH_METHOD") or "GET"
  local body = os.getenv("BENCH_BODY")
  if body and body ~= "" then
    wrk.body = body
    wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"
  end
  local cookie = os.getenv("BENCH_COOKIE")
  if cookie and cookie ~= "" then
    wrk.headers["Cookie"] = cookie
  end
  wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"
  s2, s4, s5 = 0, 0, 0
end

function response(status, headers, body)
  if status >= 500 then
    s5 = s5 + 1
  elseif status >= 400 then
    s4 = s4 + 1
  else
    s2 = s2 + 1
  end
end

function done(summary, latency, requests)
  local t2, t4, t5 = 0, 0, 0
  for _, t in ipairs(threads) do
    t2 = t2 + t:get("s2")
    t4 = t4 + t:get("s4")
    t5 = t5 + t:get("s5")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "ok": %d, "status_4xx": %d, "status_5xx": %d, "socket_errors": %d, "timeouts": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}\n',
    summary.requests, t2, t4, t5, e.connect + e.read + e.write, e.timeout,
    summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
