-- Agent (llmspell/lua/globals/agent.py). Called by engine.install_global with the Python
-- functions through the bridge (py), the prelude's table (core) and the bare Python halves
-- (raw); returns the global's table. An agent handle is a table {name = ...} whose methods
-- call the Python half with the agent's name.
local py, core, raw = ...
local type, setmetatable, rawget, error, pairs, ipairs, next, select = type, setmetatable,
  rawget, error, pairs, ipairs, next, select
local check, getmetatable_raw = core.check, core.getmetatable_raw
local Streaming, yield = Streaming, coroutine.yield   -- installed before this file

local methods = {}
local MT = {
  __name = "Agent", __metatable = "Agent", __index = methods,
  __tostring = function(h) return "Agent(" .. rawget(h, "name") .. ")" end,
}
local handles = setmetatable({}, {__mode = "v"})   -- name -> handle

local function handle(name)
  if name == nil then return nil end
  local h = handles[name]
  if h == nil then
    h = setmetatable({name = name}, MT)
    handles[name] = h
  end
  return h
end

local function self_name(h, method)
  if type(h) ~= "table" or rawget(h, "name") == nil then
    error("ValidationError: argument 'self': agent:" .. method .. "(...) must be called "
      .. "with ':' on an agent handle", 2)
  end
  return rawget(h, "name")
end

-- Methods: each calls the Python function of the same name (or the one given) with the
-- agent's name and the method's own arguments.
local forward = {
  invoke = false, execute = false, getAgentState = "getState",
  isHealthy = false, destroy = false, stream = false,
}
for _, name in ipairs({"getState", "getConfig", "saveState", "loadState", "deleteState",
                       "getStateHistory", "getStateMetrics", "getLastError",
                       "getRecoveryAttempts", "getMetrics", "getHealth", "getPerformance",
                       "discoverTools", "getAllToolMetadata", "initialize", "start", "pause",
                       "resume", "stop", "terminate", "recover", "getConversation",
                       "clearConversation", "executeWithContext", "invokeStream", "setError",
                       "hasTool", "getToolMetadata", "invokeTool", "logEvent"}) do
  forward[name] = name
end
for method, target in pairs(forward) do
  if target then
    local f = py[target]
    methods[method] = function(h, ...) return f(self_name(h, method), ...) end
  end
end

-- invoke and execute. A lone {text = "..."} (no metatable, string text) goes as its string
-- (invokeText), the same request without the table's conversion (~45k instructions,
-- callgrind); any other input goes as it is.
local invoke, invoke_text = raw.invoke, raw.invokeText
local function invoker(method)
  return function(h, input, ...)
    local name = self_name(h, method)
    if type(input) == "table" and select("#", ...) == 0 and getmetatable_raw(input) == nil then
      local key, text = next(input)
      if key == "text" and type(text) == "string" and next(input, key) == nil then
        return check(invoke_text(name, text))
      end
    end
    return check(invoke(name, input, ...))
  end
end
methods.invoke, methods.execute = invoker("invoke"), invoker("execute")

function methods.isHealthy(h) return py.getHealth(self_name(h, "isHealthy")).status == "healthy" end
function methods.destroy(h)
  local name = self_name(h, "destroy")
  handles[name] = nil
  return py.destroy(name)
end

-- The answer's text deltas as a Streaming stream (next/isDone/collect).
function methods.stream(h, input)
  local id = py.streamOpen(self_name(h, "stream"), input)
  local next_piece = py.streamNext
  return Streaming.create(function()
    local piece = next_piece(id)
    while piece ~= nil do
      yield(piece)
      piece = next_piece(id)
    end
  end)
end

local Agent = {}
function Agent.create(opts) return handle(py.create(opts)) end
function Agent.register(opts) return py.create(opts) end
function Agent.get(name)
  if py.exists(name) then return handle(name) end
  return nil
end
function Agent.list()
  local names, out = py.list(), {}
  for i = 1, #names do out[i] = {name = names[i]} end
  return out
end
function Agent.listInstances() return py.list() end
Agent.discover = py.discover
Agent.getInfo = py.getInfo
Agent.getDetails = py.getInfo
function Agent.listTemplates() return {} end
function Agent.destroy(agent)
  local name = type(agent) == "table" and rawget(agent, "name") or agent
  handles[name] = nil
  return py.destroy(name)
end
Agent.remove = Agent.destroy
return Agent
