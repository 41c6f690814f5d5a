#!/usr/bin/python3
"""Trains HierDiff's built-in model, a miniature Stable Diffusion for the shapes world, and exports it to ONNX in
the diffusers/optimum export layout.

    /usr/bin/python3 tools/train-builtin-model/train.py --work /tmp/hierdiff-train --out models/shapes-sd

Needs Debian 12's python3-torch, python3-onnx and libopenblas0-pthread (apt-get install), and the .NET SDK (the
training images come from `hierdiff world`). Every stage saves checkpoints in --work and resumes from them, so the
same command picks up where an interrupted run stopped. Stages:

1. data: `hierdiff world` writes images, prompts and labels.
2. text: a small transformer reads a prompt into six attribute slots (kind, shape colour, background, size,
   position, pattern). Its pooled output, which HierDiff clusters on, is the slots' class probabilities, weighted so
   that what early denoising steps decide (colours, layout) dominates and the pattern, decided last, counts little.
3. vae: an autoencoder between 64 x 64 images and 8 x 16 x 16 latents.
4. unet: a conditional UNet with cross-attention on the slots, v-prediction, min-SNR weights, EMA.
5. export: ONNX files, configs, the tokenizer, and model.json with what was trained.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SEQ = 77
HASH = 4093          # token ids are folded modulo this prime: the world needs ~60 words, not CLIP's 49,408
WIDTH = 64           # text hidden size
LATENT_CHANNELS = 8
LATENT_SIZE = 16
SLOTS = ["kind", "colour", "background", "size", "position", "pattern"]
CLASSES = [3, 8, 9, 3, 6, 5]  # the last class of background, size, position, pattern is "unsaid"
# Pooled-embedding weight of each slot: what the first denoising steps decide first, the pattern last and least.
POOL_WEIGHTS = [0.8, 1.0, 1.2, 0.9, 1.0, 0.2]
T_TRAIN = 1000


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


# ---------------------------------------------------------------------------------------------------- data

def load_tokenizer():
    vocab = json.load(open(os.path.join(REPO, "tests", "data", "clip", "vocab.json"), encoding="utf-8"))
    merges = open(os.path.join(REPO, "tests", "data", "clip", "merges.txt"), encoding="utf-8").read().split("\n")[1:]
    ranks = {tuple(m.split()): i for i, m in enumerate(merges) if m}
    return vocab, ranks


def bpe(word, ranks):
    symbols = list(word[:-1]) + [word[-1] + "</w>"]
    while len(symbols) > 1:
        pairs = [(ranks.get((a, b), 1e18), i) for i, (a, b) in enumerate(zip(symbols, symbols[1:]))]
        rank, i = min(pairs)
        if rank == 1e18:
            break
        symbols = symbols[:i] + [symbols[i] + symbols[i + 1]] + symbols[i + 2:]
    return symbols


def tokenize(texts, vocab, ranks):
    """CLIP ids for the world's plain ASCII prompts (lower-case words and commas), padded with the end token.
    The C# tokenizer is the reference; this covers the training vocabulary only."""
    import re
    out = np.full((len(texts), SEQ), 49407, dtype=np.int64)
    cache = {}
    for n, text in enumerate(texts):
        ids = [49406]
        for piece in re.findall(r"[a-z]+|[0-9]|[^\sa-z0-9]+", text.lower()):
            if piece not in cache:
                cache[piece] = [vocab[s] for s in bpe(piece, ranks)]
            ids += cache[piece]
        ids = ids[:SEQ - 1] + [49407]
        out[n, :len(ids)] = ids
    return out


def hierdiff(*args, capture=False):
    return subprocess.run(["dotnet", "run", "--project", os.path.join(REPO, "src", "HierDiff.Cli"), "-c", "Release", "-v", "q", "--", *args],
                          check=True, capture_output=capture, text=True).stdout


def stage_data(work, count):
    data = os.path.join(work, "data")
    if not os.path.exists(os.path.join(data, "labels.jsonl")):
        log(f"data: hierdiff world --count {count}")
        hierdiff("world", "--count", str(count), "--seed", "1", "--out", data)
    # The training tokenizer must give exactly the ids HierDiff's CLIP tokenizer gives at run time.
    sample = os.path.join(work, "tokenizer-check.txt")
    prompts = open(os.path.join(data, "prompts.txt"), encoding="utf-8").read().split("\n")[:3000]
    open(sample, "w", encoding="utf-8").write("\n".join(prompts) + "\n")
    reference = [json.loads(line)["ids"] for line in hierdiff("tokenize", "--tokenizer", os.path.join(REPO, "tests", "data", "clip"),
                                                               "--prompts", sample, capture=True).splitlines() if line.startswith("{")]
    vocab, ranks = load_tokenizer()
    ours = tokenize(prompts, vocab, ranks)
    for n, ids in enumerate(reference):
        padded = (ids[:SEQ - 1] + [49407] if len(ids) > SEQ else ids) + [49407] * max(0, SEQ - len(ids))
        if list(ours[n]) != padded:
            raise SystemExit(f"training tokenizer differs from hierdiff tokenize on {prompts[n]!r}")
    log("tokenizer check: 3000 prompts agree with hierdiff tokenize")
    return data


def load_data(data):
    images = np.load(os.path.join(data, "images.npy"), mmap_mode="r")
    prompts = open(os.path.join(data, "prompts.txt"), encoding="utf-8").read().split("\n")[:len(images)]
    labels = [json.loads(line) for line in open(os.path.join(data, "labels.jsonl"), encoding="utf-8")]
    said = np.array([[l["kind"], l["colour"],
                      8 if l["said_background"] < 0 else l["said_background"],
                      2 if l["said_size"] < 0 else l["said_size"],
                      5 if l["said_position"] < 0 else l["said_position"],
                      4 if l["said_pattern"] < 0 else l["said_pattern"]] for l in labels], dtype=np.int64)
    return images, prompts, said


# ---------------------------------------------------------------------------------------------------- models

class Block(nn.Module):
    """A pre-norm transformer block written out (no fused kernels, so it exports to plain ONNX ops)."""

    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x):
        b, n, c = x.shape
        d = c // self.heads
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d).permute(2, 0, 3, 1, 4)
        attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
        x = x + self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))
        return x + self.mlp(self.norm2(x))


class TextEncoder(nn.Module):
    """input_ids → (last_hidden_state [B, 77, 64], pooler_output [B, 33]). Tokens are read by a 2-layer transformer;
    six learned queries attend over them, one per attribute slot; each slot is classified. The first six output
    positions hold the slots (class probabilities times learned class embeddings), the rest are zero."""

    def __init__(self):
        super().__init__()
        self.tokens = nn.Embedding(HASH, WIDTH)
        self.positions = nn.Parameter(torch.randn(SEQ, WIDTH) * 0.02)
        self.encoder = nn.Sequential(Block(WIDTH, 4), Block(WIDTH, 4))
        self.norm = nn.LayerNorm(WIDTH)
        self.queries = nn.Parameter(torch.randn(len(SLOTS), WIDTH) * 0.1)
        self.key = nn.Linear(WIDTH, WIDTH)
        self.heads = nn.ModuleList([nn.Linear(WIDTH, c) for c in CLASSES])
        self.class_embeddings = nn.ModuleList([nn.Embedding(c, WIDTH) for c in CLASSES])
        self.slot_positions = nn.Parameter(torch.randn(len(SLOTS), WIDTH) * 0.1)
        self.register_buffer("pool_weights", torch.tensor(
            [w for w, c in zip(POOL_WEIGHTS, CLASSES) for _ in range(c)], dtype=torch.float32))

    def logits(self, ids):
        x = self.tokens(torch.remainder(ids.long(), HASH)) + self.positions
        x = self.norm(self.encoder(x))
        # Each slot's query attends over the tokens: one attention map per attribute.
        attn = torch.softmax(self.queries @ self.key(x).transpose(1, 2) / math.sqrt(WIDTH), dim=-1)
        slots = attn @ x
        return [head(slots[:, i]) for i, head in enumerate(self.heads)]

    def forward(self, ids):
        probs = [F.softmax(l, dim=-1) for l in self.logits(ids)]
        slots = torch.stack([p @ e.weight for p, e in zip(probs, self.class_embeddings)], dim=1) + self.slot_positions
        hidden = torch.cat([slots, torch.zeros(ids.shape[0], SEQ - len(SLOTS), WIDTH)], dim=1)
        pooled = torch.cat(probs, dim=-1) * self.pool_weights
        return hidden, pooled


class Autoencoder(nn.Module):
    """64 x 64 x 3 images ↔ 8 x 16 x 16 latents. The encoder reads 4 x 4 patches; the decoder works at 16 x 16 and
    writes each cell's 4 x 4 pixels at once (pixel shuffle), which keeps it cheap and its edges and patterns sharp."""

    def __init__(self):
        super().__init__()
        c = 96
        self.encoder = nn.Sequential(
            nn.Conv2d(3, c, 4, stride=4), nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c, LATENT_CHANNELS, 3, padding=1))
        self.decoder = VaeDecoder()

    def forward(self, x):
        z = self.encoder(x)
        return self.decoder(z), z


class VaeDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        c = 96
        self.net = nn.Sequential(
            nn.Conv2d(LATENT_CHANNELS, c, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c, 48, 1), nn.PixelShuffle(4))

    def forward(self, z):
        return self.net(z)


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float().reshape(-1, 1) * freqs.reshape(1, -1)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(temb, 2 * cout)
        self.norm2 = nn.GroupNorm(8, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb)).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(F.silu(h))
        return self.skip(x) + h


class CrossAttention(nn.Module):
    def __init__(self, channels, context):
        super().__init__()
        self.norm = nn.GroupNorm(8, channels)
        self.q = nn.Linear(channels, channels)
        self.k = nn.Linear(context, channels)
        self.v = nn.Linear(context, channels)
        self.out = nn.Linear(channels, channels)
        self.heads = 4

    def forward(self, x, context):
        b, c, h, w = x.shape
        q = self.q(self.norm(x).reshape(b, c, h * w).transpose(1, 2))
        k, v = self.k(context), self.v(context)
        d = c // self.heads
        q = q.reshape(b, h * w, self.heads, d).transpose(1, 2)
        k = k.reshape(b, -1, self.heads, d).transpose(1, 2)
        v = v.reshape(b, -1, self.heads, d).transpose(1, 2)
        attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
        o = (attn @ v).transpose(1, 2).reshape(b, h * w, c)
        return x + self.out(o).transpose(1, 2).reshape(b, c, h, w)


class UNet(nn.Module):
    """sample [B, 8, 16, 16], timestep [B], encoder_hidden_states [B, 77, 64] → v prediction. Global conditioning
    (the six slots, flattened) joins the timestep embedding; coordinate channels let it place shapes; cross-attention
    on the slots at both resolutions."""

    def __init__(self, c1=48, c2=96, temb=192):
        super().__init__()
        self.time = nn.Sequential(nn.Linear(128, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.cond = nn.Sequential(nn.Linear(len(SLOTS) * WIDTH, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.register_buffer("coords", torch.stack(torch.meshgrid(
            torch.linspace(-1, 1, LATENT_SIZE), torch.linspace(-1, 1, LATENT_SIZE), indexing="ij")).unsqueeze(0))
        self.inp = nn.Conv2d(LATENT_CHANNELS + 2, c1, 3, padding=1)
        self.down1 = ResBlock(c1, c1, temb)
        self.attn1 = CrossAttention(c1, WIDTH)
        self.down2 = ResBlock(c1, c1, temb)
        self.pool = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.mid1 = ResBlock(c2, c2, temb)
        self.attn2 = CrossAttention(c2, WIDTH)
        self.mid2 = ResBlock(c2, c2, temb)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.up1 = ResBlock(c2 + c1, c1, temb)
        self.attn3 = CrossAttention(c1, WIDTH)
        self.up2 = ResBlock(c1 + c1, c1, temb)
        self.out = nn.Sequential(nn.GroupNorm(8, c1), nn.SiLU(), nn.Conv2d(c1, LATENT_CHANNELS, 3, padding=1))

    def forward(self, sample, timestep, encoder_hidden_states):
        b = sample.shape[0]
        context = encoder_hidden_states[:, :len(SLOTS)]
        emb = self.time(timestep_embedding(timestep.expand(b), 128)) + self.cond(context.reshape(b, -1))
        x = self.inp(torch.cat([sample, self.coords.expand(b, -1, -1, -1)], dim=1))
        h1 = self.attn1(self.down1(x, emb), context)
        h2 = self.down2(h1, emb)
        m = self.mid1(self.pool(h2), emb)
        m = self.mid2(self.attn2(m, context), emb)
        u = self.up1(torch.cat([self.up(m), h2], dim=1), emb)
        u = self.up2(torch.cat([self.attn3(u, context), h1], dim=1), emb)
        return self.out(u)


# ---------------------------------------------------------------------------------------------------- training

def ema_update(ema, model, step):
    """The EMA of the weights, with a warm-up: decay min(0.999, (1 + step) / (10 + step))."""
    decay = min(0.999, (1 + step) / (10 + step))
    with torch.no_grad():
        for pe, pm in zip(ema.parameters(), model.parameters()):
            pe.mul_(decay).add_(pm, alpha=1 - decay)


def checkpoint_path(work, name):
    return os.path.join(work, f"{name}.pt")


def save(work, name, state):
    tmp = checkpoint_path(work, name) + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, checkpoint_path(work, name))


def stage_text(work, prompts, said, minutes, name="text", start_from=None):
    path = checkpoint_path(work, name)
    model = TextEncoder()
    if start_from is not None:
        # Fine-tune a trained reader on new wordings; the class embeddings the UNet learned on stay as they are.
        model.load_state_dict(start_from.state_dict())
    if os.path.exists(path):
        state = torch.load(path)
        model.load_state_dict(state["model"])
        if state.get("done"):
            return model, state
    vocab, ranks = load_tokenizer()
    ids = torch.from_numpy(tokenize(prompts, vocab, ranks))
    labels = torch.from_numpy(said)
    empty = torch.from_numpy(tokenize([""], vocab, ranks))
    if start_from is not None:
        # The empty prompt is the unconditional input of guidance: keep its reading exactly as the UNet learned it.
        with torch.no_grad():
            empty_targets = [F.softmax(l, dim=-1) for l in start_from.logits(empty)]
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3 if start_from is None else 5e-4, weight_decay=0.01)
    start = time.time()
    step = 0
    model.train()
    while time.time() - start < minutes * 60:
        idx = torch.randint(0, len(ids) - 2000, (256,))
        loss = sum(F.cross_entropy(l, labels[idx, i]) for i, l in enumerate(model.logits(ids[idx])))
        if start_from is not None:
            loss = loss + sum(F.kl_div(F.log_softmax(l, dim=-1), t, reduction="batchmean")
                              for l, t in zip(model.logits(empty), empty_targets))
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0:
            with torch.no_grad():
                held = slice(len(ids) - 2000, len(ids))
                acc = [(l.argmax(-1) == labels[held, i]).float().mean().item() for i, l in enumerate(model.logits(ids[held]))]
            log(f"text step {step} loss {loss.item():.4f} held-out accuracy {' '.join(f'{a:.4f}' for a in acc)}")
            if min(acc) == 1.0 and step >= 600:
                break
    state = {"model": model.state_dict(), "done": True, "steps": step, "loss": loss.item(), "seconds": time.time() - start}
    save(work, name, state)
    return model, state


def stage_vae(work, images, minutes):
    path = checkpoint_path(work, "vae")
    model = Autoencoder()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    state = {"step": 0, "seconds": 0.0}
    if os.path.exists(path):
        state = torch.load(path)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        if state.get("done") and state["seconds"] >= minutes * 60:
            return model, state
    start = time.time() - state["seconds"]
    step = state["step"]
    last_save = time.time()
    while time.time() - start < minutes * 60:
        idx = np.sort(np.random.randint(0, len(images), 64))
        x = torch.from_numpy(np.asarray(images[idx], dtype=np.float32)).permute(0, 3, 1, 2) / 127.5 - 1
        recon, z = model(x)
        loss = F.l1_loss(recon, x) + F.mse_loss(recon, x) + 1e-4 * z.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 200 == 0:
            log(f"vae step {step} loss {loss.item():.4f}")
        if time.time() - last_save > 120:
            save(work, "vae", {"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "seconds": time.time() - start})
            last_save = time.time()
    with torch.no_grad():
        zs = [model.encoder(torch.from_numpy(np.asarray(images[i:i + 256], dtype=np.float32)).permute(0, 3, 1, 2) / 127.5 - 1)
              for i in range(0, 2048, 256)]
        std = torch.cat(zs).std().item()
    state = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "seconds": time.time() - start,
             "done": True, "loss": loss.item(), "latent_std": std}
    save(work, "vae", state)
    log(f"vae done: {step} steps, loss {loss.item():.4f}, latent std {std:.4f}")
    return model, state


def alphas_cumprod():
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, T_TRAIN, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0).float()


def encode_latents(work, vae, images, scale):
    path = os.path.join(work, "latents.npy")
    if os.path.exists(path):
        return np.load(path)
    log("encoding latents")
    out = np.zeros((len(images), LATENT_CHANNELS, LATENT_SIZE, LATENT_SIZE), dtype=np.float32)
    with torch.no_grad():
        for i in range(0, len(images), 512):
            x = torch.from_numpy(np.asarray(images[i:i + 512], dtype=np.float32)).permute(0, 3, 1, 2) / 127.5 - 1
            out[i:i + 512] = (vae.encoder(x) * scale).numpy()
    np.save(path, out)
    return out


def stage_unet(work, text, latents, prompts, minutes, batch, name="unet", start_from=None, layout_weight=False):
    """The UNet on the text encoder's six slots (padded to the 77 tokens of encoder_hidden_states)."""
    vocab, ranks = load_tokenizer()
    with torch.no_grad():
        ids = torch.from_numpy(tokenize(prompts, vocab, ranks))
        hidden = torch.cat([text(ids[i:i + 1024])[0][:, :len(SLOTS)] for i in range(0, len(ids), 1024)])
        empty = text(torch.from_numpy(tokenize([""], vocab, ranks)))[0][:, :len(SLOTS)]
    pad = torch.zeros(batch, SEQ - len(SLOTS), WIDTH)

    def condition(idx, drop):
        cond = hidden[idx].clone()
        cond[drop] = empty
        return torch.cat([cond, pad], dim=1)

    return train_denoiser(work, UNet, latents, condition, minutes, batch, name, start_from, layout_weight)


def train_denoiser(work, make_model, latents, condition, minutes, batch, name, start_from=None, layout_weight=False, output_channels=None):
    """Trains make_model()'s UNet on v-prediction with min-SNR-5 weights and an EMA. condition(idx, drop) gives the
    batch's conditioning input, the unconditional one where drop (10 % of items) is set. Where the UNet's output has
    more channels than the latent (learned-variance layouts), the first output_channels are the prediction."""
    path = checkpoint_path(work, name)
    model = make_model()
    ema = make_model()
    opt = torch.optim.AdamW(model.parameters(), lr=4e-4, weight_decay=0.0)
    state = {"step": 0, "seconds": 0.0, "losses": []}
    if os.path.exists(path):
        state = torch.load(path)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        if state.get("done") and state["seconds"] >= minutes * 60:
            return ema, state
    elif start_from is not None:
        # Continue from a finished stage's weights (its EMA), with its optimizer state.
        model.load_state_dict(start_from["ema"])
        ema.load_state_dict(start_from["ema"])
        opt.load_state_dict(start_from["opt"])
        state = {"step": start_from["step"], "seconds": 0.0, "losses": list(start_from["losses"])}
    else:
        ema.load_state_dict(model.state_dict())
    log(f"{name}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, resuming at step {state['step']}")
    ac = alphas_cumprod()
    lat = torch.from_numpy(latents)
    start = time.time() - state["seconds"]
    step = state["step"]
    last_save = time.time()
    running = 0.0
    model.train()
    while time.time() - start < minutes * 60:
        idx = torch.randint(0, len(lat), (batch,))
        x0 = lat[idx]
        cond = condition(idx, torch.rand(batch) < 0.1)
        t = torch.randint(0, T_TRAIN, (batch,))
        if layout_weight:
            # Half the batch from the noisiest 40 % of timesteps, where the layout (position, size, kind) is decided.
            t[: batch // 2] = torch.randint(600, T_TRAIN, (batch // 2,))
        a = ac[t].reshape(-1, 1, 1, 1)
        noise = torch.randn_like(x0)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        v = a.sqrt() * noise - (1 - a).sqrt() * x0
        pred = model(xt, t, cond)
        if output_channels is not None:
            pred = pred[:, :output_channels]
        snr = a / (1 - a)
        weight = torch.clamp(snr, max=5.0) / (snr + 1)  # min-SNR-5 for v-prediction
        if layout_weight:
            weight = torch.ones_like(weight)  # plain v loss: the noisiest steps count as much as the rest
        loss = (weight * (pred - v).pow(2).mean(dim=(1, 2, 3), keepdim=True)).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema_update(ema, model, step)
        step += 1
        running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
        if step % 100 == 0:
            log(f"unet step {step} loss {running:.4f} ({(time.time() - start) / 60:.1f} min)")
            state["losses"].append((step, running))
        if time.time() - last_save > 180:
            save(work, name, {"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                                "step": step, "seconds": time.time() - start, "losses": state["losses"]})
            last_save = time.time()
    state = {"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step,
             "seconds": time.time() - start, "losses": state["losses"], "done": True, "loss": running, "batch": batch}
    save(work, name, state)
    log(f"{name} done: {step} steps, loss {running:.4f}")
    return ema, state


# ---------------------------------------------------------------------------------------------------- export

class TextEncoderExport(nn.Module):
    def __init__(self, text):
        super().__init__()
        self.text = text

    def forward(self, input_ids):
        return self.text(input_ids)


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def write_tokenizer(folder):
    """CLIP's vocabulary and merges with a tokenizer config that pads with the end token, as training tokenizes."""
    os.makedirs(folder, exist_ok=True)
    for name in ["vocab.json", "merges.txt"]:
        shutil.copy(os.path.join(REPO, "tests", "data", "clip", name), os.path.join(folder, name))
    write_json(os.path.join(folder, "special_tokens_map.json"), {
        "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"})
    write_json(os.path.join(folder, "tokenizer_config.json"), {
        "model_max_length": SEQ, "pad_token": "<|endoftext|>", "tokenizer_class": "CLIPTokenizer", "do_lower_case": True})


def begin(args):
    """Threads, seeds and the work folder, as every training run starts; returns the start time."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    np.random.seed(1)
    os.makedirs(args.work, exist_ok=True)
    return time.time()


def stage_export(out, text, vae, unet, scale, card):
    os.makedirs(out, exist_ok=True)
    for sub in ["text_encoder", "unet", "vae_decoder", "tokenizer", "scheduler"]:
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    text.eval(), vae.eval(), unet.eval()
    ids = torch.full((2, SEQ), 49407, dtype=torch.int32)
    torch.onnx.export(TextEncoderExport(text), (ids,), os.path.join(out, "text_encoder", "model.onnx"),
                      input_names=["input_ids"], output_names=["last_hidden_state", "pooler_output"],
                      dynamic_axes={"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}, "pooler_output": {0: "batch"}},
                      opset_version=14, do_constant_folding=True)
    sample = torch.randn(2, LATENT_CHANNELS, LATENT_SIZE, LATENT_SIZE)
    torch.onnx.export(unet, (sample, torch.tensor([999, 999]), torch.zeros(2, SEQ, WIDTH)), os.path.join(out, "unet", "model.onnx"),
                      input_names=["sample", "timestep", "encoder_hidden_states"], output_names=["out_sample"],
                      dynamic_axes={"sample": {0: "batch"}, "timestep": {0: "batch"}, "encoder_hidden_states": {0: "batch"}, "out_sample": {0: "batch"}},
                      opset_version=14, do_constant_folding=True)
    torch.onnx.export(vae.decoder, (sample,), os.path.join(out, "vae_decoder", "model.onnx"),
                      input_names=["latent_sample"], output_names=["sample"],
                      dynamic_axes={"latent_sample": {0: "batch"}, "sample": {0: "batch"}},
                      opset_version=14, do_constant_folding=True)
    write_tokenizer(os.path.join(out, "tokenizer"))
    write_json(os.path.join(out, "scheduler", "scheduler_config.json"), {
        "_class_name": "DDPMScheduler", "num_train_timesteps": T_TRAIN, "beta_schedule": "scaled_linear",
        "beta_start": 0.00085, "beta_end": 0.012, "prediction_type": "v_prediction", "clip_sample": False,
        "timestep_spacing": "leading", "steps_offset": 1, "set_alpha_to_one": False, "variance_type": "fixed_small"})
    write_json(os.path.join(out, "unet", "config.json"), {
        "_class_name": "UNet2DConditionModel", "sample_size": LATENT_SIZE, "in_channels": LATENT_CHANNELS,
        "out_channels": LATENT_CHANNELS, "cross_attention_dim": WIDTH})
    write_json(os.path.join(out, "vae_decoder", "config.json"), {
        "_class_name": "AutoencoderKL", "latent_channels": LATENT_CHANNELS, "sample_size": 64, "scaling_factor": scale})
    write_json(os.path.join(out, "text_encoder", "config.json"), {
        "_class_name": "HierDiffSlotTextEncoder", "hidden_size": WIDTH, "slots": SLOTS, "classes": CLASSES,
        "pool_weights": POOL_WEIGHTS, "token_hash": HASH})
    write_json(os.path.join(out, "model_index.json"), {
        "_class_name": "OnnxStableDiffusionPipeline", "_diffusers_version": "0.30.0",
        "scheduler": ["diffusers", "DDPMScheduler"], "text_encoder": ["optimum", "ORTModelForFeatureExtraction"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["optimum", "ORTModelForUNet"],
        "vae_decoder": ["optimum", "ORTModelForVaeDecoder"], "feature_extractor": [None, None], "safety_checker": [None, None]})
    write_json(os.path.join(out, "training.json"), card)
    log(f"exported to {out}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", default="/tmp/hierdiff-train")
    p.add_argument("--out", default=os.path.join(REPO, "models", "shapes-sd"))
    p.add_argument("--count", type=int, default=40000)
    p.add_argument("--text-minutes", type=float, default=4)
    p.add_argument("--vae-minutes", type=float, default=20)
    p.add_argument("--unet-minutes", type=float, default=48)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--layout-minutes", type=float, default=15)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    started = begin(args)

    data = stage_data(args.work, args.count)
    images, prompts, said = load_data(data)
    text, text_state = stage_text(args.work, prompts, said, args.text_minutes)
    text.eval()
    for prm in text.parameters():
        prm.requires_grad_(False)
    vae, vae_state = stage_vae(args.work, images, args.vae_minutes)
    vae.eval()
    scale = 1.0 / vae_state["latent_std"]
    latents = encode_latents(args.work, vae, images, scale)
    unet, unet_state = stage_unet(args.work, text, latents, prompts, args.unet_minutes, args.batch)
    if args.layout_minutes > 0:
        # A second phase that weights the noisiest steps, where the layout is decided, as much as the rest.
        unet, layout_state = stage_unet(args.work, text, latents, prompts, args.layout_minutes, args.batch,
                                        name="unet-layout", start_from=torch.load(checkpoint_path(args.work, "unet")), layout_weight=True)
        unet_state = {**layout_state, "seconds": unet_state["seconds"] + layout_state["seconds"], "layout_seconds": layout_state["seconds"]}

    # A second reading pass on a fresh draw of the world's wordings (seed 2), fine-tuning the reader only: the
    # UNet sees the reader's class probabilities through fixed class embeddings, so it needs no retraining.
    data2 = os.path.join(args.work, "data2")
    if not os.path.exists(os.path.join(data2, "labels.jsonl")):
        hierdiff("world", "--count", "30000", "--seed", "2", "--out", data2)
    _, prompts2, said2 = load_data(data2)
    text2, text2_state = stage_text(args.work, prompts2, said2, args.text_minutes / 2, name="text2", start_from=text)
    text2.eval()
    for name, a in text.class_embeddings.state_dict().items():
        assert torch.equal(a, text2.class_embeddings.state_dict()[name])
    text, text_state = text2, {"steps": text_state.get("steps", 0) + text2_state.get("steps", 0),
                               "loss": text2_state.get("loss"), "seconds": text_state.get("seconds", 0) + text2_state.get("seconds", 0)}

    card = {
        "data": {"images": len(images), "generator": "hierdiff world --seed 1"},
        "text_encoder": {"steps": text_state.get("steps"), "loss": text_state.get("loss"), "seconds": text_state.get("seconds")},
        "vae": {"steps": vae_state["step"], "loss": vae_state.get("loss"), "seconds": vae_state["seconds"], "scaling_factor": scale},
        "unet": {"steps": unet_state["step"], "batch": args.batch, "loss": unet_state.get("loss"), "seconds": unet_state["seconds"],
                 "parameters": sum(p.numel() for p in unet.parameters()), "loss_curve": unet_state["losses"][::10]},
        "torch": torch.__version__,
        "command": "/usr/bin/python3 tools/train-builtin-model/train.py --work /tmp/hierdiff-train --out models/shapes-sd",
    }
    stage_export(args.out, text, vae, unet, scale, card)
    log(f"all stages done in {(time.time() - started) / 60:.1f} min this run")


if __name__ == "__main__":
    sys.exit(main())
