-- Artifact (llmspell/lua/globals/artifact.py). Called by engine.install_global with the
-- Python functions through the bridge (py), the prelude's table (core) and the bare Python
-- halves (raw); returns the global's table.
local py = ...
local select, type, rawget = select, type, rawget
local function sid(s)
  if type(s) == "table" then return rawget(s, "id") or s end
  return s
end
local ref = sid

local Artifact = {}
function Artifact.store(...)
  local n = select("#", ...)
  local s, a, b, c, d = ...
  if n >= 5 or (n == 4 and type(c) == "string") then
    return py.store(sid(s), b, c, d, a)   -- rs-llmspell: (session, type, name, content, meta)
  end
  return py.store(sid(s), a, b, c, nil)   -- the seed: (session, name, content, meta)
end
function Artifact.storeFile(s, path, a, b)
  if type(a) == "string" then return py.storeFile(sid(s), path, b, a) end
  return py.storeFile(sid(s), path, a, nil)
end
function Artifact.get(s, r, version) return py.get(sid(s), ref(r), version) end
function Artifact.getContent(s, r, version) return py.getContent(sid(s), ref(r), version) end
function Artifact.list(s, filter) return py.list(sid(s), filter) end
function Artifact.query(filter) return py.query(filter) end
function Artifact.versions(s, name) return py.versions(sid(s), name) end
function Artifact.delete(s, r, version) return py.delete(sid(s), ref(r), version) end
function Artifact.grant(owner, grantee, access)
  return py.grant(sid(owner), sid(grantee), access)
end
function Artifact.revoke(owner, grantee) return py.revoke(sid(owner), sid(grantee)) end
function Artifact.grants(owner) return py.grants(sid(owner)) end
function Artifact.setAutoCollect(s, enabled) return py.setAutoCollect(sid(s), enabled) end
Artifact.store_file, Artifact.get_content = Artifact.storeFile, Artifact.getContent
Artifact.set_auto_collect = Artifact.setAutoCollect
return Artifact
