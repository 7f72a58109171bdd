"""Stand-in for the `dtmask` program in end-to-end tests, used only while `dtmask pick` does not exist yet.

It maps `pick IMAGE -o OUT --orientation N --script FILE` to `dtmask segment` with the scripted prompts moved from
the displayed frame to the file frame (geometry.display_to_file); every other command goes to the real CLI.
"""

from __future__ import annotations

import json
import sys

from dtmask import geometry
from dtmask.cli import cli, main
from dtmask.imageio import read_image


def pick_as_segment(args: list[str]) -> list[str]:
    image, out, n, script, extra = args[1], None, 1, None, []
    it = iter(args[2:])
    for a in it:
        if a == "-o":
            out = next(it)
        elif a == "--orientation":
            n = int(next(it))
        elif a == "--script":
            script = next(it)
        elif a == "--model":
            extra += ["--model", next(it)]
    img = read_image(image)
    w, h = img.width, img.height
    cmd = ["segment", image, "-o", out, "--json", *extra]
    for action in json.load(open(script)):
        for kind, flag in (("point", "--point"), ("negative", "--negative")):
            if kind in action:
                x, y = geometry.display_to_file(*action[kind], n, w, h)
                cmd += [flag, f"{x},{y}"]
        if "box" in action:
            u0, v0, u1, v1 = action["box"]
            (x0, y0), (x1, y1) = (geometry.display_to_file(u0, v0, n, w, h),
                                  geometry.display_to_file(u1, v1, n, w, h))
            cmd += ["--box", f"{min(x0, x1)},{min(y0, y1)},{max(x0, x1)},{max(y0, y1)}"]
    return cmd


if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv and argv[0] == "pick" and "pick" not in cli.commands:
        argv = pick_as_segment(argv)
    main(argv)
