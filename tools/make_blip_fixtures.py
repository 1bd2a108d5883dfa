#!/usr/bin/env python3
"""Writes fixtures/blip-tiny/: a tiny randomly initialised Hugging Face
BlipForConditionalGeneration folder (config.json, model.safetensors, vocab.txt) and, in
expected.json, what transformers computes with it: the preprocessed pixels of a fixture picture
(Pillow backend), the vision tower's last hidden state, the text decoder's logits for fixed
ids, and greedy captions with their decoded text. The Rust captioner's parity tests compare.

    /tmp/refvenv/bin/pip install torch transformers safetensors pillow
    /tmp/refvenv/bin/python tools/make_blip_fixtures.py
Nothing is downloaded: the model is random, the vocabulary made up.
"""
import json
import os

import torch
from PIL import Image
from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessorPil

ROOT = os.path.join(os.path.dirname(__file__), "..", "fixtures")
OUT = os.path.join(ROOT, "blip-tiny")
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["a", "an", "the", "of", "on", "in", "with", "and", "dog", "dogs", "cat", "red", "blue", "ball",
         "grass", "man", "woman", "riding", "bike", "street", "two", "people", "sitting", "at", "table",
         "sky", "water", "boat", "tree", "house", "car", "white", "black", "small", "large", "playing",
         "walking", "down", "group", "field", "##s", "##ing", "is", ".", ",", "there", "photo", "picture",
         "close", "up", "green", "yellow", "star"]
SIDE = 32
SCALE = 0.3
SEP_BIAS = 4.0


def main():
    os.makedirs(OUT, exist_ok=True)
    vocab = SPECIAL + WORDS
    with open(os.path.join(OUT, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    bos = len(vocab)  # [DEC], an added token beyond vocab.txt, as in Salesforce's BLIP
    torch.manual_seed(0)
    text = dict(vocab_size=len(vocab) + 2, hidden_size=24, encoder_hidden_size=32, intermediate_size=30,
                num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=32,
                bos_token_id=bos, sep_token_id=3, pad_token_id=0, eos_token_id=2)
    vision = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                  image_size=SIDE, patch_size=8, projection_dim=16, initializer_range=0.02)
    config = BlipConfig(text_config=text, vision_config=vision, projection_dim=16)
    model = BlipForConditionalGeneration(config).eval()
    with torch.no_grad():
        # Weights far from their near-zero initialisation, so captions depend on the picture;
        # a bias toward [SEP] lets captions end before the length limit.
        for name, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * SCALE + (1.0 if "LayerNorm.weight" in name or "layer_norm" in name and name.endswith("weight") else 0.0))
        model.text_decoder.cls.predictions.bias[3] += SEP_BIAS
    model.save_pretrained(OUT, safe_serialization=True)

    processor = BlipImageProcessorPil(size={"height": SIDE, "width": SIDE})
    pictures = ["wide_rgb.png", "palette.png", "small_rgb.png", "rgba.png"]
    images = [Image.open(os.path.join(ROOT, "preprocess", p)) for p in pictures]
    pixels = processor(images=images, return_tensors="pt")["pixel_values"]
    tokenizer = BertTokenizer(os.path.join(OUT, "vocab.txt"))
    ids = torch.tensor([[bos, 8, 40, 13, 27]])
    with torch.no_grad():
        hidden = model.vision_model(pixel_values=pixels).last_hidden_state
        logits = model.text_decoder(input_ids=ids, encoder_hidden_states=hidden[:1]).logits
        generated = model.generate(pixel_values=pixels, max_length=12, num_beams=1, do_sample=False)
    captions = [tokenizer.decode([t for t in g.tolist() if t < len(vocab)], skip_special_tokens=True)
                for g in generated]
    # WordPiece joins ("dog ##s"), punctuation clean-up, special tokens dropped.
    decode_ids = [[2, 8, 45, 15, 46, 21, 19, 47, 3], [20, 21, 22, 23, 2, 24, 48, 0, 0], [1, 10, 4, 11, 46, 6, 40]]
    decode_cases = [[i, tokenizer.decode(i, skip_special_tokens=True)] for i in decode_ids]
    expected = {"decode_cases": decode_cases, "pictures": pictures, "pixels": pixels.flatten().tolist(), "pixel_shape": list(pixels.shape),
                "hidden": hidden[0].flatten().tolist(), "hidden_shape": list(hidden[0].shape),
                "input_ids": ids[0].tolist(), "logits": logits[0].flatten().tolist(),
                "logits_shape": list(logits[0].shape), "max_length": 12,
                "generated": [[t for t in g.tolist() if t != 0] for g in generated], "captions": captions}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f)
    print(f"wrote {OUT}: {captions}")


if __name__ == "__main__":
    main()
