"""The plain pipeline ``dtmask bench speed`` compares against: what anyone would write with the same model.

tifffile read, a numpy nearest-neighbour resize to 1024 (the cheapest there is, so the baseline is strict),
bare onnxruntime sessions with their default options, the decoder's own full-resolution mask (orig_im_size =
the photo's size), thresholded and written as a PFM in one plain write. No cache, no refinement, no fsync.

Run as a script (``python plain.py PHOTO X Y ENCODER DECODER OUT``), not as ``dtmask.bench.plain``: importing
the dtmask package would count dtmask's own imports against the baseline. Prints its timings as JSON.
"""

import json
import sys
import time


def main(photo: str, x: float, y: float, encoder_path: str, decoder_path: str, out: str) -> dict:
    import numpy as np
    import onnxruntime as ort
    import tifffile

    times = {}
    start = t = time.perf_counter()
    img = tifffile.imread(photo)
    times["read"] = time.perf_counter() - t
    t = time.perf_counter()
    encoder = ort.InferenceSession(encoder_path, providers=["CPUExecutionProvider"])
    decoder = ort.InferenceSession(decoder_path, providers=["CPUExecutionProvider"])
    times["load"] = time.perf_counter() - t
    t = time.perf_counter()
    h, w = img.shape[:2]
    scale = 1024 / max(h, w)
    nh, nw = int(h * scale + 0.5), int(w * scale + 0.5)
    rows = ((np.arange(nh) + 0.5) * h / nh).astype(int)  # nearest neighbour: the cheapest resize there is
    cols = ((np.arange(nw) + 0.5) * w / nw).astype(int)
    rgb = img[rows][:, cols].astype(np.float32) * (255.0 / 65535.0)
    tensor = np.zeros((1, 3, 1024, 1024), np.float32)
    mean = np.array([123.675, 116.28, 103.53], np.float32)
    std = np.array([58.395, 57.12, 57.375], np.float32)
    tensor[0, :, :nh, :nw] = ((rgb - mean) / std).transpose(2, 0, 1)
    run = time.perf_counter()
    (embedding,) = encoder.run(None, {encoder.get_inputs()[0].name: tensor})
    times["encoder_run"] = time.perf_counter() - run
    times["encode"] = time.perf_counter() - t
    t = time.perf_counter()
    feed = {"image_embeddings": embedding,
            "point_coords": np.array([[[x * nw / w, y * nh / h], [0.0, 0.0]]], np.float32),
            "point_labels": np.array([[1, -1]], np.float32),
            "mask_input": np.zeros((1, 1, 256, 256), np.float32),
            "has_mask_input": np.zeros(1, np.float32),
            "orig_im_size": np.array([h, w], np.float32)}
    masks = decoder.run(["masks"], feed)[0]
    times["decode"] = time.perf_counter() - t
    t = time.perf_counter()
    mask = (masks[0, 0] > 0).astype(np.float32)
    times["refine"] = time.perf_counter() - t
    t = time.perf_counter()
    with open(out, "wb") as f:
        f.write(f"Pf\n{w} {h}\n-1.0\n".encode("ascii"))
        f.write(mask[::-1].astype("<f4").tobytes())
    times["write"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - start
    return {"timings": times}


if __name__ == "__main__":
    photo, x, y, encoder, decoder, out = sys.argv[1:7]
    print(json.dumps(main(photo, float(x), float(y), encoder, decoder, out)))
