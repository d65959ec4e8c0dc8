-- 1 KiB POST bodies; prints one JSON line of results when wrk is done.
-- WRK_RATE (optional, req/s for this wrk thread; run wrk with -t1): hold a fixed rate, since
-- wrk2 is not in Debian. Each connection pauses before its next request; the mean pause starts at
-- WRK_DELAY_MS and is corrected once a second (os.time() is the only clock wrk's Lua has) so
-- that the requests sent per second meet the target despite the target's own latency. Each
-- pause is drawn from an exponential distribution with that mean: with equal pauses the
-- connections fall into step (answers that come back together leave together) and the target
-- sees bursts of up to 16 requests every 16 ms instead of a steady 1,000 req/s.
wrk.method = "POST"
wrk.body = string.rep("a", 1024)
wrk.headers["Content-Type"] = "application/octet-stream"

local rate = tonumber(os.getenv("WRK_RATE") or "0")
local connections = tonumber(os.getenv("WRK_CONNECTIONS") or "1")
local pause = tonumber(os.getenv("WRK_DELAY_MS") or "0")
if rate > 0 then
  math.randomseed(20261207) -- the same draws every run
  local second = os.time()
  local sent = 0
  local boundaries = 0
  function delay()
    local now = os.time()
    if now ~= second then
      boundaries = boundaries + 1
      -- The first second is partial; from then on, cycle = pause + latency per connection, so
      -- move the pause by the gap between the target cycle and the achieved one.
      if boundaries > 1 and sent > 0 then
        pause = pause + connections * 1000 / rate - connections * 1000 / sent
        if pause < 0 then pause = 0 end
      end
      second = now
      sent = 0
    end
    sent = sent + 1
    -- 1 - random() is in (0, 1]: the log is finite.
    return math.floor(-pause * math.log(1 - math.random()) + 0.5)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"requests":%d,"durationUs":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d,"meanUs":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
