-- wrk script for bench/loadgen.py: each wrk thread (one connection) GETs its own path with its own session
-- cookie. Any status other than 200 is counted and reported.
--
--   wrk -t N -c N -s bench/wrk_session.lua http://127.0.0.1:PORT -- REQUESTS UA PATH1 COOKIE1 PATH2 COOKIE2 ...
--
-- REQUESTS is each thread's share; a COOKIE of "-" sends none. Each thread prints "start <id>" before its first
-- request, "r" after each response and "stop <id>" after its share of responses, and goes on (so the load stays at N connections until the
-- end); loadgen.py ends wrk with SIGINT once every thread has printed "stop" (wrk itself would run for its whole -d
-- duration). A thread does not call thread:stop(): against a server that closes each connection (gunicorn's sync
-- workers), wrk reconnects after the last response and the stopped thread would leave an idle connection holding a
-- worker. done() prints one line "result {json}": latency percentiles in microseconds from wrk's histogram,
-- requests, errors, and the non-200 count.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  limit = tonumber(args[1])
  local agent = args[2]
  local path = args[1 + 2 * id]
  local cookie = args[2 + 2 * id]
  local headers = { ["User-Agent"] = agent, ["Accept"] = "text/html" }
  if cookie ~= nil and cookie ~= "-" then
    headers["Cookie"] = cookie
  end
  req = wrk.format("GET", path, headers)
  done_count = 0
  bad = 0
  first_status = 0
  started = false
end

function request()
  if not started then
    started = true
    io.write("start " .. id .. "\n")
    io.flush()
  end
  return req
end

function response(status, headers, body)
  done_count = done_count + 1
  io.write("r\n")  -- one line per response: loadgen.py counts the responses inside its timed window
  if status ~= 200 then
    bad = bad + 1
    if first_status == 0 then first_status = status end
  end
  if done_count == limit then
    io.write("stop " .. id .. "\n")
  end
  io.flush()
end

function done(summary, latency, requests)
  local bad_total, first = 0, 0
  for _, thread in ipairs(threads) do
    bad_total = bad_total + thread:get("bad")
    local s = thread:get("first_status")
    if first == 0 and s ~= 0 then first = s end
  end
  local e = summary.errors
  io.write(string.format(
    'result {"p50": %d, "p95": %d, "p99": %d, "mean": %f, "max": %d, "requests": %d, "duration_us": %d, ' ..
    '"bad_status": %d, "first_bad_status": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d}}\n',
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean, latency.max,
    summary.requests, summary.duration, bad_total, first, e.connect, e.read, e.write, e.status, e.timeout))
  io.flush()
end
