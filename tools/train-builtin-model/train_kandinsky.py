#!/usr/bin/python3
"""Trains HierDiff's second built-in model, a miniature Kandinsky 2.2 for the shapes world, and exports it in
HierDiff's Kandinsky 2.2 ONNX layout (README, "Kandinsky 2.2").

    /usr/bin/python3 tools/train-builtin-model/train_kandinsky.py --work /tmp/hierdiff-train-k --out models/shapes-kandinsky

Like Kandinsky 2.2, it generates in two stages: a prior turns a prompt into an image embedding, and a decoder UNet
conditioned on that embedding only (no text) denoises latents that a decoder turns into pixels. Needs what train.py
needs (Debian 12's python3-torch, python3-onnx, libopenblas0-pthread; the .NET SDK for `hierdiff world`) and the
first built-in model (models/shapes-sd), whose latent decoder this model reuses as its MoVQ decoder. Every stage
saves a checkpoint in --work and resumes from it. Stages:

1. data: `hierdiff world` writes images, prompts and labels (the same 40,000 as the first model's).
2. clip: a text encoder (CLIP-like: last_hidden_state and a projected text_embeds) and an image encoder, trained
   contrastively as CLIP is (symmetric cross-entropy over a batch), with attribute heads on both embeddings (the
   image's true attributes, the attributes the text says) so the 64-wide image embedding holds the whole scene.
3. encoder: an image encoder into shapes-sd's latent space, trained against shapes-sd's frozen latent decoder.
4. prior: a small transformer that predicts the normalised image embedding from its noisy version, the timestep,
   text_embeds and the token states (x0 prediction, squaredcos_cap_v2, 10 % of prompts dropped to "" for guidance),
   as Kandinsky's PriorTransformer is trained.
5. unet: train.py's UNet, conditioned on the image embedding (projected to six context tokens and a global
   embedding) instead of text; v-prediction, min-SNR-5, EMA; 10 % of embeddings dropped to the zero-image embedding,
   which is the negative at sampling time, as diffusers forms it.
6. export: the layout's ONNX files, configs, clip_stats.json, negative_image_embeds.json and training.json.
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import (HASH, LATENT_CHANNELS, LATENT_SIZE, REPO, SEQ, SLOTS, T_TRAIN, WIDTH, UNet, VaeDecoder,  # noqa: E402
                   alphas_cumprod, checkpoint_path, ema_update, load_data, load_tokenizer, log, save, stage_data, timestep_embedding,
                   begin, tokenize, train_denoiser, write_json, write_tokenizer)

EMBED = 64            # image embedding width (Kandinsky 2.2: 1280, CLIP ViT-bigG's)
PRIOR_WIDTH = 128
TEXT_TOKENS = 32      # the world's prompts are under 32 tokens; the prior masks the rest, so training on 32 is exact
TRUE_CLASSES = [3, 8, 8, 2, 5, 4]   # kind, shape colour, background, size, position, pattern of the image
SAID_CLASSES = [3, 8, 9, 3, 6, 5]   # as train.py's slots: the last class of the last four is "unsaid"


# ---------------------------------------------------------------------------------------------------- models

class MaskedBlock(nn.Module):
    """A pre-norm transformer block whose attention ignores masked keys (additive -1e4, as CLIP and the prior do)."""

    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x, bias):
        b, n, c = x.shape
        d = c // self.heads
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d).permute(2, 0, 3, 1, 4)
        attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias[:, None, None, :], dim=-1)
        x = x + self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))
        return x + self.mlp(self.norm2(x))


class ClipText(nn.Module):
    """input_ids → (text_embeds [B, 64], last_hidden_state [B, 77, 64]), as CLIPTextModelWithProjection's outputs.
    Tokens attend causally-free over the prompt up to its end token; text_embeds is a learned query's attention pool,
    projected."""

    def __init__(self):
        super().__init__()
        self.tokens = nn.Embedding(HASH, WIDTH)
        self.positions = nn.Parameter(torch.randn(SEQ, WIDTH) * 0.02)
        self.blocks = nn.ModuleList([MaskedBlock(WIDTH, 4), MaskedBlock(WIDTH, 4)])
        self.norm = nn.LayerNorm(WIDTH)
        self.query = nn.Parameter(torch.randn(WIDTH) * 0.1)
        self.key = nn.Linear(WIDTH, WIDTH)
        self.projection = nn.Linear(WIDTH, EMBED)

    def forward(self, ids):
        ids = ids.long()
        # The end token is CLIP's largest id; everything after the first one is padding.
        end = torch.cumsum((ids == 49407).long(), dim=1)
        keep = (end == 0) | ((end == 1) & (ids == 49407))
        bias = (1.0 - keep.float()) * -1e4
        x = self.tokens(torch.remainder(ids, HASH)) + self.positions[: ids.shape[1]]
        for block in self.blocks:
            x = block(x, bias)
        x = self.norm(x)
        attn = torch.softmax((self.key(x) @ self.query) / math.sqrt(WIDTH) + bias, dim=-1)
        pooled = (attn.unsqueeze(-1) * x).sum(dim=1)
        return self.projection(pooled), x


class ClipImage(nn.Module):
    """64 x 64 x 3 images in [-1, 1] → image_embeds [B, 64]."""

    def __init__(self):
        super().__init__()
        # Stride-2 convolutions from full resolution: a pattern's stripes and dots are a few pixels wide.
        self.net = nn.Sequential(
            nn.Conv2d(3, 32, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(64, 96, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(96, 128, 3, stride=2, padding=1), nn.SiLU(),
            nn.Flatten(), nn.Linear(128 * 4 * 4, 256), nn.SiLU(), nn.Linear(256, EMBED))

    def forward(self, x):
        return self.net(x)


class LatentEncoder(nn.Module):
    """64 x 64 x 3 images → 8 x 16 x 16 latents that shapes-sd's latent decoder reads (train.py's encoder)."""

    def __init__(self):
        super().__init__()
        c = 96
        self.net = nn.Sequential(
            nn.Conv2d(3, c, 4, stride=4), nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c, LATENT_CHANNELS, 3, padding=1))

    def forward(self, x):
        return self.net(x)


class Prior(nn.Module):
    """PriorTransformer's interface: hidden_states (the noisy normalised image embedding) [B, 64], timestep [B],
    proj_embedding (text_embeds) [B, 64], encoder_hidden_states [B, L, 64], attention_mask [B, L] →
    predicted_image_embedding [B, 64], the clean normalised embedding. The token states, text_embeds, the timestep
    and the noisy embedding are one sequence; a learned query reads the prediction."""

    def __init__(self):
        super().__init__()
        w = PRIOR_WIDTH
        self.text = nn.Linear(WIDTH, w)
        self.proj = nn.Linear(EMBED, w)
        self.time = nn.Sequential(nn.Linear(128, w), nn.SiLU(), nn.Linear(w, w))
        self.noisy = nn.Linear(EMBED, w)
        self.roles = nn.Parameter(torch.randn(4, w) * 0.02)   # text_embeds, time, noisy embedding, query
        self.blocks = nn.ModuleList([MaskedBlock(w, 4) for _ in range(4)])
        self.norm = nn.LayerNorm(w)
        self.out = nn.Linear(w, EMBED)

    def forward(self, hidden_states, timestep, proj_embedding, encoder_hidden_states, attention_mask):
        b = hidden_states.shape[0]
        extra = torch.stack([self.proj(proj_embedding), self.time(timestep_embedding(timestep.expand(b), 128)),
                             self.noisy(hidden_states), torch.zeros(b, PRIOR_WIDTH)], dim=1) + self.roles
        x = torch.cat([self.text(encoder_hidden_states), extra], dim=1)
        bias = torch.cat([(1.0 - attention_mask.float()) * -1e4, torch.zeros(b, 4)], dim=1)
        for block in self.blocks:
            x = block(x, bias)
        return self.out(self.norm(x[:, -1]))


class ImageEmbedUNet(UNet):
    """sample [B, 8, 16, 16], timestep [B], image_embeds [B, 64] → out_sample [B, 16, 16, 16]: train.py's UNet with
    the image embedding (normalised by the training set's statistics, projected to six context tokens) in place of
    the text slots. The last 8 output channels are the layout's learned-variance channels; this model predicts no
    variance (it is sampled with DDPM's fixed_small, as KandinskyV22Pipeline drops them), so they are zero."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("embed_mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("embed_std", torch.as_tensor(std, dtype=torch.float32))
        self.embed = nn.Sequential(nn.Linear(EMBED, 256), nn.SiLU(), nn.Linear(256, len(SLOTS) * WIDTH))

    def forward(self, sample, timestep, image_embeds):
        b = sample.shape[0]
        context = self.embed((image_embeds - self.embed_mean) / self.embed_std).reshape(b, len(SLOTS), WIDTH)
        v = super().forward(sample, timestep, context)
        return torch.cat([v, torch.zeros_like(v)], dim=1)


# ---------------------------------------------------------------------------------------------------- data

def true_labels(data):
    labels = [json.loads(line) for line in open(os.path.join(data, "labels.jsonl"), encoding="utf-8")]
    return np.array([[l[k] for k in ["kind", "colour", "background", "size", "position", "pattern"]] for l in labels], dtype=np.int64)


def pixels(images, idx):
    return torch.from_numpy(np.asarray(images[idx], dtype=np.float32)).permute(0, 3, 1, 2) / 127.5 - 1


def token_counts(ids):
    """The tokenizer's attention mask length: the start token, the text and the first end token."""
    return (ids == 49407).long().argmax(dim=1) + 1


# ---------------------------------------------------------------------------------------------------- stages

def held_out_accuracy(image, heads, images, held, true):
    with torch.no_grad():
        embeds = image(pixels(images, held))
        return [(h(embeds).argmax(-1) == true[held, k]).float().mean().item() for k, h in enumerate(heads)]


def stage_clip(work, images, ids, said, true, minutes):
    path = checkpoint_path(work, "clip")
    text, image = ClipText(), ClipImage()
    text_heads = nn.ModuleList([nn.Linear(EMBED, c) for c in SAID_CLASSES])
    image_heads = nn.ModuleList([nn.Linear(EMBED, c) for c in TRUE_CLASSES])
    scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
    modules = nn.ModuleList([text, image, text_heads, image_heads])
    if os.path.exists(path):
        state = torch.load(path)
        modules.load_state_dict(state["model"])
        return text, image, state
    params = list(modules.parameters()) + [scale]
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=0.01)
    said_t, true_t = torch.from_numpy(said), torch.from_numpy(true)
    held = np.arange(len(ids) - 2000, len(ids))
    start, step = time.time(), 0
    while time.time() - start < minutes * 60:
        idx = np.sort(np.random.randint(0, len(ids) - 2000, 256))
        # The first TEXT_TOKENS ids hold every prompt and its end token; what follows is masked, so this is exact.
        t_emb, _ = text(ids[idx, :TEXT_TOKENS])
        i_emb = image(pixels(images, idx))
        logits = F.normalize(i_emb, dim=-1) @ F.normalize(t_emb, dim=-1).T * scale.exp().clamp(max=100)
        target = torch.arange(len(idx))
        contrastive = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
        attributes = sum(F.cross_entropy(h(i_emb), true_t[idx, k]) for k, h in enumerate(image_heads)) \
            + sum(F.cross_entropy(h(t_emb), said_t[idx, k]) for k, h in enumerate(text_heads))
        loss = contrastive + attributes
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0:
            acc = held_out_accuracy(image, image_heads, images, held, true_t)
            log(f"clip step {step} contrastive {contrastive.item():.3f} attributes {attributes.item():.3f} "
                f"held-out image accuracy {' '.join(f'{a:.3f}' for a in acc)}")
    acc = held_out_accuracy(image, image_heads, images, held, true_t)
    state = {"model": modules.state_dict(), "steps": step, "loss": loss.item(), "contrastive": contrastive.item(),
             "seconds": time.time() - start, "image_accuracy": acc}
    save(work, "clip", state)
    return text, image, state


def load_shapes_decoder():
    """shapes-sd's latent decoder, its weights read from its ONNX file (the initializers keep torch's names)."""
    decoder = VaeDecoder()
    graph = onnx.load(os.path.join(REPO, "models", "shapes-sd", "vae_decoder", "model.onnx")).graph
    weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in graph.initializer}
    decoder.load_state_dict(weights)
    return decoder


def stage_encoder(work, images, decoder, minutes):
    path = checkpoint_path(work, "encoder")
    encoder = LatentEncoder()
    if os.path.exists(path):
        state = torch.load(path)
        encoder.load_state_dict(state["model"])
        return encoder, state
    opt = torch.optim.AdamW(encoder.parameters(), lr=1e-3)
    start, step = time.time(), 0
    while time.time() - start < minutes * 60:
        x = pixels(images, np.sort(np.random.randint(0, len(images), 64)))
        recon = decoder(encoder(x))
        loss = F.l1_loss(recon, x) + F.mse_loss(recon, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 200 == 0:
            log(f"encoder step {step} loss {loss.item():.4f}")
    state = {"model": encoder.state_dict(), "steps": step, "loss": loss.item(), "seconds": time.time() - start}
    save(work, "encoder", state)
    return encoder, state


def squaredcos_alphas_cumprod():
    """UnCLIPScheduler's betas_for_alpha_bar (cosine, max_beta 0.999) in float32, as diffusers keeps them."""
    def alpha_bar(t):
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
    betas = torch.tensor([min(1 - alpha_bar((i + 1) / T_TRAIN) / alpha_bar(i / T_TRAIN), 0.999) for i in range(T_TRAIN)], dtype=torch.float32)
    return torch.cumprod(1 - betas, 0)


def stage_prior(work, embeds, text_embeds, hidden, counts, empty, minutes, batch=256):
    path = checkpoint_path(work, "prior")
    model, ema = Prior(), Prior()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.0)
    state = {"steps": 0, "seconds": 0.0, "losses": [], "loss": 0.0}
    if os.path.exists(path):
        # Resumes a stage that ran fewer minutes than asked (from its EMA where an older checkpoint kept only that).
        state = torch.load(path)
        ema.load_state_dict(state["ema"])
        if state["seconds"] >= minutes * 60:
            return ema, state
        model.load_state_dict(state.get("model", state["ema"]))
        if "opt" in state:
            opt.load_state_dict(state["opt"])
    else:
        ema.load_state_dict(model.state_dict())
    ac = squaredcos_alphas_cumprod()
    positions = torch.arange(TEXT_TOKENS)
    empty_proj, empty_hidden, empty_count = empty
    start, step, running, losses = time.time() - state["seconds"], state["steps"], state["loss"], list(state["losses"])
    last_save = time.time()
    while time.time() - start < minutes * 60:
        idx = torch.randint(0, len(embeds), (batch,))
        x0 = embeds[idx]
        proj, states, count = text_embeds[idx].clone(), hidden[idx].clone(), counts[idx].clone()
        drop = torch.rand(batch) < 0.1
        proj[drop], states[drop], count[drop] = empty_proj, empty_hidden, empty_count
        mask = positions[None, :] < count[:, None]
        t = torch.randint(0, T_TRAIN, (batch,))
        a = ac[t].reshape(-1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * torch.randn_like(x0)
        loss = F.mse_loss(model(xt, t, proj, states, mask), x0)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema_update(ema, model, step)
        step += 1
        running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
        if step % 100 == 0:
            log(f"prior step {step} loss {running:.4f} ({(time.time() - start) / 60:.1f} min)")
            losses.append((step, running))
        if time.time() - last_save > 120:
            save(work, "prior", {"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "steps": step,
                                 "loss": running, "seconds": time.time() - start, "losses": losses})
            last_save = time.time()
    state = {"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "steps": step, "loss": running,
             "seconds": time.time() - start, "losses": losses}
    save(work, "prior", state)
    return ema, state


# ---------------------------------------------------------------------------------------------------- export

def export(out, text, prior, unet, stats, negative, card):
    for sub in ["prior/tokenizer", "prior/text_encoder", "prior/prior", "prior/scheduler", "unet", "scheduler", "movq_decoder"]:
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    text.eval(), prior.eval(), unet.eval()
    ids = torch.full((2, SEQ), 49407, dtype=torch.int64)
    ids[:, 0] = 49406
    torch.onnx.export(text, (ids,), os.path.join(out, "prior", "text_encoder", "model.onnx"),
                      input_names=["input_ids"], output_names=["text_embeds", "last_hidden_state"],
                      dynamic_axes={"input_ids": {0: "batch"}, "text_embeds": {0: "batch"}, "last_hidden_state": {0: "batch"}},
                      opset_version=14, do_constant_folding=True)
    mask = torch.zeros(2, SEQ, dtype=torch.bool)
    mask[:, :2] = True
    torch.onnx.export(prior, (torch.randn(2, EMBED), torch.tensor([999, 999]), torch.randn(2, EMBED), torch.randn(2, SEQ, WIDTH), mask),
                      os.path.join(out, "prior", "prior", "model.onnx"),
                      input_names=["hidden_states", "timestep", "proj_embedding", "encoder_hidden_states", "attention_mask"],
                      output_names=["predicted_image_embedding"],
                      dynamic_axes={n: {0: "batch"} for n in ["hidden_states", "timestep", "proj_embedding", "encoder_hidden_states",
                                                               "attention_mask", "predicted_image_embedding"]},
                      opset_version=14, do_constant_folding=True)
    torch.onnx.export(unet, (torch.randn(2, LATENT_CHANNELS, LATENT_SIZE, LATENT_SIZE), torch.tensor([999, 999]), torch.randn(2, EMBED)),
                      os.path.join(out, "unet", "model.onnx"),
                      input_names=["sample", "timestep", "image_embeds"], output_names=["out_sample"],
                      dynamic_axes={n: {0: "batch"} for n in ["sample", "timestep", "image_embeds", "out_sample"]},
                      opset_version=14, do_constant_folding=True)
    # The MoVQ decoder is shapes-sd's latent decoder, byte for byte: the two built-in models draw with the same pixels.
    shutil.copy(os.path.join(REPO, "models", "shapes-sd", "vae_decoder", "model.onnx"), os.path.join(out, "movq_decoder", "model.onnx"))
    write_tokenizer(os.path.join(out, "prior", "tokenizer"))
    write_json(os.path.join(out, "prior", "text_encoder", "config.json"), {
        "_class_name": "HierDiffShapesClipText", "hidden_size": WIDTH, "projection_dim": EMBED, "token_hash": HASH})
    write_json(os.path.join(out, "prior", "prior", "config.json"), {
        "_class_name": "HierDiffShapesPrior", "embedding_dim": EMBED, "width": PRIOR_WIDTH, "layers": 4})
    write_json(os.path.join(out, "prior", "prior", "clip_stats.json"), {"clip_mean": stats[0].tolist(), "clip_std": stats[1].tolist()})
    write_json(os.path.join(out, "prior", "negative_image_embeds.json"), {"negative_image_embeds": negative.tolist()})
    write_json(os.path.join(out, "prior", "scheduler", "scheduler_config.json"), {
        "_class_name": "UnCLIPScheduler", "clip_sample": True, "clip_sample_range": 10.0, "num_train_timesteps": T_TRAIN,
        "prediction_type": "sample", "variance_type": "fixed_small_log"})
    write_json(os.path.join(out, "scheduler", "scheduler_config.json"), {
        "_class_name": "DDPMScheduler", "num_train_timesteps": T_TRAIN, "beta_schedule": "scaled_linear",
        "beta_start": 0.00085, "beta_end": 0.012, "prediction_type": "v_prediction", "clip_sample": False,
        "timestep_spacing": "leading", "steps_offset": 1, "variance_type": "fixed_small"})
    write_json(os.path.join(out, "unet", "config.json"), {
        "_class_name": "UNet2DConditionModel", "sample_size": LATENT_SIZE, "in_channels": LATENT_CHANNELS,
        "out_channels": 2 * LATENT_CHANNELS, "addition_embed_type": "image", "encoder_hid_dim_type": "image_proj",
        "encoder_hid_dim": EMBED})
    write_json(os.path.join(out, "movq_decoder", "config.json"), {
        "_class_name": "VQModel", "latent_channels": LATENT_CHANNELS, "sample_size": 64, "source": "models/shapes-sd/vae_decoder"})
    write_json(os.path.join(out, "model_index.json"), {
        "_class_name": "KandinskyV22CombinedPipeline", "_diffusers_version": "0.30.0",
        "movq": ["diffusers", "VQModel"], "prior_prior": ["diffusers", "PriorTransformer"],
        "prior_scheduler": ["diffusers", "UnCLIPScheduler"], "prior_text_encoder": ["transformers", "CLIPTextModelWithProjection"],
        "prior_tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "DDPMScheduler"],
        "unet": ["diffusers", "UNet2DConditionModel"]})
    write_json(os.path.join(out, "training.json"), card)
    for sub in ["prior/text_encoder", "prior/prior", "unet"]:
        onnx.checker.check_model(os.path.join(out, sub, "model.onnx"))
    log(f"exported to {out}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", default="/tmp/hierdiff-train-k")
    p.add_argument("--out", default=os.path.join(REPO, "models", "shapes-kandinsky"))
    p.add_argument("--count", type=int, default=40000)
    p.add_argument("--clip-minutes", type=float, default=12)
    p.add_argument("--encoder-minutes", type=float, default=5)
    p.add_argument("--prior-minutes", type=float, default=8)
    p.add_argument("--unet-minutes", type=float, default=45)
    p.add_argument("--layout-minutes", type=float, default=9)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    started = begin(args)

    data = stage_data(args.work, args.count)
    images, prompts, said = load_data(data)
    true = true_labels(data)
    vocab, ranks = load_tokenizer()
    ids = torch.from_numpy(tokenize(prompts, vocab, ranks))
    if int(token_counts(ids).max()) > TEXT_TOKENS:
        raise SystemExit(f"a prompt is longer than {TEXT_TOKENS} tokens; raise TEXT_TOKENS")

    text, image, clip_state = stage_clip(args.work, images, ids, said, true, args.clip_minutes)
    for m in (text, image):
        m.eval()
        for prm in m.parameters():
            prm.requires_grad_(False)
    with torch.no_grad():
        embeds = torch.cat([image(pixels(images, np.arange(i, min(i + 1024, len(images))))) for i in range(0, len(images), 1024)])
        encoded = [text(ids[i:i + 1024]) for i in range(0, len(ids), 1024)]
        text_embeds = torch.cat([e[0] for e in encoded])
        hidden = torch.cat([e[1][:, :TEXT_TOKENS] for e in encoded])
        empty_ids = torch.from_numpy(tokenize([""], vocab, ranks))
        empty_proj, empty_hidden = text(empty_ids)
        # diffusers' get_zero_embed: the image encoder on an all-zero pixel_values tensor.
        negative = image(torch.zeros(1, 3, 64, 64))[0]
    mean, std = embeds.mean(dim=0), embeds.std(dim=0)

    decoder = load_shapes_decoder()
    decoder.eval()
    for prm in decoder.parameters():
        prm.requires_grad_(False)
    encoder, encoder_state = stage_encoder(args.work, images, decoder, args.encoder_minutes)

    prior, prior_state = stage_prior(args.work, (embeds - mean) / std, text_embeds, hidden, token_counts(ids),
                                     (empty_proj[0], empty_hidden[0, :TEXT_TOKENS], token_counts(empty_ids)[0]), args.prior_minutes)

    latents_path = os.path.join(args.work, "latents.npy")
    if not os.path.exists(latents_path):
        with torch.no_grad():
            np.save(latents_path, torch.cat([encoder(pixels(images, np.arange(i, min(i + 512, len(images))))) for i in range(0, len(images), 512)]).numpy())
    latents = np.load(latents_path)

    def condition(idx, drop):
        # The embedding with a little noise (the prior's samples are not exact), or the negative when dropped.
        c = embeds[idx] + 0.1 * std * torch.randn(len(idx), EMBED)
        c[drop] = negative
        return c

    unet, unet_state = train_denoiser(args.work, lambda: ImageEmbedUNet(mean, std), latents, condition, args.unet_minutes, args.batch,
                                      "unet", output_channels=LATENT_CHANNELS)
    if args.layout_minutes > 0:
        # As train.py's second phase: the noisiest steps, where size and position are decided, weighted as the rest
        # (min-SNR weights leave them undertrained: a first export drew shapes of the right colours in the wrong places).
        unet, layout_state = train_denoiser(args.work, lambda: ImageEmbedUNet(mean, std), latents, condition, args.layout_minutes, args.batch,
                                            "unet-layout", start_from=torch.load(checkpoint_path(args.work, "unet")), layout_weight=True,
                                            output_channels=LATENT_CHANNELS)
        unet_state = {**layout_state, "seconds": unet_state["seconds"] + layout_state["seconds"], "layout_seconds": layout_state["seconds"]}

    card = {
        "data": {"images": len(images), "generator": "hierdiff world --seed 1"},
        "clip": {"steps": clip_state["steps"], "loss": clip_state["loss"], "contrastive": clip_state["contrastive"],
                 "seconds": clip_state["seconds"], "held_out_image_attribute_accuracy": dict(zip(
                     ["kind", "colour", "background", "size", "position", "pattern"], clip_state["image_accuracy"]))},
        "latent_encoder": {"steps": encoder_state["steps"], "loss": encoder_state["loss"], "seconds": encoder_state["seconds"]},
        "prior": {"steps": prior_state["steps"], "loss": prior_state["loss"], "seconds": prior_state["seconds"],
                  "parameters": sum(p.numel() for p in prior.parameters())},
        "unet": {"steps": unet_state["step"], "batch": args.batch, "loss": unet_state.get("loss"), "seconds": unet_state["seconds"],
                 "parameters": sum(p.numel() for p in unet.parameters()), "loss_curve": unet_state["losses"][::10]},
        "torch": torch.__version__,
        "command": "/usr/bin/python3 tools/train-builtin-model/train_kandinsky.py --work /tmp/hierdiff-train-k --out models/shapes-kandinsky",
    }
    export(args.out, text, prior, unet, (mean, std), negative, card)
    log(f"all stages done in {(time.time() - started) / 60:.1f} min this run")


if __name__ == "__main__":
    sys.exit(main())
