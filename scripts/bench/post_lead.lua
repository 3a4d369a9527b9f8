-- wrk script for `POST /api/v1/leads` (used by scripts/bench.sh).
--
-- Every request carries a distinct, valid Russian mobile number, so each one should create a
-- lead (201) rather than be merged into an open lead of the same phone (200, "resubmitted").
--
-- Arguments (after `--` on the wrk command line):
--   1. prefix  three-digit mobile code, e.g. "913". Every `+79XXXXXXXXX` is a valid RU mobile
--              number (libphonenumber: 9\d{9}); scripts/bench.sh picks codes that
--              `cohai-bootstrap generate` does not use and a different one per wrk run.
--   2. offset  per-run offset (scripts/bench.sh passes one derived from the time of day), so
--              two runs against the same database do not reuse numbers.
--   3. first   number of this wrk's first thread (default 0). With BENCH_INSTANCES > 1 one wrk
--              runs per server, all at once on one database; each gets the numbers after the
--              threads of the wrk before it, so their phones differ too.
--   4. clients "many": each request says it comes from an address of its own
--              (`X-Forwarded-For: 10.<thread>.<n>.<n>`, which the server believes from loopback
--              when BENCH_CLIENTS=many sets trusted_proxies), so a rate limit keeps one entry per
--              client as with real visitors; anything else: no header, one client.
-- Phone of thread i (0-based, counting from `first`; at most 10 threads over all the wrk
-- processes), request k:
--   "+7" .. prefix .. %07d(i * 1000000 + (offset + k) % 1000000)
-- distinct across threads, and within a thread for its first million requests.
--
-- At the end it prints the status codes seen, one `BENCH_STATUS <code> <count>` line each, and
-- `BENCH_SENT <n>`: requests built, including those still in flight when wrk stopped (which the
-- server may still complete and store, though wrk never sees their responses).

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("index", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

local prefix, offset, stride
-- Globals: done() reads them from each thread with thread:get().
statuses = {}
counter = 0

function init(args)
   prefix = args[1] or "913"
   offset = tonumber(args[2] or "0")
   -- setup() has set `index` (0-based within this wrk) before init runs in the thread.
   index = index + tonumber(args[3] or "0")
   stride = 1000000
   many_clients = args[4] == "many"
   counter = 0
   statuses = {}
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   local n = index * stride + (offset + counter) % stride
   counter = counter + 1
   local body = '{"name":"Bench","phone":"+7' .. prefix .. string.format("%07d", n)
      .. '","consent":true}'
   if many_clients then
      wrk.headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", index % 256,
         math.floor(counter / 256) % 256, counter % 256)
   end
   return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local totals = {}
   local sent = 0
   for _, thread in ipairs(threads) do
      sent = sent + thread:get("counter")
      local seen = thread:get("statuses")
      for code, count in pairs(seen) do
         totals[code] = (totals[code] or 0) + count
      end
   end
   for code, count in pairs(totals) do
      io.write(string.format("BENCH_STATUS %d %d\n", code, count))
   end
   io.write(string.format("BENCH_SENT %d\n", sent))
end
