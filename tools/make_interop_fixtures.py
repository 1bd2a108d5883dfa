#!/usr/bin/env python3
"""Writes fixtures/interop/: SAEs in SAELens' and sparsify's layouts, and what those libraries
compute with them, for the parity tests of `saelab import` and `saelab export`.

- inputs.npy: 256 rows of 16-d embeddings, saved by numpy (`saelab import-set` reads it);
  inputs.parquet: the same rows as a column `embedding` of float lists beside a `label`
  column, and labels.csv: those labels, one a row.
- saelens/<arch>/: random SAEs saved by SAELens itself (standard, topk, jumprelu, and
  standard without apply_b_dec_to_input), each with expected.safetensors.
- sparsify/topk/: a random SAE saved by eai-sparsify, with expected.safetensors.
- ours/<arch>-saelens/ and ours/topk-sparsify/: runs trained and exported by the saelab binary
  given as the first argument, then loaded with `SAE.load_from_disk` / `SparseCoder.load_from_disk`,
  with those libraries' outputs in expected.safetensors.

expected.safetensors holds `x` [8, 16] (the first 8 input rows), `z` [8, m] (the latents) and
`x_hat` [8, 16] (the reconstruction), all as the library computes them.

    python3 -m venv /tmp/interop && /tmp/interop/bin/pip install sae-lens eai-sparsify
    cargo build && /tmp/interop/bin/python tools/make_interop_fixtures.py target/debug/saelab
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

# sparsify's Triton decoder needs a GPU; its eager one computes the same sum on the CPU.
os.environ.setdefault("SPARSIFY_DISABLE_TRITON", "1")

OUT = Path(__file__).resolve().parent.parent / "fixtures" / "interop"
D, M, K, ROWS, SHOWN = 16, 32, 4, 256, 8


def expected(folder, x, z, x_hat):
    save_file(
        {"x": x.contiguous(), "z": z.contiguous(), "x_hat": x_hat.contiguous()},
        str(folder / "expected.safetensors"),
    )


def randomise(sae, gen):
    """Every parameter random, biases included, so no term of the forward goes untested."""
    with torch.no_grad():
        for name, p in sae.named_parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * (0.5 if "b_" in name else 1.0))
        if hasattr(sae, "threshold"):
            sae.threshold.copy_(torch.rand(M, generator=gen) * 0.5)


def saelens_outputs(sae, x):
    with torch.no_grad():
        z = sae.encode(x)
        return z, sae.decode(z)


def from_saelens(x, gen):
    from sae_lens import (JumpReLUSAE, JumpReLUSAEConfig, StandardSAE,
                          StandardSAEConfig, TopKSAE, TopKSAEConfig)

    cases = {
        "standard": (StandardSAE, StandardSAEConfig(d_in=D, d_sae=M)),
        "standard-no-b-dec-in": (
            StandardSAE,
            StandardSAEConfig(d_in=D, d_sae=M, apply_b_dec_to_input=False),
        ),
        "topk": (TopKSAE, TopKSAEConfig(d_in=D, d_sae=M, k=K)),
        "jumprelu": (JumpReLUSAE, JumpReLUSAEConfig(d_in=D, d_sae=M)),
    }
    for name, (cls, cfg) in cases.items():
        sae = cls(cfg)
        randomise(sae, gen)
        folder = OUT / "saelens" / name
        shutil.rmtree(folder, ignore_errors=True)
        sae.save_model(str(folder))
        expected(folder, x, *saelens_outputs(sae, x))


def sparsify_outputs(sae, x):
    with torch.no_grad():
        out = sae.encode(x)
        z = torch.zeros(x.shape[0], sae.num_latents)
        z.scatter_(1, out.top_indices, out.top_acts)
        return z, sae.decode(out.top_acts, out.top_indices)


def from_sparsify(x, gen):
    from sparsify import SparseCoder, SparseCoderConfig

    sae = SparseCoder(D, SparseCoderConfig(num_latents=M, k=K))
    with torch.no_grad():
        for p in sae.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    folder = OUT / "sparsify" / "topk"
    shutil.rmtree(folder, ignore_errors=True)
    sae.save_to_disk(folder)
    expected(folder, x, *sparsify_outputs(sae, x))


def saelab(binary, ws, *args):
    subprocess.run([binary, "--workspace", str(ws), "--quiet", *args], check=True)


def from_saelab(binary, x):
    from sae_lens import SAE
    from sparsify import SparseCoder

    ours = OUT / "ours"
    shutil.rmtree(ours, ignore_errors=True)
    with tempfile.TemporaryDirectory() as ws:
        saelab(binary, ws, "import-set", str(OUT / "inputs.npy"), "--name", "x")
        runs = {
            "relu": ["--lambda", "1e-2"],
            "topk": ["--arch", "topk", "--k", str(K)],
            "jumprelu": ["--arch", "jumprelu", "--lambda", "1e-3"],
            "batchtopk": ["--arch", "batchtopk", "--k", str(K)],
            "matryoshka": ["--arch", "matryoshka", "--k", str(K)],
        }
        for arch, opts in runs.items():
            saelab(binary, ws, "train", "--data", "x", "--dict", str(M), "--epochs", "3",
                   "--batch", "32", "--name", arch, *opts)
            folder = ours / f"{arch}-saelens"
            saelab(binary, ws, "export", arch, str(folder), "--format", "saelens")
            expected(folder, x, *saelens_outputs(SAE.load_from_disk(str(folder)), x))
        folder = ours / "topk-sparsify"
        saelab(binary, ws, "export", "topk", str(folder), "--format", "sparsify")
        expected(folder, x, *sparsify_outputs(SparseCoder.load_from_disk(folder), x))


def main():
    binary = sys.argv[1]
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((ROWS, D)).astype(np.float32)
    np.save(OUT / "inputs.npy", inputs)
    import pyarrow as pa
    import pyarrow.parquet as pq

    labels = [f"class{i % 4}" for i in range(ROWS)]
    pq.write_table(
        pa.table({"embedding": list(inputs), "label": labels}), OUT / "inputs.parquet"
    )
    (OUT / "labels.csv").write_text("label\n" + "".join(f"{l}\n" for l in labels))
    x = torch.from_numpy(inputs[:SHOWN])
    gen = torch.Generator().manual_seed(0)
    from_saelens(x, gen)
    from_sparsify(x, gen)
    from_saelab(binary, x)
    print(json.dumps(sorted(str(p.relative_to(OUT)) for p in OUT.rglob("*.json"))))


if __name__ == "__main__":
    main()
