"""``dtmask pick``: click on the object in a window; the mask is written on Apply."""

from __future__ import annotations

import click

from .. import dtstyle, picker
from ..picker.script import load_script
from .common import (DEVICE_OPTION, FEATHER_OPTION, FORMAT_OPTION, MODEL_OPTION, PROMPTS_OPTION, SAVE_PROMPTS_OPTION,
                     print_json, say)


@click.command()
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Mask file to write on Apply (.pfm for darktable, or .png).")
@click.option("--orientation", type=click.IntRange(1, 8), default=1, show_default=True, metavar="N",
              help="EXIF orientation 1-8: show the image as darktable displays it. Clicks are mapped back, so "
                   "the prompts and the mask stay in the TIFF's own frame.")
@click.option("--guide", type=click.Path(dir_okay=False), metavar="FILE",
              help="The full-resolution export of the photo without its flip (the raster frame). IMAGE is then a "
                   "small export of the same photo as displayed: the window opens on it at once, the orientation "
                   "is found by comparing the two, and the mask is made on FILE, in its frame and size.")
@click.option("--wait", type=click.FloatRange(0), default=0, metavar="SECONDS",
              help="IMAGE and the guide may still be being written (by darktable): wait up to SECONDS for each "
                   "to appear; a FILE.error next to it ends the wait with the message it holds.")
@PROMPTS_OPTION
@SAVE_PROMPTS_OPTION
@MODEL_OPTION
@FORMAT_OPTION
@FEATHER_OPTION
@DEVICE_OPTION
@click.option("--script", "script", type=click.Path(dir_okay=False), metavar="FILE",
              help="Replay the JSON steps in FILE through the window instead of waiting for the mouse (see below).")
@click.option("--dtstyle", "with_style", is_flag=True,
              help="Also write <mask>.dtstyle, a darktable style that attaches the mask (rasterfile module).")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: output, size, model, score, prompts (image pixels: points, negatives, "
                   "box, strokes, negative_strokes), orientation, timings, timeline (wall-clock stamps).")
def pick(image, output, orientation, guide, wait, prompts_file, save_prompts, model_id, fmt, feather, device, script,
         with_style, as_json):
    """Open IMAGE (a TIFF) in a window, click on the object, press Enter: the mask is written to OUTPUT.

    The window opens at once and analyses the image in the background; clicks made meanwhile are kept.

    \b
    Mouse and keys:
      pointer at rest       the object a click would select is outlined in yellow (hover; no step)
      left click            add the object under the pointer (+)
      right or Shift-click  remove what is under the pointer (-)
      left drag             box around the object
      B                     brush mode on/off: left drag paints a + stroke over the object,
                            right (or Shift+) drag a - stroke; Alt+drag paints in any mode
      S or Subject          propose the main subject (then refine it with clicks; undoable)
      Ctrl+Z, Ctrl+Shift+Z  undo, redo          R  reset       I  invert
      Tab                   view: overlay, mask, outline, original
      wheel                 zoom around the pointer;  middle drag or Space+drag: pan;  F  fit
      Enter or Apply        write the mask (same format and frame as `dtmask segment`)
      Esc or close          cancel: nothing is written, exit code 3

    \b
    --script FILE: a JSON list of steps in displayed-image pixels (after --orientation), replayed through
    the same window handlers, then applied unless the last step is cancel:
      [{"point": [u, v]}, {"negative": [u, v]}, {"box": [u0, v0, u1, v1]},
       {"stroke": [[u, v], ...]}, {"negative_stroke": [[u, v], ...]}, {"subject": true},
       {"hover": [u, v]}, {"undo": true}, {"redo": true}, {"invert": true}, {"reset": true},
       {"apply": true} or {"cancel": true}]
    Hover is off in scripted runs except at hover steps; subject and hover steps wait for their answer.

    Exit codes: 0 mask written, 1 runtime failure, 2 usage error, 3 cancelled.
    """
    if guide and orientation != 1:
        raise click.UsageError("--orientation goes without --guide: with a guide the orientation is found")
    steps = load_script(script) if script else None
    job = picker.PickJob(image=image, output=output, orientation=orientation, model=model_id, device=device,
                         fmt=fmt, feather=feather, script=steps, guide=guide, wait=wait, prompts_file=prompts_file,
                         save_prompts=save_prompts)
    report, extra = picker.run(job)
    for note in report.notes:
        say(note)
    data = dict(report.as_json(), **extra)
    if with_style:
        style, name = dtstyle.write_for_mask(report.output)
        data.update(style=str(style), style_name=name)
    if as_json:
        print_json(data)
    else:
        click.echo(f"{report.output}  {report.width}x{report.height}  score {report.score:.3f}"
                   + (f"  style {data['style']}" if "style" in data else ""))

