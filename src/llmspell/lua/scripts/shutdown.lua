-- Drops every reference the Lua state holds when the engine closes (llmspell/lua/engine.py).
local core, loaded, globals = ...
local pairs, collectgarbage = pairs, collectgarbage
for name in pairs(loaded) do loaded[name] = nil end
for name in pairs(globals) do globals[name] = nil end
collectgarbage("collect")
