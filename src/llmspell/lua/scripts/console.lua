-- print and io.write through Python's sys.stdout (llmspell/lua/console.py).
local core, write = ...
local select, tostring, type, error, format = select, core.tostring, type, error, string.format
local concat, io_output, io_write, stdout = core.concat, core.io_output, core.io_write,
  core.io_stdout
local mtype = math.type

print = function(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = tostring((select(i, ...))) end
  write(concat(parts, "\t", 1, n) .. "\n")
end

io.write = function(...)
  if io_output() ~= stdout then return io_write(...) end
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do
    local value = select(i, ...)
    local kind = type(value)
    if kind == "number" then
      parts[i] = mtype(value) == "integer" and format("%d", value) or format("%.14g", value)
    elseif kind == "string" then
      parts[i] = value
    else
      error(format("bad argument #%d to 'write' (string expected, got %s)", i, kind), 2)
    end
  end
  write(concat(parts))
  return stdout
end
