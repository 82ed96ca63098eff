-- Replay (llmspell/lua/globals/replay.py): rs-llmspell's script surface for replay, on top of
-- Session.replay. Called with the Python functions through the bridge (py) and the prelude's
-- table (core); returns the global's table. Modes, configs, modifications and schedules are
-- plain tables (their fields are what Session.replay reads) with rs-llmspell's methods.
local py = ...
local setmetatable, type, error, tostring = setmetatable, type, error, tostring

local Replay = {}

local MODE = {__index = {name = function(self) return self.name_ end}}
local function mode(name, fields)
  fields.name_ = name
  return setmetatable(fields, MODE)
end
-- exact: every call served from the journal. modified: the same, serving the changed results
-- the config's modifications give. simulate: exact, and the replay session is deleted after.
-- debug: exact, pausing at breakpoints (on_break). live: real calls, results compared.
Replay.modes = {
  exact = mode("exact", {mode = "exact"}),
  modified = mode("modified", {mode = "exact"}),
  simulate = mode("simulate", {mode = "exact", keep = false}),
  debug = mode("debug", {mode = "exact", step = true}),
  live = mode("live", {mode = "live"}),
}

local MODIFICATION = {__index = {
  get_path = function(self) return self.path end,
  get_value = function(self) return self.value end,
  is_enabled = function(self) return self.enabled end,
  set_enabled = function(self, on) self.enabled = on and true or false end,
}}
-- A path is ours, "<seq>.<path in that entry>" (serve a changed recorded result), or
-- rs-llmspell's "context.data.KEY" / "context.metadata.KEY" (set a key in the context of each
-- Lua hook the replayed script runs; metadata values are strings, as in rs-llmspell).
local function modification(path, value, enabled, level)
  local part = type(path) == "string" and path:match("^context%.(%a+)%.[^%.]+$")
  if type(path) ~= "string" or not (path:match("^%d+%.[^%.]")
      or part == "data" or part == "metadata") then
    error("ValidationError: argument 'path': must be '<seq>.<path in the entry>' such as "
      .. "'12.result.output', or 'context.data.KEY' / 'context.metadata.KEY' (got "
      .. tostring(path) .. ")", level)
  end
  if part == "metadata" and type(value) ~= "string" then
    error("ValidationError: argument 'value': a 'context.metadata.KEY' value must be a string "
      .. "(got " .. type(value) .. ")", level)
  end
  return setmetatable({path = path, value = value, enabled = enabled ~= false}, MODIFICATION)
end
function Replay.create_modification(path, value, enabled)
  local m = modification(path, value, enabled, 3)  -- not a tail call: level 3 is the caller
  return m
end

local CONFIG = {__index = {
  get_mode = function(self) return Replay.modes[self.mode_name] end,
  should_compare_results = function(self) return self.compare_results end,
  get_timeout_seconds = function(self) return self.timeout_seconds end,
  should_stop_on_error = function(self) return self.stop_on_error end,
  get_modifications = function(self) return self.modifications end,
  add_modification = function(self, path, value, enabled)
    local m = modification(path, value, enabled, 3)
    self.modifications[#self.modifications + 1] = m
    return m
  end,
}}
function Replay.create_config(m)
  m = m or Replay.modes.exact
  if type(m) ~= "table" or getmetatable(m) ~= MODE then
    error("ValidationError: argument 'mode': must be one of Replay.modes (got "
      .. type(m) .. ")", 2)
  end
  return setmetatable({mode = m.mode, mode_name = m.name_, keep = m.keep, step = m.step,
                       compare_results = true, timeout_seconds = 300, stop_on_error = true,
                       modifications = {}}, CONFIG)
end

local SCHEDULE = {__index = {type_name = function(self) return self.kind end}}
Replay.schedules = {
  once = function(delay) return setmetatable({kind = "once", delay = delay}, SCHEDULE) end,
  interval = function(initial_delay, interval, max_executions)
    return setmetatable({kind = "interval", initial_delay = initial_delay,
                         interval = interval, max_executions = max_executions}, SCHEDULE)
  end,
  cron = function(expression)
    return setmetatable({kind = "cron", expression = expression}, SCHEDULE)
  end,
}

local COMPARATOR = {__index = {compare_json = function(_, a, b) return py.compare(a, b) end}}
function Replay.create_comparator() return setmetatable({}, COMPARATOR) end

-- The run's session as a Session handle (Session.get interns it).
function Replay.record(opts)
  local done = py.record(opts)
  done.session = Session.get(done.session.id)
  return done
end
return Replay
