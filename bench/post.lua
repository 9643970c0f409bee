-- wrk script: POSTs a JSON body (WRK_BODY, or a default message) on every keep-alive connection.
-- With WRK_LIMIT=n the (single) thread stops after n responses.
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY") or '{"content":"benchmark message from wrk"}'
wrk.headers["Content-Type"] = "application/json"

local limit = tonumber(os.getenv("WRK_LIMIT") or "0")
if limit > 0 then
  local seen = 0
  function response(status, headers, body)
    seen = seen + 1
    if seen >= limit then wrk.thread:stop() end
  end
end
