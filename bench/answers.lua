-- wrk script for the answer-path benchmark (bench/answers.sh). Each wrk thread sends its own
-- file of pre-signed `view_submission` requests, one line each: timestamp, signature, body.
-- For trustpulse a request is never sent twice: a thread that runs out stops, and the run is
-- reported as short of invitees rather than measuring "already answered" refusals. The floor
-- records nothing, so it cycles through its requests ("wrap").
--
-- Arguments: the files' prefix, "stop" or "wrap", and how many threads wrk runs.
--
-- Every thread starts sending at once. wrk loads each thread's script (`init`, here hundreds
-- of megabytes of requests) and starts that thread before it loads the next one's, and times
-- the run only from when the last has started. Without the gate below, the first thread sent
-- alone for the seconds the second one loaded, on the core that loading used, and its answers
-- counted in a run that was timed without them (rates one and a half times too high).

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

local ffi = require("ffi")
ffi.cdef [[ int usleep(unsigned int usec); ]]

local requests = {}
local sent = 0
local wrap = false
local last_thread = false
local gate = nil
local calls = 0
failed = 0
ran_out = 0

function init(args)
   wrap = args[2] == "wrap"
   local thread_count = tonumber(args[3]) or error("answers.lua: pass how many threads wrk runs")
   last_thread = id == thread_count - 1
   gate = args[1] .. "-go"
   local path = args[1] .. "-" .. id .. ".txt"
   for line in io.lines(path) do
      local ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
      requests[#requests + 1] = wrk.format("POST", "/slack/interactions", {
         ["Content-Type"] = "application/x-www-form-urlencoded",
         ["X-Slack-Request-Timestamp"] = ts,
         ["X-Slack-Signature"] = sig,
      }, body)
   end
end

-- The last thread to start opens the gate (a file); the others wait at their first request
-- until it is there. wrk's main thread calls the first thread's `request` once before it starts
-- any thread (to check the request parses), which must not wait.
local function through_the_gate()
   if last_thread then
      assert(io.open(gate, "w")):close()
      return
   end
   local since = os.time()
   while true do
      local open = io.open(gate, "r")
      if open then
         open:close()
         return
      end
      if os.time() - since > 120 then
         error("answers.lua: the last wrk thread did not start within 120 s")
      end
      ffi.C.usleep(200)
   end
end

function request()
   calls = calls + 1
   if calls == 2 or (calls == 1 and id ~= 0) then
      through_the_gate()
   end
   sent = sent + 1
   if sent > #requests then
      if wrap then
         sent = 1
      else
         ran_out = 1
         wrk.thread:stop()
         sent = #requests
      end
   end
   return requests[sent]
end

function response(status, headers, body)
   -- Every request is a first answer: anything but the thanks is a failure.
   if status ~= 200 or not body:find("Thank you", 1, true) then
      failed = failed + 1
   end
end

function done(summary, latency, reqs)
   local failures, short = 0, 0
   for _, thread in ipairs(threads) do
      failures = failures + thread:get("failed")
      short = short + thread:get("ran_out")
   end
   io.write(string.format(
      "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d failed=%d socket_errors=%d ran_out=%d\n",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      failures, summary.errors.connect + summary.errors.read + summary.errors.write
         + summary.errors.status + summary.errors.timeout, short))
end
