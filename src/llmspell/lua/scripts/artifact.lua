-- Artifact (llmspell/lua/globals/artifact.py). Called by engine.install_global with the
-- Python functions through the bridge (py), the prelude's table (core) and the bare Python
-- halves (raw); returns the global's table.
local py, core = ...
local select, type, rawget = select, type, rawget
local function sid(s)
  if type(s) == "table" then return rawget(s, "id") or s end
  return s
end

-- What store/storeFile return: an artifact id handle. Its string form is our id (tostring,
-- .., ==, string methods act on it); its fields are rs-llmspell's id (content_hash,
-- session_id, sequence) beside ours (id, name, version). To Python (State.save,
-- JSON.stringify, any call) it is its id string.
local handle, _, MT = core.id_kind("ArtifactId", {})
core.id_handle(MT)
-- An artifact table's id as the id handle, so `a.id == Artifact.store(...)` holds.
local function with_handle(a)
  if a ~= nil then
    a.id = handle({id = a.id, name = a.name, version = a.version, content_hash = a.content_hash,
                   session_id = a.session_id, sequence = a.version})
  end
  return a
end
local function with_handles(list)
  for i = 1, #list do with_handle(list[i]) end
  return list
end
-- An artifact reference: a handle or artifact table gives its id; rs-llmspell's id table
-- (content_hash, session_id, sequence) without one goes to Python as it is.
local function ref(r)
  if type(r) == "table" then return rawget(r, "id") or r end
  return r
end

local Artifact = {}
function Artifact.store(...)
  local n = select("#", ...)
  local s, a, b, c, d = ...
  if n >= 5 or (n == 4 and type(c) == "string") then
    return handle(py.store(sid(s), b, c, d, a))  -- rs-llmspell: (session, type, name, ...)
  end
  return handle(py.store(sid(s), a, b, c, nil))   -- the seed: (session, name, content, meta)
end
function Artifact.storeFile(s, path, a, b)
  if type(a) == "string" then return handle(py.storeFile(sid(s), path, b, a)) end
  return handle(py.storeFile(sid(s), path, a, nil))
end
function Artifact.get(s, r, version) return with_handle(py.get(sid(s), ref(r), version)) end
function Artifact.getContent(s, r, version) return py.getContent(sid(s), ref(r), version) end
function Artifact.list(s, filter) return with_handles(py.list(sid(s), filter)) end
function Artifact.query(filter) return with_handles(py.query(filter)) end
function Artifact.versions(s, name) return with_handles(py.versions(sid(s), name)) end
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
