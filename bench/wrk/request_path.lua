-- wrk script of bench/request_path.py: one request shape per run, non-2xx responses counted, and one
-- JSON line with the figures printed at the end (prefixed "BENCH_JSON ").
--
-- Configured by environment variables:
--   BENCH_METHOD      request method (default GET)
--   BENCH_BODY        request body, sent with Content-Type: application/json (default: none)
--   BENCH_FRESH_KEY   when set, each request carries its own Idempotency-Key,
--                     "<BENCH_FRESH_KEY>-<thread>-<random>-<n>", never reused within or across threads
--   BENCH_KEY_HEADER  the header that carries it (default Idempotency-Key)
--
--   BENCH_METHOD=POST BENCH_BODY='{"influencerId":"inf_..."}' BENCH_FRESH_KEY=run1 \
--     wrk -t2 -c32 -d10s --latency -s bench/wrk/request_path.lua \
--     -H 'Authorization: Bearer lp_live_...' http://127.0.0.1:8080/v1/projects/<id>/content/ugc-remix

local threads = {}
local thread_count = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("thread_number", thread_count)
   table.insert(threads, thread)
end

-- Per thread (each wrk thread has its own Lua state).
local key_prefix = nil
local key_header = "Idempotency-Key"
local sent = 0
non2xx = 0
statuses = {}
first_error = nil

function init(args)
   wrk.method = os.getenv("BENCH_METHOD") or wrk.method
   local body = os.getenv("BENCH_BODY")
   if body and body ~= "" then
      wrk.body = body
      wrk.headers["Content-Type"] = "application/json"
   end
   key_header = os.getenv("BENCH_KEY_HEADER") or key_header
   local fresh = os.getenv("BENCH_FRESH_KEY")
   if fresh and fresh ~= "" then
      -- Threads start in the same second, so the seed mixes in the thread number and a table address.
      local salt = tonumber(string.match(tostring({}), "0x(%x+)") or "0", 16) or 0
      math.randomseed(os.time() * 1000 + (thread_number or 0) * 7919 + salt % 100000)
      key_prefix = string.format("%s-%d-%08x", fresh, thread_number or 0, math.random(0, 0x7fffffff))
   end
end

function request()
   if key_prefix then
      sent = sent + 1
      wrk.headers[key_header] = key_prefix .. "-" .. sent
   end
   return wrk.format()
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if first_error == nil then
         first_error = tostring(status) .. " " .. string.sub(body or "", 1, 300)
      end
   end
end

local function json_string(s)
   s = string.gsub(s, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end)
   return '"' .. s .. '"'
end

function done(summary, latency, requests)
   local total_non2xx, merged, sample = 0, {}, nil
   for _, thread in ipairs(threads) do
      total_non2xx = total_non2xx + (thread:get("non2xx") or 0)
      for status, n in pairs(thread:get("statuses") or {}) do
         merged[status] = (merged[status] or 0) + n
      end
      sample = sample or thread:get("first_error")
   end
   local parts = {}
   for status, n in pairs(merged) do
      table.insert(parts, string.format('"%d": %d', status, n))
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "non2xx": %d, "statuses": {%s}, '
         .. '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, "status_errors": %d, '
         .. '"latency_us": {"min": %d, "mean": %.1f, "max": %d, "stdev": %.1f, '
         .. '"p50": %d, "p90": %d, "p99": %d, "p999": %d}, "first_error": %s}\n',
      summary.requests, summary.duration, summary.bytes, total_non2xx, table.concat(parts, ", "),
      e.connect, e.read, e.write, e.timeout, e.status,
      latency.min, latency.mean, latency.max, latency.stdev,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
      sample and json_string(sample) or "null"
   ))
end
