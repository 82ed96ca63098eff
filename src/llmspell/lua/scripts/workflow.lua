-- Workflow (llmspell/lua/globals/workflow.py). Called by engine.install_global with the
-- Python functions through the bridge (py), the prelude's table (core) and the bare Python
-- halves (raw); returns the global's table. A workflow handle is a table {id, name, type}
-- whose methods call the Python half with the workflow's id.
local py = ...
local type, setmetatable, rawget, error, ipairs = type, setmetatable, rawget, error, ipairs

local methods = {}
local MT = {
  __name = "Workflow", __index = methods,
  __tostring = function(h) return "Workflow(" .. rawget(h, "name") .. ")" end,
}

local function handle(info)
  if info == nil then return nil end
  return setmetatable({id = info.id, name = info.name, type = info.type}, MT)
end

local function self_id(h, method)
  if type(h) ~= "table" or rawget(h, "id") == nil then
    error("ValidationError: argument 'self': workflow:" .. method .. "(...) must be called "
      .. "with ':' on a workflow handle", 3)
  end
  return rawget(h, "id")
end

function methods.execute(h, input) return py.execute(self_id(h, "execute"), input) end
function methods.enqueue(h, input, opts)
  return py.enqueue(self_id(h, "enqueue"), input, opts)
end
function methods.getInfo(h) return py.getInfo(self_id(h, "getInfo")) end
function methods.getState(h, key) return py.getState(self_id(h, "getState"), key) end
function methods.setState(h, key, value)
  return py.setState(self_id(h, "setState"), key, value)
end
function methods.onBeforeExecute(h, fn) return py.on(self_id(h, "onBeforeExecute"), "before", fn) end
function methods.onAfterExecute(h, fn) return py.on(self_id(h, "onAfterExecute"), "after", fn) end
function methods.onError(h, fn) return py.on(self_id(h, "onError"), "error", fn) end
function methods.validate(h) return py.validate(self_id(h, "validate")) end
function methods.getMetrics(h) return py.getMetrics(self_id(h, "getMetrics")) end
function methods.debug(h) return py.debug(self_id(h, "debug")) end
function methods.emit(h, name, data) return py.emit(self_id(h, "emit"), name, data) end

local Workflow = {
  list = py.list, types = py.types, remove = py.remove, resume = py.resume,
  cancel = py.cancel, runs = py.runs, run = py.run,
  setDefaultErrorHandler = py.setDefaultErrorHandler, enableDebug = py.enableDebug,
  isDebugEnabled = py.isDebugEnabled,
}
for _, kind in ipairs({"sequential", "parallel", "conditional", "loop"}) do
  Workflow[kind] = function(config) return handle(py.create(kind, config)) end
end
-- rs-llmspell's register(type, config) and get(id): handles as the constructors give them.
function Workflow.register(kind, config) return handle(py.create(kind, config)) end
function Workflow.get(ref) return handle(py.get(ref)) end
-- Workflow.enqueue(workflow, input, opts): as wf:enqueue(input, opts), for a handle or a name.
function Workflow.enqueue(ref, input, opts)
  if type(ref) == "table" then ref = rawget(ref, "id") end
  return py.enqueue(ref, input, opts)
end
return Workflow
