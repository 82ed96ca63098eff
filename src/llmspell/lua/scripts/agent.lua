-- Agent (llmspell/lua/globals/agent.py). Called by engine.install_global with the Python
-- functions through the bridge (py), the prelude's table (core) and the bare Python halves
-- (raw); returns the global's table. An agent handle is a table {name = ...} whose methods
-- call the Python half with the agent's name.
local py = ...
local type, setmetatable, rawget, error = type, setmetatable, rawget, error

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

-- Methods that take only the agent.
for _, name in ipairs({"getState", "getConfig", "saveState", "loadState", "deleteState",
                       "getStateHistory", "getStateMetrics", "getLastError",
                       "getRecoveryAttempts", "getMetrics", "getHealth", "getPerformance",
                       "discoverTools", "getAllToolMetadata", "initialize", "start", "pause",
                       "resume", "stop", "terminate", "recover", "getConversation",
                       "clearConversation"}) do
  local f = py[name]
  methods[name] = function(h) return f(self_name(h, name)) end
end
methods.getAgentState = methods.getState

function methods.invoke(h, input) return py.invoke(self_name(h, "invoke"), input) end
function methods.execute(h, input) return py.invoke(self_name(h, "execute"), input) end
function methods.executeWithContext(h, input, context)
  return py.executeWithContext(self_name(h, "executeWithContext"), input, context)
end
function methods.invokeStream(h, input, fn)
  return py.invokeStream(self_name(h, "invokeStream"), input, fn)
end
function methods.setError(h, message) return py.setError(self_name(h, "setError"), message) end
function methods.hasTool(h, tool) return py.hasTool(self_name(h, "hasTool"), tool) end
function methods.getToolMetadata(h, tool)
  return py.getToolMetadata(self_name(h, "getToolMetadata"), tool)
end
function methods.invokeTool(h, tool, params)
  return py.invokeTool(self_name(h, "invokeTool"), tool, params)
end
function methods.logEvent(h, event_type, data)
  return py.logEvent(self_name(h, "logEvent"), event_type, data)
end
function methods.isHealthy(h) return py.getHealth(self_name(h, "isHealthy")).status == "healthy" end
function methods.destroy(h)
  local name = self_name(h, "destroy")
  handles[name] = nil
  return py.destroy(name)
end

-- A Streaming stream (next/isDone/collect) of the answer's text deltas.
function methods.stream(h, input)
  local id = py.streamOpen(self_name(h, "stream"), input)
  local stream = {_done = false}
  function stream.next(s)
    if s._done then return nil end
    local piece = py.streamNext(id)
    if piece == nil then s._done = true end
    return piece
  end
  function stream.isDone(s) return s._done end
  function stream.collect(s)
    local out = {}
    while not s._done do
      local piece = s:next()
      if piece ~= nil then out[#out + 1] = piece end
    end
    return out
  end
  function stream.close(s) s._done = true; py.streamClose(id) end
  return stream
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
