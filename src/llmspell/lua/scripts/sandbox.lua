-- The 'safe' sandbox (llmspell/lua/sandbox.py). Called with the prelude's table, the path
-- guard and the os.getenv check (Python functions).
local core, confine, getenv = ...
local error, type, select, rawget, tostring = error, type, select, rawget, tostring
local format, byte = string.format, string.byte
local raw_setmetatable, raw_load, raw_collectgarbage = core.setmetatable, core.load,
  collectgarbage
local io_open, io_lines, io_input, io_output = core.io_open, core.io_lines, core.io_input,
  core.io_output
local os_remove, os_rename, raw_loadfile = core.os_remove, core.os_rename, loadfile

local function refusal(what)
  return format("SecurityViolation: %s is not allowed in the 'safe' sandbox "
    .. "(set [engines.lua] sandbox = \"full\" to allow it)", what)
end
local function deny(what) return function() error(refusal(what), 0) end end
local function denied_library(name, keep)
  return raw_setmetatable(keep, {
    __index = function(_, key) error(refusal(name .. "." .. tostring(key)), 0) end,
    __metatable = false,
  })
end

os.execute, os.tmpname, os.setlocale = deny("os.execute"), deny("os.tmpname"),
  deny("os.setlocale")
os.getenv = getenv
os.remove = function(path) return os_remove(confine(path, "os.remove")) end
os.rename = function(old, new)
  return os_rename(confine(old, "os.rename"), confine(new, "os.rename"))
end

io.popen, io.tmpfile = deny("io.popen"), deny("io.tmpfile")
io.open = function(path, mode) return io_open(confine(path, "io.open", mode), mode) end
io.lines = function(path, ...)
  if path == nil then return io_lines(path, ...) end
  return io_lines(confine(path, "io.lines"), ...)
end
io.input = function(file)
  if type(file) == "string" then return io_input(confine(file, "io.input")) end
  return io_input(file)
end
io.output = function(file)
  if type(file) == "string" then return io_output(confine(file, "io.output")) end
  return io_output(file)
end

local BINARY = "SecurityViolation: %s: binary (precompiled) chunks are not allowed in the "
  .. "'safe' sandbox (set [engines.lua] sandbox = \"full\" to allow them)"
load = function(chunk, chunkname, mode, ...)
  if mode == "b" or (type(chunk) == "string" and byte(chunk, 1) == 27) then
    error(format(BINARY, "load"), 0)
  end
  if select("#", ...) > 0 then return raw_load(chunk, chunkname, "t", (...)) end
  return raw_load(chunk, chunkname, "t")
end
local function safe_loadfile(path, mode, ...)
  if path == nil then error(refusal("loadfile without a file name (standard input)"), 0) end
  if mode == "b" then error(format(BINARY, "loadfile"), 0) end
  local real = confine(path, "loadfile")
  if select("#", ...) > 0 then return raw_loadfile(real, "t", (...)) end
  return raw_loadfile(real, "t")
end
loadfile = safe_loadfile
dofile = function(path)
  if path == nil then error(refusal("dofile without a file name (standard input)"), 0) end
  local chunk, message = safe_loadfile(path)
  if not chunk then error(message, 0) end
  return chunk()
end

string.dump = deny("string.dump")
require = deny("require")
package = denied_library("package", {})
debug = denied_library("debug", {traceback = core.traceback})

local GC_ALLOWED = {collect = true, count = true, step = true, isrunning = true}
collectgarbage = function(option, ...)
  if option ~= nil and not GC_ALLOWED[option] then
    error(refusal(format("collectgarbage(%q)", tostring(option))), 0)
  end
  return raw_collectgarbage(option, ...)
end
setmetatable = function(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("SecurityViolation: __gc metamethods are not allowed in the 'safe' sandbox: "
      .. "finalizers run outside the instruction and time limits "
      .. "(set [engines.lua] sandbox = \"full\" to allow them)", 0)
  end
  return raw_setmetatable(t, mt)
end
