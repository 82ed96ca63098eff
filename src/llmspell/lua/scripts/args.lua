-- ARGS: the script's name at 0, its arguments at 1..n, --key=value as ARGS.key.
local script, positional, named = ...
local ARGS = {[0] = script}
for i = 1, #positional do ARGS[i] = positional[i] end
for key, value in pairs(named) do ARGS[key] = value end
return ARGS
