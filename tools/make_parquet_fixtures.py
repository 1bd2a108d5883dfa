#!/usr/bin/env python3
"""Writes fixtures/parquet/: tiny parquet datasets in the Hugging Face `uoft-cs/cifar10` and
`uoft-cs/cifar100` layouts (an `img` struct column of {bytes, path}, integer label columns, the
`huggingface` metadata naming the classes), written as `datasets` writes them (pyarrow, snappy).
One cifar100 row holds bytes that are not an image, for the skipped-row path.

    /tmp/refvenv/bin/pip install pyarrow pillow numpy
    /tmp/refvenv/bin/python tools/make_parquet_fixtures.py
"""
import io
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "parquet")
CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def png(seed):
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, format="PNG")
    return buf.getvalue()


def write(path, columns, features):
    table = pa.table(columns)
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    table = table.replace_schema_metadata(meta)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(table, path, compression="snappy")


def main():
    img_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    for split, labels in [("train", [0, 3, 9, 3]), ("test", [1, 8, 5])]:
        imgs = [{"bytes": png(i * 7 + len(split)), "path": None} for i in range(len(labels))]
        write(
            os.path.join(OUT, "cifar10", "plain_text", f"{split}-00000-of-00001.parquet"),
            {"img": pa.array(imgs, type=img_type), "label": pa.array(labels, type=pa.int64())},
            {"img": {"_type": "Image"}, "label": {"names": CIFAR10, "_type": "ClassLabel"}},
        )
    fine_names = [f"class_{i}" for i in range(100)]
    fine_names[1] = "aquarium_fish"
    imgs = [{"bytes": png(100 + i), "path": f"{i}.png"} for i in range(3)]
    imgs.append({"bytes": b"these bytes are not an image", "path": "broken.png"})
    write(
        os.path.join(OUT, "cifar100", "cifar100", "test-00000-of-00001.parquet"),
        {
            "img": pa.array(imgs, type=img_type),
            "fine_label": pa.array([1, 42, 99, 0], type=pa.int64()),
            "coarse_label": pa.array([0, 1, 2, 3], type=pa.int64()),
        },
        {
            "img": {"_type": "Image"},
            "fine_label": {"names": fine_names, "_type": "ClassLabel"},
            "coarse_label": {"names": [f"super_{i}" for i in range(20)], "_type": "ClassLabel"},
        },
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
