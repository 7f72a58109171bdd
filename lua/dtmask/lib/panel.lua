--[[
  dtmask/lib/panel.lua - what the user sees and presses: the panel "AI object mask" (lighttable and darkroom), the
  shortcuts, and script_manager's hide and restart. Part of dtmask (GPL-3.0-or-later).
]]

local dt = require "darktable"
local util = require "dtmask/lib/util"
local helper = require "dtmask/lib/helper"
local settings = require "dtmask/lib/settings"
local hooks = require "dtmask/lib/hooks"
local pick = require "dtmask/lib/pick"
local subject = require "dtmask/lib/subject"
local masks = require "dtmask/lib/masks"

local _ = util.gettext
local MODULE = util.MODULE
local MASKS_EVENT = MODULE .. "_masks"       -- the panel's list follows the image in the darkroom
local SUBJECT_EVENT = MODULE .. "_subject"

local panel = {}
local ui = { registered = false }

--- the image the user means: the one in the darkroom, else the first hovered/selected one
local function target_image()
  if dt.gui.current_view() == dt.gui.views.darkroom then
    local ok, img = pcall(dt.gui.views.darkroom.display_image)
    if ok and img then return img end
  end
  local images = dt.gui.action_images
  return images and images[1] or nil
end

--- the mask name typed in the panel (nil: the next free default)
local function panel_name()
  local text = ui.name and ui.name.text
  return (text and text ~= "") and text or nil
end

--- select (edit: reopen on its saved prompts) the mask named in the panel on the image the user means
function panel.action(edit)
  local image = target_image()
  if not image then
    dt.print(_("dtmask: open an image in the darkroom first"))
    return
  end
  local name = panel_name()
  if edit and not name then
    dt.print(_("dtmask: choose the mask to edit in the panel's list"))
    return
  end
  dt.control.dispatch(function() pick.select_object(image, name, edit) end)
end

--- lighttable: subject masks for the selected images
function panel.subject_action()
  local selected = dt.gui.action_images
  local images = {}
  for i = 1, (selected and #selected or 0) do images[i] = selected[i] end  -- the selection may change meanwhile
  if #images == 0 then
    dt.print(_("dtmask: select images in the lighttable first"))
    return
  end
  dt.control.dispatch(function() subject.masks(images) end)
end

local function fill_models()
  local list = helper.run({ "models", "list" }, util.temp_path("dtmask-models"))
  if type(list) ~= "table" then return end
  local chosen = settings.model()
  local index = 1
  for i, m in ipairs(list) do
    ui.models[i] = m.id
    if m.id == chosen or (not chosen and m.default) then index = i end
  end
  if #list > 0 then ui.models.selected = index end
end

--- the panel's list of the masks of the image the user means, and its name entry's hint
local function show_masks(image)
  image = image or target_image()
  if not (ui.masks and image) then return end
  local ok, found = pcall(masks.list, image)
  if not ok then return end
  local names = { "" }
  for _, m in ipairs(found.masks) do names[#names + 1] = m.name end
  for i, name in ipairs(names) do ui.masks[i] = name end
  for i = #ui.masks, #names + 1, -1 do ui.masks[i] = nil end  -- nil removes an entry and shifts the rest: from the end
  ui.name.placeholder = found.next
end

local function show_last(last)
  if ui.last then
    ui.last.label = last.mask ~= "" and string.format(_("last mask: %s (score %.2f)"),
      last.mask:match("[^/\\]+$"), tonumber(last.score) or 0) or _("no mask yet")
  end
end

--- the panel's name entry, the image's mask list and its edit and remove buttons
local function build_mask_widgets()
  ui.name = dt.new_widget("entry") {
    text = "", placeholder = "dtmask 1",
    tooltip = _("the mask's name: a new name adds a mask, a name the image has replaces that mask (empty: the "
      .. "next free \"dtmask N\")"),
  }
  ui.masks = dt.new_widget("combobox") {
    label = _("masks"), tooltip = _("the masks this image has: choose one to replace, edit or remove it"),
    changed_callback = function(self) ui.name.text = self.value or "" end,
    "",
  }
  ui.edit = dt.new_widget("button") {
    label = _("edit mask"), tooltip = _("reopen the picker on the chosen mask's clicks"),
    clicked_callback = function() panel.action(true) end,
  }
  ui.remove = dt.new_widget("button") {
    label = _("remove mask"), tooltip = _("delete the chosen mask (its instance is switched off)"),
    clicked_callback = function()
      local image, name = target_image(), panel_name()
      if image and name then dt.control.dispatch(function() masks.remove(image, name) end) end
    end,
  }
end

--- the model list and the edge feathering slider, which settings then reads
local function build_setting_widgets()
  ui.models = dt.new_widget("combobox") {
    label = _("model"),
    tooltip = _("segmentation model (dtmask models list)"),
    changed_callback = function(self)
      if self.value and self.value ~= "" then dt.preferences.write(MODULE, "model", "string", self.value) end
    end,
    "",
  }
  ui.feather = dt.new_widget("slider") {
    label = _("feather edge"),
    tooltip = _("soften the mask edge by about this many pixels"),
    soft_min = 0, soft_max = 20, hard_min = 0, hard_max = 100, step = 1, digits = 0,
    value = settings.feather(),
  }
  settings.feather = function()
    local value = tonumber(ui.feather.value) or 0
    dt.preferences.write(MODULE, "feather", "integer", math.floor(value))
    return value
  end
end

local function build_ui()
  ui.button = dt.new_widget("button") {
    label = _("select object"),
    tooltip = _("open the picker on this image and make a raster mask of the object you click"),
    clicked_callback = function() panel.action() end,
  }
  build_setting_widgets()
  build_mask_widgets()
  ui.subject = dt.new_widget("button") {
    label = _("subject masks for selected images"),
    tooltip = _("mask the main subject of each selected image, no clicks (a job you can cancel)"),
    clicked_callback = function() panel.subject_action() end,
  }
  ui.last = dt.new_widget("label") { label = _("no mask yet"), ellipsize = "middle" }
  hooks.listeners[#hooks.listeners + 1] = show_last
  hooks.listeners[#hooks.listeners + 1] = function() show_masks() end
  dt.register_event(MASKS_EVENT, "darkroom-image-loaded", function(_, clean, image)
    if clean then dt.control.dispatch(show_masks, image) end
  end)
  dt.register_lib(MODULE, _("AI object mask"), true, false,
    { [dt.gui.views.lighttable] = { "DT_UI_CONTAINER_PANEL_RIGHT_CENTER", 100 },
      [dt.gui.views.darkroom] = { "DT_UI_CONTAINER_PANEL_LEFT_CENTER", 100 } },
    dt.new_widget("box") { orientation = "vertical", ui.name, ui.button, ui.masks, ui.edit, ui.remove, ui.subject,
      ui.models, ui.feather, ui.last },
    nil, nil)
  ui.registered = true
  dt.control.dispatch(fill_models)
end

--- Registering a panel while darktable starts straight into the darkroom (`darktable photo.raw`) crashes
--- darktable 4.2; like lua-scripts' own scripts, build it in the lighttable, or on the first visit there.
function panel.build()
  if dt.gui.current_view() == dt.gui.views.lighttable then
    build_ui()
    return
  end
  dt.register_event(MODULE, "view-changed", function(_, _, new_view)
    if new_view == dt.gui.views.lighttable and not ui.registered then
      build_ui()
    end
  end)
end

function panel.register_shortcuts()
  dt.register_event(MODULE, "shortcut", function() panel.action() end, _("dtmask: select object"))
  dt.register_event(SUBJECT_EVENT, "shortcut", function() panel.subject_action() end,
    _("dtmask: subject masks for selected images"))
end

-- script_manager integration ---------------------------------------------------------------------------------

local function set_visible(visible)
  if ui.registered then dt.gui.libs[MODULE].visible = visible end
end

function panel.destroy()
  if ui.registered then pcall(dt.destroy_event, MASKS_EVENT, "darkroom-image-loaded") end
  dt.destroy_event(SUBJECT_EVENT, "shortcut")
  dt.destroy_event(MODULE, "shortcut")
  set_visible(false)
end

function panel.restart()
  panel.register_shortcuts()
  set_visible(true)
end

function panel.show()
  set_visible(true)
end

return panel
