-- Config (llmspell/lua/globals/config.py). Called by engine.install_global with the
-- Python functions through the bridge (py), the prelude's table (core) and the bare Python
-- halves (raw); returns the global's table.
local py = ...
local get = py.get
local Config = {}
function Config.get(path, default)
  local found, value = get(path)
  if found then return value end
  return default
end
return Config
