-- Record builders for the converter (llmspell/lua/convert.py). Called with ARRAY_MT; returns
-- compile(layout, keys...): for one shape of record, a function that takes the record's
-- values in order and returns its table, made by one table constructor (fields presized, one
-- crossing for the whole record). layout: per top-level key, "s" (a value), "a" (an empty
-- JSON.array) or n (a table of n values, whose n keys follow its key). Keys reach the
-- generated code as values (K[i]), never as source text.
local ARRAY_MT = ...
local load, concat, setmetatable = load, table.concat, setmetatable

return function(layout, ...)
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
  return load(code, "@llmspell/lua/scripts/records.lua", "t")(keys, ARRAY_MT, setmetatable)
end
