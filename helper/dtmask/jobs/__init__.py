"""File-to-file jobs: what the CLI, the picker and batch run (read a photo, call the model API, write masks).

The flow is one-way: CLI / picker / Lua -> jobs -> model API (model, auto, subject) -> engines -> refine ->
writers. Nothing below this package imports it.
"""
