-- Pattern-cost guard for string.find/match/gmatch/gsub (llmspell/lua/limits.py). Lua's
-- matcher backtracks inside one C call, where no hook runs: `("a"):rep(3e5):find(".-.-.-b")`
-- would run for days whatever the limits. Before a pattern call, an upper bound of its
-- matching steps is computed from the pattern and the subject; a call over MAX_STEPS is
-- refused with an error the script can catch. Called with the step budget; returns nothing.
local MAX_STEPS = ...
local find, match, gmatch, gsub, sub, byte, format = string.find, string.match, string.gmatch,
  string.gsub, string.sub, string.byte, string.format
local type, error, tostring, tointeger = type, error, tostring, math.tointeger

-- Returns what it is given: calling a C function through it, not as a tail call, keeps the
-- function's name in Lua's "bad argument" errors.
local function pass(...) return ... end

local QUANTIFIERS = "[%*%+%-%?]"
local PERCENT, OPEN, CLOSE, DOLLAR = byte("%"), byte("("), byte(")"), byte("$")
local CARET, BRACKET_OPEN, BRACKET_CLOSE = byte("^"), byte("["), byte("]")
local LOWER_B, LOWER_F = byte("b"), byte("f")

-- The end (inclusive) of the single-character class starting at i, as lstrlib's classEnd.
local function class_end(p, i)
  local c = byte(p, i)
  if c == PERCENT then return i + 1 end
  if c == BRACKET_OPEN then
    local j = i + 1
    if byte(p, j) == CARET then j = j + 1 end
    repeat -- the first character of a set may be ']'
      if j > #p then return #p end -- malformed: Lua itself raises the error
      local d = byte(p, j)
      j = j + 1
      if d == PERCENT then j = j + 1 end
    until byte(p, j) == BRACKET_CLOSE
    return j
  end
  return i
end

-- The longest run of characters of `s` that the class `cls` matches.
local function longest_run(s, cls)
  if cls == "." then return #s end
  local best, i, run = 0, 1, cls .. "+"
  while true do
    local a, b = find(s, run, i)
    if not a then return best end
    if b - a + 1 > best then best = b - a + 1 end
    i = b + 1
  end
end

-- How many times the character x occurs in s.
local function occurrences(s, x)
  if x == "" then return 0 end
  local count, i = 0, 1
  while true do
    local a = find(s, x, i, true)
    if not a then return count end
    count, i = count + 1, a + 1
  end
end

-- Whether only ')' (and at most a final '$') follow position i; and whether '$' does.
local function trailing(p, i)
  while byte(p, i) == CLOSE do i = i + 1 end
  if i > #p then return true, false end
  if i == #p and byte(p, i) == DOLLAR then return true, true end
  return false, false
end

-- An upper bound of the matching steps of pattern p over s from init (see limits.py).
local function cost(s, p, init, anchorable)
  local n, i, steps = #s, 1, 1.0 * #p -- each combination of choices may try every item
  local anchored = anchorable and byte(p, 1) == CARET
  if anchored then i = 2 else steps = steps * (n - init + 2) end
  local first = i
  while i <= #p do
    local c = byte(p, i)
    if c == OPEN or c == CLOSE then
      i = i + 1
    elseif c == DOLLAR and i == #p then
      i = i + 1
    elseif c == PERCENT and byte(p, i + 1) == LOWER_B then
      steps = steps * (1 + occurrences(s, sub(p, i + 2, i + 2)))
      i = i + 4
    elseif c == PERCENT and byte(p, i + 1) == LOWER_F then
      i = class_end(p, i + 2) + 1
    else
      local last = class_end(p, i)
      local q = sub(p, last + 1, last + 1)
      if q == "?" then
        steps = steps * 2
        last = last + 1
      elseif q == "*" or q == "+" or q == "-" then
        local cls = sub(p, i, last)
        local at_end, dollar = trailing(p, last + 2)
        if anchored and i == first then -- it can only take the run at init
          local _, b = find(s, "^" .. cls .. "*", init)
          steps = steps * (1 + (b or init - 1) - init + 1)
        elseif not at_end or (dollar and (q == "-" or cls ~= ".")) then
          steps = steps * (1 + longest_run(s, cls))
        end
        last = last + 1
      end
      i = last + 1
    end
  end
  return steps
end

local function check(name, s, p, init, anchorable)
  local bad = (type(s) ~= "string" and type(s) ~= "number") and 1
    or (type(p) ~= "string" and type(p) ~= "number") and 2
  if bad then
    local v = bad == 1 and {s} or {p}
    error(format("bad argument #%d to '%s' (string expected, got %s)", bad, name,
      v[1] == nil and "no value" or type(v[1])), 3)
  end
  s, p = tostring(s), tostring(p)
  if not find(p, QUANTIFIERS) and not find(p, "%%b") then return end
  local n = #s
  init = tointeger(init) or 1
  if init < 0 then init = n + init + 1 end
  if init < 1 then init = 1 end
  -- Cheap bound first: every quantifier takes at most n + 1 choices.
  local crude = (n + 2.0) * #p -- floats: the products may pass 2^63
  for _ in gmatch(p, QUANTIFIERS) do crude = crude * (n + 2) end
  if crude <= MAX_STEPS and not find(p, "%%b") then return end
  local steps = cost(s, p, init, anchorable)
  if steps > MAX_STEPS then
    error(format("ValidationError: argument 'pattern': %s with pattern %q on a subject of %d "
      .. "bytes may take up to %.3g matching steps, over the limit of %.3g (Lua patterns "
      .. "backtrack and cannot be interrupted: anchor the pattern, use fewer '-', '*' and '+', "
      .. "match a shorter subject, or find with plain = true)", name, p, n, steps, MAX_STEPS), 0)
  end
end

string.find = function(s, p, init, plain, ...)
  if not plain then check("string.find", s, p, init, true) end
  return pass(find(s, p, init, plain, ...))
end
string.match = function(s, p, init, ...)
  check("string.match", s, p, init, true)
  return pass(match(s, p, init, ...))
end
string.gmatch = function(s, p, init, ...)
  check("string.gmatch", s, p, init, false)
  return pass(gmatch(s, p, init, ...))
end
string.gsub = function(s, p, repl, n, ...)
  check("string.gsub", s, p, 1, true)
  return pass(gsub(s, p, repl, n, ...))
end
