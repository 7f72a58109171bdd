-- Reads a helper answer (`dtmask ... --lua`) on stdin, loads it with the script's own loader
-- (dtmask/lib/helper.load_answer) and prints it as canonical JSON: keys sorted, a table with keys 1..n an array
-- (an empty table is {}), floats always with a point, string bytes as they are, infinities and NaN as strings.
-- Used by tests/test_lua_script.py to compare the Lua answer with the JSON one. Usage: lua5.4 answer_to_json.lua ROOT
local root = arg[1]
package.path = root .. "/lua/?.lua;" .. root .. "/tests/lua/?.lua;" .. package.path
package.loaded["darktable"] = require "fake_darktable"
local helper = require "dtmask/lib/helper"

local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  if n == 0 then return false end
  for i = 1, n do if t[i] == nil then return false end end
  return true
end

local encode

local function number(v)
  if math.type(v) == "integer" then return string.format("%d", v) end
  if v ~= v then return '"nan"' end
  if v == math.huge or v == -math.huge then return v > 0 and '"inf"' or '"-inf"' end
  local text = string.format("%.17g", v)
  return text:find("[.eE]") and text or text .. ".0"
end

local function str(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function encode(v)
  local kind = type(v)
  if kind == "number" then return number(v) end
  if kind == "string" then return str(v) end
  if kind == "boolean" then return tostring(v) end
  assert(kind == "table", "not data: " .. kind)
  local parts = {}
  if is_array(v) then
    for i = 1, #v do parts[i] = encode(v[i]) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do
    assert(type(k) == "string", "a key that is not a string: " .. tostring(k))
    keys[#keys + 1] = k
  end
  table.sort(keys)
  for i, k in ipairs(keys) do parts[i] = str(k) .. ":" .. encode(v[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end

io.write(encode(helper.load_answer(io.read("a"))))
