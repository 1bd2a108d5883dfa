#!/usr/bin/env python3
"""diffusers' side of benches/kandinsky.rs: one guided UNet call (batch 2) and one MoVQ
decode of Kandinsky 2.2's decoder at its real sizes, weights zero, on the CPU.

    KANDINSKY_BENCH_SIDE=256 /tmp/refvenv/bin/python tools/bench_kandinsky.py
"""
import json
import os
import time

import torch
from diffusers import UNet2DConditionModel, VQModel

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
SIDE = int(os.environ.get("KANDINSKY_BENCH_SIDE", "256"))


def zeroed(make):
    with torch.device("meta"):
        model = make()
    model = model.to_empty(device="cpu").eval()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    return model


def seconds(f):
    f()
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


unet = zeroed(lambda: UNet2DConditionModel(
    in_channels=4, out_channels=8, block_out_channels=(384, 768, 1152, 1536), layers_per_block=3,
    down_block_types=("ResnetDownsampleBlock2D",) + ("SimpleCrossAttnDownBlock2D",) * 3,
    up_block_types=("SimpleCrossAttnUpBlock2D",) * 3 + ("ResnetUpsampleBlock2D",),
    mid_block_type="UNetMidBlock2DSimpleCrossAttn", attention_head_dim=64, cross_attention_dim=768,
    encoder_hid_dim=1280, encoder_hid_dim_type="image_proj", addition_embed_type="image",
    resnet_time_scale_shift="scale_shift", class_embed_type=None))
movq = zeroed(lambda: VQModel(
    block_out_channels=[128, 256, 256, 512], down_block_types=["DownEncoderBlock2D"] * 3 + ["AttnDownEncoderBlock2D"],
    up_block_types=["AttnUpDecoderBlock2D"] + ["UpDecoderBlock2D"] * 3, in_channels=3, out_channels=3,
    latent_channels=4, layers_per_block=2, norm_type="spatial", num_vq_embeddings=16384, vq_embed_dim=4))
latent = SIDE // 8
sample = torch.randn(2, 4, latent, latent)
embeds = torch.randn(2, 1280)
with torch.no_grad():
    unet_s = seconds(lambda: unet(sample, 500, encoder_hidden_states=None, added_cond_kwargs={"image_embeds": embeds}))
    movq_s = seconds(lambda: movq.decode(sample[:1], force_not_quantize=True))
print(json.dumps({"side": SIDE, "unet_guided_step_s": unet_s, "movq_decode_s": movq_s,
                  "picture_50_steps_s": 50 * unet_s + movq_s}))
