#!/usr/bin/env python3
"""Makes the reference for HierDiff's CLIP image preprocessing (ClipImageProcessor) with Debian's python3-pil.

    /usr/bin/python3 tools/make-clip-preprocessing-reference.py tests/data/clip-preprocessing

It follows transformers' CLIPImageProcessor for openai/clip-vit-base-patch32's preprocessor_config.json
(transformers src/transformers/models/clip/image_processing_clip.py at 06053b84 and image_transforms.py at 000593ad;
transformers itself is not needed): resize the short side to 224 with PIL.Image.resize(..., BICUBIC) (reducing_gap
None), centre crop 224 x 224 at top = (h - 224) // 2, rescale by 1/255 in float64 stored as float32, normalise with
OpenAI's mean and std in float32.

In the folder it reads shapes-64.png (an image of the built-in model) and writes the synthetic inputs it makes with a
seeded numpy generator; for each input NAME.png it writes NAME.expected.png, the 8-bit image after resize and crop,
and reference.json with each input's sizes and, per channel, the float32 value each 8-bit level becomes, so every
value of pixel_values is known exactly. The test suite does not run this: its output is committed.
"""
import json
import os
import sys

import numpy as np
import PIL
from PIL import Image

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
SIZE = 224


def synthetic_inputs(rng):
    # Noise at an odd, tall size: every weight and rounding of an enlargement shows.
    yield "noise-61x97", rng.integers(0, 256, size=(97, 61, 3), dtype=np.uint8)
    # Colour blocks with hard edges at Stable Diffusion's width: shrinking (antialiasing) and overshoot clipping.
    blocks = rng.integers(0, 256, size=(40, 64, 3), dtype=np.uint8)
    yield "blocks-512x320", np.repeat(np.repeat(blocks, 8, axis=0), 8, axis=1)
    # A gradient with noise, a little larger than 224 both ways and taller than wide: a slight shrink, then a crop.
    y, x = np.mgrid[0:301, 0:230]
    ramp = np.stack([x * 255 // 229, y * 255 // 300, (x + y) * 255 // 529], axis=-1)
    yield "ramp-230x301", np.clip(ramp + rng.integers(-12, 13, size=ramp.shape), 0, 255).astype(np.uint8)


def preprocess(image):
    w, h = image.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(SIZE * long / short)
    size = (SIZE, new_long) if w <= h else (new_long, SIZE)
    resized = image.resize(size, resample=Image.BICUBIC, reducing_gap=None)
    a = np.array(resized)
    top, left = (a.shape[0] - SIZE) // 2, (a.shape[1] - SIZE) // 2
    return resized.size, a[top:top + SIZE, left:left + SIZE]


def main(folder):
    rng = np.random.default_rng(20261201)
    for name, pixels in synthetic_inputs(rng):
        Image.fromarray(pixels, "RGB").save(os.path.join(folder, name + ".png"))

    levels = np.arange(256, dtype=np.uint8)
    rescaled = (levels.astype(np.float64) * (1 / 255)).astype(np.float32)
    table = [((rescaled - MEAN[c]) / STD[c]).astype(np.float32) for c in range(3)]
    reference = {
        "source": f"Pillow {PIL.__version__} (Debian python3-pil), numpy {np.__version__}; "
        "tools/make-clip-preprocessing-reference.py",
        "normalised_levels": [[float(v) for v in t] for t in table],
        "images": [],
    }
    for file in sorted(os.listdir(folder)):
        if not file.endswith(".png") or file.endswith(".expected.png"):
            continue
        name = file[:-4]
        image = Image.open(os.path.join(folder, file)).convert("RGB")
        resized_size, cropped = preprocess(image)
        Image.fromarray(cropped, "RGB").save(os.path.join(folder, name + ".expected.png"))
        values = np.stack([table[c][cropped[:, :, c]] for c in range(3)])
        reference["images"].append({
            "input": file,
            "expected": name + ".expected.png",
            "input_size": list(image.size),
            "resized_size": list(resized_size),
            "pixel_values_sum": float(values.astype(np.float64).sum()),
        })
    with open(os.path.join(folder, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
