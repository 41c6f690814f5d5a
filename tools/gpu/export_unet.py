#!/usr/bin/env python3
"""Exports sd15_shaped_unet.py's UNet (Stable Diffusion 1.5's shape, random weights) to ONNX in the layout
HierDiff loads: unet/model.onnx with sample [B,4,H,W], timestep, encoder_hidden_states [B,77,768] -> out_sample,
batch dynamic; plus unet/config.json. Used by tools/gpu/device.sh to measure the CUDA path on a real GPU.

  --out DIR            an export folder (its unet/ is replaced)
  --timestep batch     timestep float32 [B]: one call can mix steps (full batches)
  --timestep scalar    timestep float32 scalar: every call is one step (batching as before full batches)
  --fp16               weights, sample, states and output in float16 (as a --fp16 export)
  --scale N            divide every block's channels by N (10: a 9 M-parameter UNet for a CPU dry run)
  --device cpu|cuda

Runs on Debian's torch 1.13 (CPU) and on PyTorch 2.x (legacy TorchScript exporter: dynamo=False).
"""
import argparse, inspect, json, os, sys
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sd15_shaped_unet import UNet  # noqa: E402


class Export(nn.Module):
    def __init__(self, net, scalar):
        super().__init__()
        self.net, self.scalar = net, scalar

    def forward(self, sample, timestep, encoder_hidden_states):
        t = timestep.reshape(1).expand(sample.shape[0]) if self.scalar else timestep
        return self.net(sample, t, encoder_hidden_states)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--timestep", choices=["batch", "scalar"], default="batch")
    p.add_argument("--fp16", action="store_true")
    p.add_argument("--scale", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--latent", type=int, default=64)
    a = p.parse_args()
    torch.manual_seed(0)
    ch = tuple(c // a.scale for c in (320, 640, 1280, 1280))
    dtype = torch.float16 if a.fp16 else torch.float32
    net = Export(UNet(ch=ch), a.timestep == "scalar").to(a.device, dtype).eval()
    params = sum(q.numel() for q in net.parameters())
    sample = torch.randn(2, 4, a.latent, a.latent, device=a.device, dtype=dtype)
    t = torch.tensor(500.0, device=a.device) if a.timestep == "scalar" else torch.full((2,), 500.0, device=a.device)
    states = torch.randn(2, 77, 768, device=a.device, dtype=dtype)
    unet = os.path.join(a.out, "unet")
    os.makedirs(unet, exist_ok=True)
    for f in os.listdir(unet):
        os.remove(os.path.join(unet, f))
    axes = {"sample": {0: "batch"}, "encoder_hidden_states": {0: "batch"}, "out_sample": {0: "batch"}}
    if a.timestep == "batch":
        axes["timestep"] = {0: "batch"}
    extra = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    with torch.no_grad():
        torch.onnx.export(net, (sample, t, states), os.path.join(unet, "model.onnx"), opset_version=17,
                          input_names=["sample", "timestep", "encoder_hidden_states"], output_names=["out_sample"],
                          dynamic_axes=axes, **extra)
    with open(os.path.join(unet, "config.json"), "w") as f:
        json.dump({"_class_name": "UNet2DConditionModel", "sample_size": a.latent, "in_channels": 4, "out_channels": 4,
                   "cross_attention_dim": 768}, f)
    size = sum(os.path.getsize(os.path.join(unet, f)) for f in os.listdir(unet))
    print(f"{unet}: {params / 1e6:.1f} M parameters, timestep {a.timestep}, {'fp16' if a.fp16 else 'fp32'}, {size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
