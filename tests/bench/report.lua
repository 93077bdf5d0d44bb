-- wrk script for tests/bench/run: prints one machine-readable summary line
-- ("BENCH key=value ...") after wrk's own report.
--
-- With BENCH_PACE_MS set (a mean interval in ms, fractional allowed), each
-- connection waits that long between requests (wrk's delay() hook, whole
-- milliseconds, rounded at random so the mean is right): a paced, closed-loop
-- load for latency at a given rate when wrk2 is not available. It does not
-- correct for coordinated omission, as wrk2 does.

local pace = tonumber(os.getenv("BENCH_PACE_MS") or "")

if pace ~= nil and pace > 0 then
  math.randomseed(os.time())
  local whole = math.floor(pace)
  local frac = pace - whole
  delay = function()
    if math.random() < frac then
      return whole + 1
    end
    return whole
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d bytes=%d duration_us=%d err_connect=%d err_read=%d " ..
    "err_write=%d err_status=%d err_timeout=%d p50_us=%.1f p90_us=%.1f " ..
    "p99_us=%.1f max_us=%.1f\n",
    summary.requests, summary.bytes, summary.duration, e.connect, e.read,
    e.write, e.status, e.timeout, latency:percentile(50.0),
    latency:percentile(90.0), latency:percentile(99.0), latency.max))
end
