#!/usr/bin/env python3
"""Writes fixtures/kandinsky-tiny/: tiny randomly initialised Kandinsky 2.2 folders in the
layout of the hub repos (decoder/{unet,movq,scheduler}, prior/{prior,text_encoder,image_encoder,
scheduler}) and, in expected.json, what diffusers and transformers compute with them: one UNet
call, one MoVQ decode, DDPM and UnCLIP scheduler steps with given noise, the whole decoder
pipeline and the whole prior loop with given starting latents and step noise, and the image
encoder's embedding of a zero picture. The Rust parity tests compare. The text encoder has CLIP's real 49,408-token vocabulary, so
prompts tokenized with CLIP's BPE run through it; it is stored in f16.

    /tmp/refvenv/bin/pip install torch transformers diffusers safetensors
    /tmp/refvenv/bin/python tools/make_kandinsky_fixtures.py
Nothing is downloaded: every model is random.
"""
import json
import os

import numpy as np
import torch
import diffusers.schedulers.scheduling_ddpm as ddpm_module
import diffusers.schedulers.scheduling_unclip as unclip_module
from diffusers import DDPMScheduler, KandinskyV22Pipeline, PriorTransformer, UnCLIPScheduler, UNet2DConditionModel, VQModel
from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPVisionConfig, CLIPVisionModelWithProjection

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "kandinsky-tiny")
EMBED = 32  # the tiny stand-in for the 1280-d ViT-bigG/14 image embedding
STEPS = 3
GUIDANCE = 4.0
SIDE = 32  # generated picture side


def perturb(model, scale=0.1):
    """Moves every weight off its initialisation, so no path is silently zero."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(torch.randn_like(p) * scale)


def flat(t):
    return t.detach().double().flatten().tolist()


class NoiseQueue:
    """Stands in for randn_tensor inside scheduler steps, handing out recorded noise."""

    def __init__(self):
        self.drawn = []

    def __call__(self, shape, generator=None, device=None, dtype=None, **kw):
        x = torch.randn(shape, generator=generator, dtype=torch.float32)
        self.drawn.append(flat(x))
        return x.to(dtype or torch.float32)


def unet_and_movq():
    unet = UNet2DConditionModel(
        in_channels=4, out_channels=8, addition_embed_type="image",
        down_block_types=("ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D", "SimpleCrossAttnDownBlock2D"),
        up_block_types=("SimpleCrossAttnUpBlock2D", "SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"),
        mid_block_type="UNetMidBlock2DSimpleCrossAttn", block_out_channels=(16, 32, 32), layers_per_block=2,
        encoder_hid_dim=EMBED, encoder_hid_dim_type="image_proj", cross_attention_dim=24, attention_head_dim=8,
        resnet_time_scale_shift="scale_shift", class_embed_type=None, norm_num_groups=8,
    ).eval()
    perturb(unet)
    movq = VQModel(
        block_out_channels=[32, 32], down_block_types=["DownEncoderBlock2D", "AttnDownEncoderBlock2D"],
        in_channels=3, latent_channels=4, layers_per_block=1, norm_num_groups=8, norm_type="spatial",
        num_vq_embeddings=12, out_channels=3, up_block_types=["AttnUpDecoderBlock2D", "UpDecoderBlock2D"],
        vq_embed_dim=4,
    ).eval()
    perturb(movq)
    return unet, movq


def decoder_scheduler():
    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", beta_start=0.00085, beta_end=0.012,
                         clip_sample=False, steps_offset=1, prediction_type="epsilon",
                         thresholding=False)


def towers():
    vision = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, image_size=32,
        patch_size=8, projection_dim=EMBED, hidden_act="gelu")).eval()
    text = CLIPTextModelWithProjection(CLIPTextConfig(
        vocab_size=49408, hidden_size=EMBED, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=77, projection_dim=EMBED, hidden_act="gelu", bos_token_id=0, eos_token_id=2,
        pad_token_id=1)).eval()
    perturb(vision, 0.05)
    perturb(text, 0.05)
    with torch.no_grad():
        # The real vocabulary makes the token table the largest tensor here; it is stored in
        # f16, so every weight is made exactly representable there first.
        for p in text.parameters():
            p.copy_(p.half().float())
    return vision, text


def prior_model():
    prior = PriorTransformer(num_attention_heads=2, attention_head_dim=16, embedding_dim=EMBED, num_layers=2).eval()
    perturb(prior)
    with torch.no_grad():
        prior.clip_mean.copy_(torch.randn_like(prior.clip_mean) * 0.5)
        prior.clip_std.copy_(torch.rand_like(prior.clip_std) + 0.5)
    return prior


def prior_scheduler():
    return UnCLIPScheduler(clip_sample=True, clip_sample_range=10.0, num_train_timesteps=1000,
                           prediction_type="sample", variance_type="fixed_small_log")


def scheduler_cases(expected):
    """Timesteps and single steps with given noise, for both schedulers and several variances."""
    cases = []
    for variance in ["fixed_small", "learned_range"]:
        s = decoder_scheduler()
        s.register_to_config(variance_type=variance)
        s.variance_type = variance
        s.set_timesteps(7)
        sample = torch.randn(1, 4, 3, 3)
        out = torch.randn(1, 8 if variance == "learned_range" else 4, 3, 3) * 0.5
        steps = []
        for t in s.timesteps.tolist():
            queue = NoiseQueue()
            ddpm_module.randn_tensor = queue
            prev = s.step(out, t, sample).prev_sample
            steps.append({"t": t, "noise": queue.drawn[0] if queue.drawn else [], "prev": flat(prev)})
        cases.append({"kind": "ddpm", "variance_type": variance, "timesteps": s.timesteps.tolist(),
                      "sample": flat(sample), "model_output": flat(out), "shape": list(out.shape), "steps": steps})
    s = prior_scheduler()
    s.set_timesteps(5)
    sample = torch.randn(2, EMBED)
    out = torch.randn(2, EMBED) * 3
    steps = []
    ts = s.timesteps.tolist()
    for i, t in enumerate(ts):
        queue = NoiseQueue()
        unclip_module.randn_tensor = queue
        prev_t = None if i + 1 == len(ts) else ts[i + 1]
        prev = s.step(out, t, sample, prev_timestep=prev_t).prev_sample
        steps.append({"t": t, "noise": queue.drawn[0] if queue.drawn else [], "prev": flat(prev)})
    cases.append({"kind": "unclip", "variance_type": "fixed_small_log", "timesteps": ts, "sample": flat(sample),
                  "model_output": flat(out), "shape": list(out.shape), "steps": steps})
    expected["schedulers"] = cases


def main():
    torch.manual_seed(0)
    expected = {"steps": STEPS, "guidance_scale": GUIDANCE, "side": SIDE}
    unet, movq = unet_and_movq()
    vision, text = towers()
    prior = prior_model()
    dec, pri = os.path.join(OUT, "decoder"), os.path.join(OUT, "prior")
    unet.save_pretrained(os.path.join(dec, "unet"))
    movq.save_pretrained(os.path.join(dec, "movq"))
    decoder_scheduler().save_pretrained(os.path.join(dec, "scheduler"))
    prior.save_pretrained(os.path.join(pri, "prior"))
    prior_scheduler().save_pretrained(os.path.join(pri, "scheduler"))
    vision.save_pretrained(os.path.join(pri, "image_encoder"))
    text.save_pretrained(os.path.join(pri, "text_encoder"))

    with torch.no_grad():
        # One UNet call: two samples at different places, CFG-style batch.
        sample = torch.randn(2, 4, 8, 8)
        embeds = torch.randn(2, EMBED)
        t = torch.tensor(421)
        out = unet(sample=sample, timestep=t, encoder_hidden_states=None, added_cond_kwargs={"image_embeds": embeds}).sample
        expected["unet"] = {"sample": flat(sample), "sample_shape": list(sample.shape), "timestep": 421,
                            "image_embeds": flat(embeds), "out": flat(out), "out_shape": list(out.shape)}
        # One MoVQ decode, unquantised as the pipeline does it.
        latents = torch.randn(1, 4, 6, 6)
        image = movq.decode(latents, force_not_quantize=True).sample
        expected["movq"] = {"latents": flat(latents), "latents_shape": list(latents.shape), "image": flat(image),
                            "image_shape": list(image.shape)}
        scheduler_cases(expected)

        # The decoder pipeline, end to end, with given latents and recorded step noise.
        pipe = KandinskyV22Pipeline(unet=unet, scheduler=decoder_scheduler(), movq=movq)
        image_embeds, negative = torch.randn(1, EMBED), torch.randn(1, EMBED)
        start = torch.randn(1, 4, SIDE // 2, SIDE // 2)
        queue = NoiseQueue()
        ddpm_module.randn_tensor = queue
        picture = pipe(image_embeds=image_embeds, negative_image_embeds=negative, height=SIDE, width=SIDE,
                       num_inference_steps=STEPS, guidance_scale=GUIDANCE, latents=start.clone(),
                       output_type="np").images
        expected["pipeline"] = {"image_embeds": flat(image_embeds), "negative_image_embeds": flat(negative),
                                "latents": flat(start), "latents_shape": list(start.shape), "noise": queue.drawn,
                                "image": flat(torch.from_numpy(picture)), "image_shape": list(picture.shape)}

        # Towers: the image encoder's zero-picture embedding (the prior's negative) and text states.
        zero = torch.zeros(1, 3, 32, 32)
        expected["zero_image_embed"] = flat(vision(pixel_values=zero).image_embeds)
        ids = [[0, 5, 17, 250, 999] + [0] * 72, [0, 999] + [0] * 75]
        lengths = [5, 2]
        out = text(input_ids=torch.tensor(ids))
        expected["text"] = {"ids": ids, "lengths": lengths, "text_embeds": flat(out.text_embeds),
                            "last_hidden_state": flat(out.last_hidden_state)}

        # The prior loop as KandinskyV22PriorPipeline runs it, from ids (row 0: prompt, row 1: "").
        prompt_embeds = torch.cat([out.text_embeds[1:2], out.text_embeds[0:1]])
        states = torch.cat([out.last_hidden_state[1:2], out.last_hidden_state[0:1]])
        mask = torch.tensor([[j < n for j in range(77)] for n in [lengths[1], lengths[0]]])
        scheduler = prior_scheduler()
        scheduler.set_timesteps(STEPS)
        start = torch.randn(1, EMBED)
        latents = start.clone()
        queue = NoiseQueue()
        unclip_module.randn_tensor = queue
        ts = scheduler.timesteps
        single = None
        for i, t in enumerate(ts):
            pred = prior(torch.cat([latents] * 2), timestep=t, proj_embedding=prompt_embeds,
                         encoder_hidden_states=states, attention_mask=mask).predicted_image_embedding
            if single is None:
                single = flat(pred)
            uncond, cond = pred.chunk(2)
            pred = uncond + GUIDANCE * (cond - uncond)
            prev = None if i + 1 == ts.shape[0] else ts[i + 1]
            latents = scheduler.step(pred, timestep=t, sample=latents, prev_timestep=prev).prev_sample
        embeds = prior.post_process_latents(latents)
        expected["prior"] = {"latents": flat(start), "noise": queue.drawn, "first_prediction": single,
                             "first_timestep": int(ts[0]), "image_embeds": flat(embeds)}

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f)
    text.half().save_pretrained(os.path.join(pri, "text_encoder"))


if __name__ == "__main__":
    main()
