"""Tiny synthetic ONNX models with each family's real tensor names and shapes, and outputs we control.

Every decoder draws a known square (from a 64 x 64 pattern, resized) so a test can check the whole path:
names, shapes, best-mask choice, logits vs probabilities, and geometry back to the file frame. The decoders also
react to what they are fed, as a real one does: the logits rise by ``DISC_RISE`` in a disc around the first
prompt point (where the decoder was told the click is, in the model frame), and the fed-back mask is added when
``has_mask_input`` is 1 (segnext: ``prev_mask`` is always added). The rise keeps every logit's sign, so the mask
stays the square; :func:`disc_centre` reads the click back from the logits.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SQUARE = (16, 16, 40, 32)  # x0, y0, x1, y1 of the object in the 64 x 64 pattern (model frame / 16)
PATTERN_LOGIT = 8.0  # the square's logits are +8 inside, -8 outside
DISC_RISE = 4.0  # added to the logits around the first point: below PATTERN_LOGIT, so no sign changes
DISC_RADIUS = 24.0  # model-frame pixels


def _pattern() -> np.ndarray:
    p = np.full((1, 1, 64, 64), -PATTERN_LOGIT, np.float32)
    x0, y0, x1, y1 = SQUARE
    p[:, :, y0:y1, x0:x1] = PATTERN_LOGIT
    return p


def _save(graph, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def _pooled_features(name_in: str, out: str, channels: int, kernel: int, nodes: list, inits: list) -> None:
    """out = the input image average-pooled by ``kernel`` and tiled to ``channels`` channels."""
    pooled, tiled = f"{out}_pool", f"{out}_tile"
    reps = -(-channels // 3)
    inits += [numpy_helper.from_array(np.array([1, reps, 1, 1], np.int64), f"{out}_reps"),
              numpy_helper.from_array(np.array([0], np.int64), f"{out}_s"),
              numpy_helper.from_array(np.array([channels], np.int64), f"{out}_e"),
              numpy_helper.from_array(np.array([1], np.int64), f"{out}_ax")]
    nodes += [helper.make_node("AveragePool", [name_in], [pooled], kernel_shape=[kernel, kernel],
                               strides=[kernel, kernel]),
              helper.make_node("Tile", [pooled, f"{out}_reps"], [tiled]),
              helper.make_node("Slice", [tiled, f"{out}_s", f"{out}_e", f"{out}_ax"], [out])]


def _pattern_nodes(size: int, out: str, nodes: list, inits: list) -> None:
    """out = the square pattern resized (nearest) to size x size."""
    scale = size / 64
    inits += [numpy_helper.from_array(_pattern(), "pattern"),
              numpy_helper.from_array(np.array([1, 1, scale, scale], np.float32), "pattern_scales")]
    nodes.append(helper.make_node("Resize", ["pattern", "", "pattern_scales"], [out], mode="nearest"))


def _disc_nodes(size: int, out: str, nodes: list, inits: list) -> None:
    """out = DISC_RISE inside a disc of DISC_RADIUS model-frame pixels around point_coords[0, 0], on a size x size
    grid over the 1024 model frame (cell centres), else 0; shape [1, 1, size, size]."""
    centres = (np.arange(size, dtype=np.float32) + 0.5) * (1024 / size)
    inits += [numpy_helper.from_array(centres.reshape(1, 1, 1, size), "disc_x"),
              numpy_helper.from_array(centres.reshape(1, 1, size, 1), "disc_y"),
              numpy_helper.from_array(np.array([0, 0, 0], np.int64), "disc_s0"),
              numpy_helper.from_array(np.array([1, 1, 1], np.int64), "disc_e0"),
              numpy_helper.from_array(np.array([0, 0, 1], np.int64), "disc_s1"),
              numpy_helper.from_array(np.array([1, 1, 2], np.int64), "disc_e1"),
              numpy_helper.from_array(np.array(DISC_RADIUS ** 2, np.float32), "disc_r2"),
              numpy_helper.from_array(np.array(DISC_RISE, np.float32), "disc_rise")]
    nodes += [helper.make_node("Slice", ["point_coords", "disc_s0", "disc_e0"], ["disc_px"]),  # [1, 1, 1]
              helper.make_node("Slice", ["point_coords", "disc_s1", "disc_e1"], ["disc_py"]),
              helper.make_node("Sub", ["disc_x", "disc_px"], ["disc_dx"]),
              helper.make_node("Sub", ["disc_y", "disc_py"], ["disc_dy"]),
              helper.make_node("Mul", ["disc_dx", "disc_dx"], ["disc_dx2"]),
              helper.make_node("Mul", ["disc_dy", "disc_dy"], ["disc_dy2"]),
              helper.make_node("Add", ["disc_dx2", "disc_dy2"], ["disc_d2"]),
              helper.make_node("Less", ["disc_d2", "disc_r2"], ["disc_in"]),
              helper.make_node("Cast", ["disc_in"], ["disc_on"], to=TensorProto.FLOAT),
              helper.make_node("Mul", ["disc_on", "disc_rise"], [out])]


def _reacting_nodes(logits: str, out: str, nodes: list, inits: list, size: int, feedback: str,
                    has_feedback: str | None) -> None:
    """out = logits + the disc around the first point + the fed-back mask (times has_feedback when given)."""
    _disc_nodes(size, "disc", nodes, inits)
    fed = feedback
    if has_feedback is not None:
        fed = "fed_back"
        nodes.append(helper.make_node("Mul", [feedback, has_feedback], [fed]))
    nodes += [helper.make_node("Add", [logits, "disc"], ["with_disc"]),
              helper.make_node("Add", ["with_disc", fed], [out])]


def _consume(names: list[str], into: str, out: str, nodes: list) -> None:
    """out = into + 0 * sum(inputs): keeps every declared input in use, as a real decoder does."""
    acc = into
    for i, name in enumerate(names):
        r, z, s = f"c{i}_sum", f"c{i}_zero", f"c{i}_acc"
        nodes += [helper.make_node("ReduceSum", [name], [r], keepdims=0),
                  helper.make_node("Mul", [r, "zero"], [z]),
                  helper.make_node("Add", [acc, z], [s])]
        acc = s
    nodes.append(helper.make_node("Identity", [acc], [out]))


def _f(name: str, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def sam2_pair(folder: Path, ious: tuple[float, float, float] = (0.2, 0.9, 0.4)) -> tuple[Path, Path]:
    """SAM 2.1 encoder + decoder as samexporter / darktable-ai name them.

    Mask 1 of 3 is the square, masks 0 and 2 its inverse (the background); ``ious`` are their predicted IoUs.
    """
    folder.mkdir(parents=True, exist_ok=True)
    nodes, inits = [], []
    _pooled_features("image", "high_res_feats_0", 32, 4, nodes, inits)
    _pooled_features("image", "high_res_feats_1", 64, 8, nodes, inits)
    _pooled_features("image", "image_embed", 256, 16, nodes, inits)
    enc = helper.make_graph(nodes, "sam2_encoder", [_f("image", [1, 3, 1024, 1024])],
                            [_f("high_res_feats_0", [1, 32, 256, 256]), _f("high_res_feats_1", [1, 64, 128, 128]),
                             _f("image_embed", [1, 256, 64, 64])], inits)
    nodes, inits = [], [numpy_helper.from_array(np.zeros((), np.float32), "zero"),
                        numpy_helper.from_array(np.array([ious], np.float32), "ious")]
    _pattern_nodes(256, "square", nodes, inits)
    nodes += [helper.make_node("Neg", ["square"], ["inverse"]),
              helper.make_node("Concat", ["inverse", "square", "inverse"], ["stack"], axis=1)]
    _reacting_nodes("stack", "reacting", nodes, inits, 256, "mask_input", "has_mask_input")
    _consume(["image_embed", "high_res_feats_0", "high_res_feats_1", "point_labels"], "reacting", "masks", nodes)
    nodes.append(helper.make_node("Identity", ["ious"], ["iou_predictions"]))
    dec = helper.make_graph(
        nodes, "sam2_decoder",
        [_f("image_embed", [1, 256, 64, 64]), _f("high_res_feats_0", [1, 32, 256, 256]),
         _f("high_res_feats_1", [1, 64, 128, 128]), _f("point_coords", [1, "n", 2]), _f("point_labels", [1, "n"]),
         _f("mask_input", [1, 1, 256, 256]), _f("has_mask_input", [1])],
        [_f("masks", [1, 3, 256, 256]), _f("iou_predictions", [1, 3])], inits)
    return _save(enc, folder / "encoder.onnx"), _save(dec, folder / "decoder.onnx")


def segnext_pair(folder: Path, probabilities: bool) -> tuple[Path, Path]:
    """SegNext encoder + decoder; the decoder's ``mask`` is the square (with the disc and ``prev_mask`` added) as
    logits or as probabilities."""
    folder.mkdir(parents=True, exist_ok=True)
    nodes, inits = [], []
    _pooled_features("image", "image_feats", 768, 16, nodes, inits)
    enc = helper.make_graph(nodes, "segnext_encoder", [_f("image", [1, 3, 1024, 1024])],
                            [_f("image_feats", [1, 768, 64, 64])], inits)
    nodes, inits = [], [numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    _pattern_nodes(1024, "square", nodes, inits)
    _reacting_nodes("square", "reacting", nodes, inits, 1024, "prev_mask", None)
    if probabilities:
        nodes.append(helper.make_node("Sigmoid", ["reacting"], ["reacting_p"]))
    _consume(["image_feats", "point_labels"], "reacting_p" if probabilities else "reacting", "mask", nodes)
    dec = helper.make_graph(
        nodes, "segnext_decoder",
        [_f("image_feats", [1, 768, 64, 64]), _f("point_coords", [1, "n", 2]), _f("point_labels", [1, "n"]),
         _f("prev_mask", [1, 1, 1024, 1024])],
        [_f("mask", [1, 1, 1024, 1024])], inits)
    return _save(enc, folder / "encoder.onnx"), _save(dec, folder / "decoder.onnx")


HQSAM_INTERM = {"light": (1, 160), "vit_b": (4, 768)}  # (count, channels) of interm_embeddings per variant


def hqsam_pair(folder: Path, variant: str = "light") -> tuple[Path, Path]:
    """HQ-SAM encoder + decoder as sam-hq's ONNX export names them. The encoder's interm_embeddings are the image
    pooled to 64 x 64, channels last ([k, 1, 64, 64, C]); the decoder's iou_predictions is their maximum, so a test
    sees that the engine really carried them from the encoder (and the cache) into the decoder."""
    folder.mkdir(parents=True, exist_ok=True)
    count, channels = HQSAM_INTERM[variant]
    nodes, inits = [], [numpy_helper.from_array(np.array([count, 1, 1, 1, 1], np.int64), "interm_reps")]
    _pooled_features("image", "image_embeddings", 256, 16, nodes, inits)
    _pooled_features("image", "interm_nchw", channels, 16, nodes, inits)
    nodes += [helper.make_node("Transpose", ["interm_nchw"], ["interm_nhwc"], perm=[0, 2, 3, 1]),
              helper.make_node("Unsqueeze", ["interm_nhwc", "interm_ax0"], ["interm_one"]),
              helper.make_node("Tile", ["interm_one", "interm_reps"], ["interm_embeddings"])]
    inits.append(numpy_helper.from_array(np.array([0], np.int64), "interm_ax0"))
    enc = helper.make_graph(nodes, "hqsam_encoder", [_f("image", [1, 3, 1024, 1024])],
                            [_f("image_embeddings", [1, 256, 64, 64]),
                             _f("interm_embeddings", [count, 1, 64, 64, channels])], inits)
    nodes, inits = [], [numpy_helper.from_array(np.zeros((), np.float32), "zero"),
                        numpy_helper.from_array(np.array([1, 1], np.int64), "iou_shape")]
    _pattern_nodes(256, "square", nodes, inits)
    _reacting_nodes("square", "reacting", nodes, inits, 256, "mask_input", "has_mask_input")
    _consume(["image_embeddings", "point_labels", "orig_im_size"], "reacting", "low_res_masks", nodes)
    nodes += [helper.make_node("Identity", ["low_res_masks"], ["masks"]),
              helper.make_node("ReduceMax", ["interm_embeddings"], ["interm_max"], keepdims=0),
              helper.make_node("Reshape", ["interm_max", "iou_shape"], ["iou_predictions"])]
    dec = helper.make_graph(
        nodes, "hqsam_decoder",
        [_f("image_embeddings", [1, 256, 64, 64]), _f("interm_embeddings", ["k", 1, 64, 64, "c"]),
         _f("point_coords", [1, "n", 2]), _f("point_labels", [1, "n"]), _f("mask_input", [1, 1, 256, 256]),
         _f("has_mask_input", [1]), _f("orig_im_size", [2])],
        [_f("masks", [1, 1, "h", "w"]), _f("iou_predictions", [1, 1]), _f("low_res_masks", [1, 1, 256, 256])],
        inits)
    return _save(enc, folder / "encoder.onnx"), _save(dec, folder / "decoder.onnx")


# FastSAM: prototypes are indicator maps of rectangles on a 16 x 16 grid (64 model-frame pixels a cell); a
# candidate whose coefficients are 16 on prototype k and -8 on the constant prototype has logits +8 inside
# rectangle k and -8 outside, so every instance mask is known exactly.
FASTSAM_REGIONS = {0: (2, 2, 8, 8), 1: (4, 4, 6, 6), 2: (9, 10, 15, 14)}  # k -> grid x0, y0, x1, y1
FASTSAM_BIAS = 31


def fastsam_candidate(box, conf: float, region: int) -> np.ndarray:
    """One candidate column: cx, cy, w, h (model-frame pixels, from x0, y0, x1, y1), confidence, coefficients."""
    x0, y0, x1, y1 = box
    column = np.zeros(37, np.float32)
    column[:5] = [(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, conf]
    column[5 + region] = 16.0
    column[5 + FASTSAM_BIAS] = -8.0
    return column


def fastsam_prototypes() -> np.ndarray:
    protos = np.zeros((1, 32, 16, 16), np.float32)
    for k, (x0, y0, x1, y1) in FASTSAM_REGIONS.items():
        protos[0, k, y0:y1, x0:x1] = 1.0
    protos[0, FASTSAM_BIAS] = 1.0
    return protos


def fastsam_model(folder: Path, candidates: list[np.ndarray], name: str = "model.onnx",
                  image_size: int = 1024) -> Path:
    """A YOLOv8-seg export (ultralytics names: images -> output0 [1,37,K], output1 [1,32,256,256]) whose
    candidates are the given columns and whose prototypes are :func:`fastsam_prototypes` resized x16."""
    folder.mkdir(parents=True, exist_ok=True)
    table = np.stack(candidates, axis=1)[None].astype(np.float32)  # (1, 37, K)
    inits = [numpy_helper.from_array(np.zeros((), np.float32), "zero"),
             numpy_helper.from_array(table, "table"),
             numpy_helper.from_array(fastsam_prototypes(), "grid"),
             numpy_helper.from_array(np.array([1, 1, 16, 16], np.float32), "grid_scales")]
    nodes = [helper.make_node("Resize", ["grid", "", "grid_scales"], ["protos"], mode="nearest")]
    _consume(["images"], "table", "output0", nodes)
    nodes.append(helper.make_node("Identity", ["protos"], ["output1"]))
    graph = helper.make_graph(nodes, "fastsam", [_f("images", [1, 3, image_size, image_size])],
                              [_f("output0", [1, 37, table.shape[2]]), _f("output1", [1, 32, 256, 256])], inits)
    return _save(graph, folder / name)


def darktable_model(folder: Path, model_id: str, arch: str = "sam2", probabilities: bool = False) -> Path:
    """A model folder laid out as darktable 5.6 installs it: config.json + encoder.onnx + decoder.onnx."""
    if arch == "sam2":
        sam2_pair(folder)
    else:
        segnext_pair(folder, probabilities)
    config = {"id": model_id, "name": f"tiny {arch}", "description": "test model", "task": "mask", "arch": arch,
              "backend": "onnx", "version": "1.0", "model_card": {"license": "Apache-2.0", "source": "tests"}}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def dtmodel_file(path: Path, model_id: str, arch: str = "sam2") -> Path:
    """A darktable release asset: a deflate zip with <id>/config.json, encoder.onnx, decoder.onnx."""
    src = darktable_model(path.parent / f"{model_id}-src", model_id, arch)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("config.json", "encoder.onnx", "decoder.onnx"):
            zf.write(src / name, f"{model_id}/{name}")
    return path


def disc_centre(logits: np.ndarray) -> tuple[float, float]:
    """Where the decoder drew its disc, in model-frame pixels: the centroid of the cells it raised.

    For an answer decoded with no fed-back mask (a raised cell is then PATTERN_LOGIT +- DISC_RISE away from 0).
    """
    size = logits.shape[-1]
    raised = np.isclose(np.abs(logits), PATTERN_LOGIT - DISC_RISE, atol=0.1) | \
        np.isclose(np.abs(logits), PATTERN_LOGIT + DISC_RISE, atol=0.1)
    assert raised.any(), "the decoder drew no disc"
    ys, xs = np.nonzero(raised.reshape(size, size))
    cell = 1024 / size
    return float((xs.mean() + 0.5) * cell), float((ys.mean() + 0.5) * cell)


def assert_disc_at(logits: np.ndarray, point: tuple[float, float], width: int, height: int) -> None:
    """The decoder was told the click `point` (file-frame pixels of a W x H image) at its model-frame place."""
    scale = 1024 / max(width, height)
    want = (point[0] * scale, point[1] * scale)
    got = disc_centre(logits)
    tolerance = 1024 / logits.shape[-1]  # one cell of the grid the disc is drawn on
    assert abs(got[0] - want[0]) <= tolerance and abs(got[1] - want[1]) <= tolerance, (got, want)


def assert_square_mask(mask: np.ndarray) -> None:
    """The mask is the tiny decoders' square scaled back to the file frame, up to the one-pixel edge ring
    where a pixel centre sits on the square's edge."""
    height, width = mask.shape
    scale = 1024 / max(width, height)
    x0, y0, x1, y1 = (v * 16 / scale for v in SQUARE)
    yy, xx = np.mgrid[:height, :width] + 0.5
    inside = (xx > x0 + 1) & (xx < x1 - 1) & (yy > y0 + 1) & (yy < y1 - 1)
    outside = (xx < x0 - 1) | (xx > x1 + 1) | (yy < y0 - 1) | (yy > y1 + 1)
    got = mask > 0.5
    assert got[inside].all(), "pixels inside the square are missing"
    assert not got[outside].any(), "pixels outside the square are selected"
