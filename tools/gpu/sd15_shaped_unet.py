#!/usr/bin/env python3
"""GPU cost probe for the compass: how a Stable-Diffusion-1.5-sized UNet's step time grows with batch size.

A plain-PyTorch replica of SD 1.5's UNet shape (block channels 320/640/1280/1280, two layers per block,
one transformer layer with self-attention, cross-attention to 77x768 text states and a GEGLU feed-forward,
8 heads) with random weights. Only its cost matters, not its output. Prints, per batch size B (the
guided batch is 2B: conditional + unconditional halves), the median step time and the time per image-step.
That curve says how much of hierarchical diffusion's saving in denoiser calls survives as GPU-seconds when
segments run small batches, against standard generation at a large batch.

Usage: python3 gpu_unet_probe.py [--check]   (--check: count parameters on the CPU, expect ~859.5M)

Copied unchanged from the project's shared/gpu/sd15_shaped_unet.py (given to the project for GPU cost
measurements), so that tools/gpu/export_unet.py can export the same UNet from a clone.
"""
import sys, time, math, statistics
import torch
import torch.nn as nn
import torch.nn.functional as F


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb=1280):
        super().__init__()
        self.n1, self.c1 = nn.GroupNorm(32, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.t = nn.Linear(temb, cout)
        self.n2, self.c2 = nn.GroupNorm(32, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, t):
        h = self.c1(F.silu(self.n1(x))) + self.t(F.silu(t))[:, :, None, None]
        return self.skip(x) + self.c2(F.silu(self.n2(h)))


class Attn(nn.Module):
    def __init__(self, d, ctx=None, heads=8):
        super().__init__()
        self.h = heads
        self.q = nn.Linear(d, d, bias=False)
        self.k = nn.Linear(ctx or d, d, bias=False)
        self.v = nn.Linear(ctx or d, d, bias=False)
        self.o = nn.Linear(d, d)

    def forward(self, x, c=None):
        c = x if c is None else c
        B, N, D = x.shape
        q, k, v = (t.view(B, -1, self.h, D // self.h).transpose(1, 2) for t in (self.q(x), self.k(c), self.v(c)))
        if hasattr(F, "scaled_dot_product_attention"):
            a = F.scaled_dot_product_attention(q, k, v)
        else:  # older PyTorch (CPU check only)
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), -1) @ v
        return self.o(a.transpose(1, 2).reshape(B, N, D))


class Transformer(nn.Module):
    def __init__(self, ch, ctx=768):
        super().__init__()
        self.n, self.pin, self.pout = nn.GroupNorm(32, ch), nn.Conv2d(ch, ch, 1), nn.Conv2d(ch, ch, 1)
        self.l1, self.a1 = nn.LayerNorm(ch), Attn(ch)
        self.l2, self.a2 = nn.LayerNorm(ch), Attn(ch, ctx)
        self.l3, self.ff1, self.ff2 = nn.LayerNorm(ch), nn.Linear(ch, ch * 8), nn.Linear(ch * 4, ch)

    def forward(self, x, c):
        B, C, H, W = x.shape
        h = self.pin(self.n(x)).flatten(2).transpose(1, 2)
        h = h + self.a1(self.l1(h))
        h = h + self.a2(self.l2(h), c)
        a, g = self.ff1(self.l3(h)).chunk(2, -1)
        h = h + self.ff2(a * F.gelu(g))
        return x + self.pout(h.transpose(1, 2).reshape(B, C, H, W))


class UNet(nn.Module):
    def __init__(self, ch=(320, 640, 1280, 1280), attn=(True, True, True, False)):
        super().__init__()
        self.temb = nn.Sequential(nn.Linear(320, 1280), nn.SiLU(), nn.Linear(1280, 1280))
        self.cin = nn.Conv2d(4, ch[0], 3, padding=1)
        self.down, skips, c = nn.ModuleList(), [ch[0]], ch[0]
        for i, co in enumerate(ch):
            for _ in range(2):
                self.down.append(nn.ModuleList([ResBlock(c, co), Transformer(co) if attn[i] else nn.Identity()]))
                c = co; skips.append(c)
            if i < len(ch) - 1:
                self.down.append(nn.Conv2d(c, c, 3, stride=2, padding=1)); skips.append(c)
        self.mid = nn.ModuleList([ResBlock(c, c), Transformer(c), ResBlock(c, c)])
        self.up = nn.ModuleList()
        for i, co in reversed(list(enumerate(ch))):
            for _ in range(3):
                self.up.append(nn.ModuleList([ResBlock(c + skips.pop(), co), Transformer(co) if attn[i] else nn.Identity()]))
                c = co
            if i > 0:
                self.up.append(nn.Conv2d(c, c, 3, padding=1))
        self.out = nn.Sequential(nn.GroupNorm(32, c), nn.SiLU(), nn.Conv2d(c, 4, 3, padding=1))

    def forward(self, x, t, ctx):
        half = 160
        f = torch.exp(-math.log(10000) * torch.arange(half, device=x.device) / half)
        e = t[:, None].float() * f[None]
        temb = self.temb(torch.cat([e.cos(), e.sin()], 1).to(x.dtype))
        h, hs = self.cin(x), []
        hs.append(h)
        for m in self.down:
            if isinstance(m, nn.Conv2d):
                h = m(h)
            else:
                h = m[0](h, temb)
                h = m[1](h, ctx) if isinstance(m[1], Transformer) else h
            hs.append(h)
        h = self.mid[2](self.mid[1](self.mid[0](h, temb), ctx), temb)
        for m in self.up:
            if isinstance(m, nn.Conv2d):
                h = m(F.interpolate(h, scale_factor=2.0, mode="nearest"))
            else:
                h = m[0](torch.cat([h, hs.pop()], 1), temb)
                h = m[1](h, ctx) if isinstance(m[1], Transformer) else h
        return self.out(h)


def main():
    if "--check" in sys.argv:
        net = UNet()
        print(f"parameters: {sum(p.numel() for p in net.parameters()) / 1e6:.1f} M (SD 1.5 UNet: 859.5 M)")
        with torch.no_grad():
            y = net(torch.randn(1, 4, 16, 16), torch.tensor([500]), torch.randn(1, 77, 768))
        print("forward ok", tuple(y.shape))
        return
    dev, dt = "cuda", torch.float16
    net = UNet().to(dev, dt).eval()
    print(f"{torch.cuda.get_device_name()}  fp16  64x64 latents (512x512 images)")
    print(f"{'B':>4} {'guided batch':>12} {'ms/step':>9} {'ms/image-step':>14} {'rel. efficiency':>16}")
    base = None
    with torch.inference_mode():
        for B in (1, 2, 4, 8, 16, 32):
            x = torch.randn(2 * B, 4, 64, 64, device=dev, dtype=dt)
            t = torch.full((2 * B,), 500, device=dev)
            c = torch.randn(2 * B, 77, 768, device=dev, dtype=dt)
            for _ in range(3):
                net(x, t, c)
            torch.cuda.synchronize()
            times = []
            for _ in range(10):
                s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                s.record(); net(x, t, c); e.record(); torch.cuda.synchronize()
                times.append(s.elapsed_time(e))
            ms = statistics.median(times)
            per = ms / B
            base = base or per
            print(f"{B:>4} {2 * B:>12} {ms:>9.2f} {per:>14.2f} {base / per:>16.2f}x")


if __name__ == "__main__":
    main()
