#!/usr/bin/env python3
"""Writes fixtures/clip_tokens.json: open_clip's token ids for prompts that exercise its text
clean-up (ftfy, HTML entities, whitespace), lower-casing, punctuation, digits, accents, emoji
and truncation to 77 tokens. The Rust tokenizer's tests compare against it.

    python3 -m venv /tmp/tokvenv && /tmp/tokvenv/bin/pip install open_clip_torch ftfy regex
    /tmp/tokvenv/bin/python tools/make_token_fixtures.py
Nothing is downloaded: the BPE vocabulary ships inside the open_clip package.
"""
import json
import os

import open_clip

PROMPTS = [
    "a photo of a cat.",
    "Hi there",
    "A PHOTO OF A DOG!!!",
    "a photo of the big aquarium fish, a type of pet.",
    "1234567890 and 3.14159, 42nd street",
    "café crème brûlée naïve résumé",
    "Zürich, Ærø, Øresund, São Paulo",
    "emoji 🐱 cat 🚀 rocket 👍🏽",
    "&amp; &lt;b&gt;bold&lt;/b&gt; &amp;amp; entities",
    "curly “quotes” and ‘apostrophes’ don’t",
    "fullwidth ＡＢＣ　１２３",
    "  lots   of\twhite\nspace  ",
    "hyphen-ated, slash/separated; semi:colon (parens) [brackets] {braces}",
    "it's they're we'll I'd you've can't",
    "",
    "a " + "very " * 100 + "long prompt that must be truncated",
]


def main():
    tok = open_clip.get_tokenizer("ViT-B-32")
    rows = []
    for p in PROMPTS:
        ids = tok([p])[0].tolist()
        while ids and ids[-1] == 0:
            ids.pop()
        rows.append({"prompt": p, "ids": ids})
    out = os.path.join(os.path.dirname(__file__), "..", "fixtures", "clip_tokens.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"context_length": 77, "open_clip": open_clip.__version__, "cases": rows}, f, ensure_ascii=False, indent=1)
    print(f"wrote {len(rows)} cases to {out}")


if __name__ == "__main__":
    main()
