-- Tests examples/argocd/health.lua the way Argo CD runs it: a chunk with a global `obj`,
-- returning {status, message}. Usage: lua health_test.lua path/to/health.lua
-- Runs on Lua 5.1 (what Argo CD's gopher-lua implements) and 5.4.
local path = arg[1] or "examples/argocd/health.lua"
local chunk = assert(loadfile(path))

local function condition(type_, status, message)
  return { type = type_, status = status, reason = "Test", message = message or "",
           lastTransitionTime = "2025-01-01T00:00:00Z" }
end

local function library(generation, status)
  return { apiVersion = "manofwar.io/v1alpha1", kind = "MediaLibrary",
           metadata = { name = "movies", namespace = "media", generation = generation },
           spec = { profiles = { "standard" } }, status = status }
end

local cases = {
  { "no status yet", library(1, nil), "Progressing" },
  { "no conditions yet", library(1, { observedGeneration = 1 }), "Progressing" },
  { "ready", library(2, { observedGeneration = 2, conditions = {
      condition("Ready", "True", "12 items ready"), condition("Reconciling", "False"),
      condition("Stalled", "False") } }), "Healthy", "12 items ready" },
  { "ready but a newer generation is unobserved", library(3, { observedGeneration = 2,
      conditions = { condition("Ready", "True") } }), "Progressing", "generation 3" },
  { "stalled", library(1, { observedGeneration = 1, conditions = {
      condition("Ready", "False", "profile hevc-4k not found"),
      condition("Stalled", "True", "TranscodeProfile hevc-4k not found") } }),
    "Degraded", "hevc-4k not found" },
  { "stalled wins over ready", library(1, { observedGeneration = 1, conditions = {
      condition("Ready", "True"), condition("Stalled", "True") } }), "Degraded", "Stalled" },
  { "reconciling", library(1, { observedGeneration = 1, conditions = {
      condition("Ready", "False", "3 items pending"),
      condition("Reconciling", "True", "transcoding 3 items") } }),
    "Progressing", "transcoding 3 items" },
  { "ready unknown", library(1, { observedGeneration = 1, conditions = {
      condition("Ready", "Unknown", "first reconcile") } }), "Progressing", "first reconcile" },
  { "no generation in metadata", { metadata = {}, status = { conditions = {
      condition("Ready", "True") } } }, "Healthy" },
}

local failed = 0
for _, case in ipairs(cases) do
  local name, object, want_status, want_message = case[1], case[2], case[3], case[4]
  obj = object -- luacheck: ignore (Argo CD passes the resource as the global `obj`)
  local ok, hs = pcall(chunk)
  local problem
  if not ok then
    problem = "error: " .. tostring(hs)
  elseif type(hs) ~= "table" then
    problem = "returned " .. type(hs)
  elseif hs.status ~= want_status then
    problem = "status " .. tostring(hs.status) .. ", want " .. want_status
  elseif want_message and not string.find(hs.message or "", want_message, 1, true) then
    problem = "message " .. string.format("%q", tostring(hs.message)) .. " lacks " .. want_message
  elseif type(hs.message) ~= "string" then
    problem = "no message"
  end
  if problem then
    failed = failed + 1
    print("FAIL " .. name .. ": " .. problem)
  else
    print("ok   " .. name .. " -> " .. hs.status)
  end
end
print(string.format("%s: %d cases, %d failed", _VERSION, #cases, failed))
os.exit(failed == 0 and 0 or 1)
