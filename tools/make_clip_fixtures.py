#!/usr/bin/env python3
"""Writes fixtures/clip-tiny-{gelu,quick_gelu}/: tiny randomly initialised Hugging Face
CLIPModel folders (config.json + model.safetensors) and, in expected.json, their projected
image and text embeddings for fixed inputs. The Rust CLIP's parity tests compare.

    /tmp/refvenv/bin/pip install torch transformers safetensors
    /tmp/refvenv/bin/python tools/make_clip_fixtures.py
Nothing is downloaded: the models are random.
"""
import json
import os

import torch
from transformers import CLIPConfig, CLIPModel

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures")


def main():
    for act in ["gelu", "quick_gelu"]:
        torch.manual_seed(0)
        text = dict(vocab_size=99, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                    max_position_embeddings=16, hidden_act=act, eos_token_id=98, bos_token_id=97, pad_token_id=0)
        vision = dict(hidden_size=40, intermediate_size=53, num_hidden_layers=2, num_attention_heads=5,
                      image_size=30, patch_size=10, num_channels=3, hidden_act=act)
        config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=24)
        model = CLIPModel(config).eval()
        folder = os.path.join(OUT, f"clip-tiny-{act}")
        model.save_pretrained(folder, safe_serialization=True)
        g = torch.Generator().manual_seed(1)
        pixels = torch.randn(2, 3, 30, 30, generator=g)
        ids = torch.tensor([[97, 5, 17, 42, 98, 0, 0, 0], [97, 60, 61, 62, 63, 64, 65, 98]])
        with torch.no_grad():
            # Projected pooled outputs, spelled out (get_*_features changed return types).
            img = model.visual_projection(model.vision_model(pixel_values=pixels).pooler_output)
            txt = model.text_projection(model.text_model(input_ids=ids).pooler_output)
        expected = {"pixels": pixels.flatten().tolist(), "pixel_shape": list(pixels.shape), "input_ids": ids.tolist(),
                    "image_embeds": img.tolist(), "text_embeds": txt.tolist(),
                    "logit_scale": float(model.logit_scale.exp())}
        with open(os.path.join(folder, "expected.json"), "w") as f:
            json.dump(expected, f)
        print(f"wrote {folder}")


if __name__ == "__main__":
    main()
