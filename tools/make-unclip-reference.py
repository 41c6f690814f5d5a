#!/usr/bin/env python3
"""Reference numbers for UnClipSchedulerTests: diffusers' own UnCLIPScheduler (schedulers/scheduling_unclip.py).

Run with diffusers' source on the path and torch installed; on Debian's python3-torch 1.13 (no huggingface_hub and
friends) the stand-ins of tools/diffusers_stubs.py let diffusers import:

    PYTHONPATH=/path/to/diffusers/src:tools /usr/bin/python3 tools/make-unclip-reference.py

The variance noise randn_tensor would draw is replaced by sin(1.1 j), so C# can give the same noise.
"""
import math

import diffusers_stubs  # noqa: F401  (only needed where huggingface_hub etc. are missing)
import torch
import diffusers.schedulers.scheduling_unclip as unclip

E = 8


def fixed_noise(shape, **kwargs):
    return torch.tensor([[math.sin(1.1 * j) for j in range(shape[-1])]] * shape[0], dtype=torch.float32)


unclip.randn_tensor = fixed_noise


def case(name, steps, **config):
    scheduler = unclip.UnCLIPScheduler(**config)
    scheduler.set_timesteps(steps)
    timesteps = scheduler.timesteps.tolist()
    print(f"// {name}: UnCLIPScheduler({config}), {steps} steps")
    print(f"// timesteps: {timesteps}")
    sample = torch.tensor([[2 * math.sin(0.3 * j) for j in range(E)]], dtype=torch.float32)
    output = torch.tensor([[12 * math.cos(0.7 * j) for j in range(E)]], dtype=torch.float32)
    for i in sorted({0, 1, steps // 2, steps - 1}):
        prev = None if i + 1 == len(timesteps) else timesteps[i + 1]
        result = scheduler.step(output, timestep=timesteps[i], sample=sample, prev_timestep=prev).prev_sample
        values = ", ".join(f"{v:.9g}f" for v in result[0].tolist())
        print(f"{{ {i}, new float[] {{ {values} }} }},")


case("kandinsky-2-2-prior", 25, clip_sample=True, clip_sample_range=10.0, prediction_type="sample", variance_type="fixed_small_log")
case("karlo-like epsilon", 25, clip_sample=True, clip_sample_range=1.0, prediction_type="epsilon", variance_type="fixed_small_log")
