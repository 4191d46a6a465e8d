-- Argo CD health check for manofwar.io kinds (MediaLibrary, TranscodeProfile, PeerGroup).
-- Install it as resource.customizations.health.manofwar.io_<Kind> in argocd-cm (see
-- argocd-cm.yaml). Lua 5.1 compatible, as Argo CD runs gopher-lua.
--   stale status (observedGeneration != generation)  -> Progressing
--   Stalled=True                                     -> Degraded
--   Ready=True                                       -> Healthy
--   anything else                                    -> Progressing
local hs = { status = "Progressing", message = "Waiting for the manofwar operator" }
if obj.status == nil then
  return hs
end
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= generation then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end
local conditions = {}
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    conditions[condition.type] = condition
  end
end
local function message(condition, fallback)
  if condition.message ~= nil and condition.message ~= "" then
    return condition.message
  end
  return fallback
end
local stalled = conditions["Stalled"]
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = message(stalled, "Stalled")
  return hs
end
local ready = conditions["Ready"]
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = message(ready, "Ready")
  return hs
end
local reconciling = conditions["Reconciling"]
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = message(reconciling, "Reconciling")
elseif ready ~= nil then
  hs.message = message(ready, "Not ready")
end
return hs
