#!/usr/bin/env python3
"""Writes fixtures/preprocess/: small input pictures of odd sizes and modes, and what
open_clip's eval transform makes of them: the resized and centre-cropped 224x224 picture
(PNG, exact pixels) and a few normalised tensor values. The Rust preprocessing tests compare.

    /tmp/refvenv/bin/pip install open_clip_torch pillow
    /tmp/refvenv/bin/python tools/make_preprocess_fixtures.py
"""
import json
import math
import os

import numpy as np
import open_clip
from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "preprocess")


def pattern(w, h, channels):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = [
        127 + 120 * np.sin(x / 7.0) * np.cos(y / 11.0),
        255 * ((x // 13 + y // 17) % 2),
        255 * x / max(w - 1, 1),
    ]
    arr = np.stack(planes[:channels], axis=-1).clip(0, 255).astype(np.uint8)
    return arr[..., 0] if channels == 1 else arr


def expect(transform, resize, crop, name, file, img):
    cropped = crop(resize(img)).convert("RGB")
    cropped.save(os.path.join(OUT, f"{name}.expected.png"))
    tensor = transform(img).numpy()
    probes = [[c, yy, xx, float(tensor[c, yy, xx])] for c, yy, xx in [(0, 0, 0), (1, 100, 37), (2, 223, 223), (0, 150, 200)]]
    return {"name": name, "file": file, "size": list(img.size), "mode": img.mode, "probes": probes}


def main():
    os.makedirs(OUT, exist_ok=True)
    transform = open_clip.image_transform(224, is_train=False)
    resize, crop = transform.transforms[0], transform.transforms[1]
    cases = []
    for name, w, h, mode in [("wide_rgb", 301, 203, "RGB"), ("tall_grey", 97, 333, "L"), ("small_rgb", 150, 151, "RGB"), ("big_rgb", 640, 481, "RGB")]:
        img = Image.fromarray(pattern(w, h, 1 if mode == "L" else 3), mode)
        img.save(os.path.join(OUT, f"{name}.png"))
        cases.append(expect(transform, resize, crop, name, f"{name}.png", img))
    # Other modes, read back from the file as open_clip's loaders would open them.
    rgb = Image.fromarray(pattern(257, 190, 3), "RGB")
    alpha = Image.fromarray(pattern(257, 190, 1)).point(lambda v: 255 - v // 2)
    rgba = rgb.copy()
    rgba.putalpha(alpha)
    rgba.save(os.path.join(OUT, "rgba.png"))
    grey_alpha = rgb.convert("L")
    grey_alpha.putalpha(alpha)
    grey_alpha.convert("LA").save(os.path.join(OUT, "grey_alpha.png"))
    rgb.quantize(64).save(os.path.join(OUT, "palette.png"))
    rgb.convert("CMYK").save(os.path.join(OUT, "cmyk.jpg"), quality=95)
    deep = (np.asarray(rgb.convert("L")).astype(np.uint16) * 257)
    Image.fromarray(deep).save(os.path.join(OUT, "grey16.png"))
    for name, file in [("rgba", "rgba.png"), ("grey_alpha", "grey_alpha.png"), ("palette", "palette.png"), ("cmyk", "cmyk.jpg")]:
        cases.append(expect(transform, resize, crop, name, file, Image.open(os.path.join(OUT, file))))
    # Pillow saturates 16-bit grey at 255 when it converts to RGB (a white picture); saelab
    # scales 16 bits to 8 instead, so the reference here is the 8-bit picture it scales to.
    cases.append(expect(transform, resize, crop, "grey16", "grey16.png", Image.fromarray((deep // 257).astype(np.uint8), "L")))
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"open_clip": open_clip.__version__, "cases": cases}, f, indent=1)
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
