-- The engine's private helpers, run before anything else touches the Lua state (see
-- llmspell/lua/prelude.py). Called with the chunk-name prefix of the bridge's own files.
local error, select, type, tostring, pcall, xpcall = error, select, type, tostring, pcall, xpcall
local setmetatable, rawget = setmetatable, rawget
local getmetatable_raw, getinfo, traceback = debug.getmetatable, debug.getinfo, debug.traceback
local BUNDLED = ...
local format, sub = string.format, string.sub

local core = {
  sethook = debug.sethook, getinfo = getinfo, BUNDLED = BUNDLED, traceback = traceback,
  load = load, getmetatable_raw = getmetatable_raw,
  pcall = pcall, xpcall = xpcall, setmetatable = setmetatable, tostring = tostring,
  create = coroutine.create, co_wrap = coroutine.wrap, resume = coroutine.resume,
  running = coroutine.running, status = coroutine.status, concat = table.concat,
  io_open = io.open, io_lines = io.lines, io_input = io.input, io_output = io.output,
  io_write = io.write, io_stdout = io.stdout, os_remove = os.remove, os_rename = os.rename,
}

local ARRAY_MT = {__metatable = "JSON.array", __name = "JSON.array"}
local NULL = setmetatable({}, {
  __metatable = "JSON.null", __name = "JSON.null",
  __tostring = function() return "null" end,
  __newindex = function() error("ValidationError: JSON.null cannot be modified", 0) end,
})
core.ARRAY_MT, core.NULL = ARRAY_MT, NULL
-- Metatables of handles that stand for an id string (artifact ids): the converter gives
-- Python the handle's ``id`` field, so a handle saved, stringified or passed on is its id.
local ID_HANDLES = {}
function core.id_handle(mt) ID_HANDLES[mt] = true return mt end

-- A kind of handle that stands for an id (sessions, artifact ids): interned per id, so two
-- handles of one id are the same table and == holds; tostring, .. and # act on the id, and so
-- do the string library's functions as methods (`h:sub(1, 8)`), after `methods`. Returns
-- handle(record) (nil for nil; the record's fields replace the handle's), unwrap(x) (the id
-- of a handle, else x), the metatable and existing(id) (the live handle of an id, or nil).
local strings, pairs_, rawset_ = string, pairs, rawset
function core.id_kind(name, methods)
  local handles = setmetatable({}, {__mode = "v"})   -- id -> handle
  local is_handle = setmetatable({}, {__mode = "k"})
  local function unwrap(x) if is_handle[x] then return rawget(x, "id") end return x end
  local on_id = {}
  local mt = {
    __name = name, __metatable = name,
    __index = function(_, key)
      local f = methods[key] or on_id[key]
      if f == nil and type(key) == "string" and type(strings[key]) == "function" then
        local g = strings[key]
        f = function(h, ...) return g(unwrap(h), ...) end
        on_id[key] = f
      end
      return f
    end,
    __tostring = function(h) return rawget(h, "id") end,
    __concat = function(a, b) return unwrap(a) .. unwrap(b) end,
    __len = function(h) return #rawget(h, "id") end,
  }
  local function handle(record)
    if record == nil then return nil end
    local h = handles[record.id]
    if h == nil then
      h = setmetatable({}, mt)
      handles[record.id] = h
      is_handle[h] = true
    else
      for k in pairs_(h) do rawset_(h, k, nil) end
    end
    for k, v in pairs_(record) do rawset_(h, k, v) end
    return h
  end
  local function existing(id) return handles[id] end   -- the live handle of an id, if any
  return handle, unwrap, mt, existing
end

-- For the converter, in one call: the kind (0 plain table, 1 JSON.array, 2 JSON.null), the
-- table's address, and its entries as k1, v1, k2, v2, ... (n = -1: more than SMALL entries,
-- which Python iterates itself); for an id handle, 3 and its id.
local SMALL, buffer, unpack, next = 32, {}, table.unpack, next
local function flush(...)
  for i = 1, select("#", ...) - 3 do buffer[i] = nil end
  return ...
end
function core.inspect(t)
  if t == NULL then return 2 end
  local mt = getmetatable_raw(t)
  local kind = mt == ARRAY_MT and 1 or 0
  if mt ~= nil and ID_HANDLES[mt] then return 3, rawget(t, "id") end
  local n = 0
  for k, v in next, t do
    if n == SMALL then
      for i = 1, 2 * n do buffer[i] = nil end
      return kind, format("%p", t), -1
    end
    buffer[2 * n + 1], buffer[2 * n + 2] = k, v
    n = n + 1
  end
  return flush(kind, format("%p", t), n, unpack(buffer, 1, 2 * n))
end

-- Record builders for the converter (Converter._record in llmspell/lua/convert.py): for one
-- shape of record, a function that takes the record's values in order and returns its table,
-- made by one table constructor (fields presized, one crossing for the whole record). layout:
-- per top-level key, "s" (a value), "a" (an empty JSON.array) or n (a table of n values, whose
-- n keys follow its key in keys...). Keys reach the generated code as values (K[i]), never as
-- source text.
local load, concat = load, table.concat
function core.record_builder(layout, ...)
  local keys, fields, params, k = {...}, {}, {}, 0
  local function field(value)
    k = k + 1
    return "[K[" .. k .. "]]=" .. value
  end
  local function param()
    params[#params + 1] = "a" .. (#params + 1)
    return params[#params]
  end
  for i = 1, #layout do
    local kind = layout[i]
    if kind == "s" then
      fields[i] = field(param())
    elseif kind == "a" then
      fields[i] = field("setmetatable({}, MT)")
    else
      k = k + 1
      local name, inner = "[K[" .. k .. "]]=", {}
      for j = 1, kind do inner[j] = field(param()) end
      fields[i] = name .. "{" .. concat(inner, ",") .. "}"
    end
  end
  local code = "local K, MT, setmetatable = ...\nreturn function(" .. concat(params, ",")
    .. ") return {" .. concat(fields, ",") .. "} end"
  local chunk = load(code, BUNDLED .. "prelude.lua (a record builder)", "t")
  return chunk(keys, ARRAY_MT, setmetatable)
end

-- A Python callable returns (true, results...) or (false, message[, stop]). With ``stop`` the
-- script must end (a limit, os.exit, an interrupt): the limits arm a hook that raises the
-- message at the next instruction and keeps raising it, so pcall cannot swallow it.
local stop_script = function(message) error(message, 0) end
function core.set_stop(f) stop_script = f end

local function check(ok, ...)
  if ok then return ... end
  local message, stop = ...
  if stop then return stop_script(message) end
  error(message, 0)
end

function core.wrap(f)
  return function(...) return check(f(...)) end
end
-- For a global's own Lua code calling a Python half directly (one Lua call less than
-- through its wrap): check(f(...)) raises as the wrapped function would.
core.check = check

-- The message handler of every protected run: the message, where it happened (the first
-- frame that is not the bridge's own code or C) and the traceback. It runs with the limits'
-- hook still armed (see limits.lua), which lets the bridge's own code run.
local function handler(err)
  local message
  if type(err) == "string" then
    message = err
  else
    local mt = getmetatable_raw(err)
    local ok, text = false, nil
    if mt and rawget(mt, "__tostring") then ok, text = pcall(tostring, err) end
    message = ok and type(text) == "string" and text
      or format("(error object is a %s value)", type(err))
  end
  local source, line
  local level = 2
  while true do
    local info = getinfo(level, "Sl")
    if not info then break end
    if info.what ~= "C" and sub(info.source, 1, #BUNDLED) ~= BUNDLED
        and (info.currentline or 0) > 0 then
      source, line = info.source, info.currentline
      break
    end
    level = level + 1
  end
  return {message = message, source = source, line = line, traceback = traceback(message, 2)}
end

-- The engine runs a chunk as core.xpcall(f, core.handler, ...) straight from Python, so no
-- bridge Lua code runs after the script (a tripped hook would fire in it).
core.handler = handler

local stdout = io.stdout
function core.flush() pcall(stdout.flush, stdout) end

function core.compile(code, chunkname, mode)
  return core.load(code, chunkname, mode)
end

return core
