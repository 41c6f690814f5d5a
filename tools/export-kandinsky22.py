#!/usr/bin/env python3
"""Export Kandinsky 2.2 (diffusers' kandinsky-2-2-prior and kandinsky-2-2-decoder) to HierDiff's ONNX layout.

    python3 tools/export-kandinsky22.py --prior ./kandinsky-2-2-prior --decoder ./kandinsky-2-2-decoder --out models/kandinsky22

--prior and --decoder are local diffusers folders (e.g. `huggingface-cli download kandinsky-community/kandinsky-2-2-prior
--local-dir ./kandinsky-2-2-prior`); nothing is downloaded here. The layout (README, "Kandinsky 2.2") is:

    model_index.json                      _class_name KandinskyV22CombinedPipeline
    prior/tokenizer/                      the prior's CLIPTokenizer files, copied
    prior/text_encoder/model.onnx         input_ids int64 [batch, 77] -> text_embeds [batch, E], last_hidden_state [batch, 77, E]
    prior/prior/model.onnx                hidden_states [batch, E], timestep int64 [batch], proj_embedding [batch, E],
                                          encoder_hidden_states [batch, 77, E], attention_mask bool [batch, 77]
                                          -> predicted_image_embedding [batch, E]
    prior/prior/clip_stats.json           {"clip_mean": [E], "clip_std": [E]} (PriorTransformer.post_process_latents)
    prior/scheduler/scheduler_config.json UnCLIPScheduler, copied
    prior/negative_image_embeds.json      {"negative_image_embeds": [E]}: the image encoder on a zero image
                                          (KandinskyV22PriorPipeline.get_zero_embed); the image encoder is not exported
    unet/model.onnx                       sample [batch, 4, h, w], timestep int64 [batch], image_embeds [batch, E]
                                          -> out_sample [batch, 8, h, w] (noise, then learned variance)
    scheduler/scheduler_config.json       DDPMScheduler, copied
    movq_decoder/model.onnx               latent_sample [batch, 4, h, w] -> sample [batch, 3, 8h, 8w] in [-1, 1]
                                          (VQModel.decode(..., force_not_quantize=True))
    */config.json                         the modules' diffusers configs, copied

Each graph is checked against its torch module on random inputs with ONNX Runtime (`pip install onnxruntime`); where
ONNX Runtime is missing the script says so, and --save-check DIR keeps the inputs and torch outputs as JSON for
another runtime to compare.

--tiny builds diffusers' own classes (PriorTransformer, UNet2DConditionModel with addition_embed_type "image" and
encoder_hid_dim_type "image_proj", VQModel with norm_type "spatial") with tiny random configs instead of loading
checkpoints: the exporter's self-test. transformers' CLIP classes are used where transformers is installed;
otherwise a small torch stand-in with the same inputs and outputs takes the text encoder's and image encoder's place
(say so wherever the result is used). On Debian's python3-torch 1.13 (no huggingface_hub, safetensors ...) diffusers
imports with the stand-ins of tools/diffusers_stubs.py:

    PYTHONPATH=/path/to/diffusers/src /usr/bin/python3 tools/export-kandinsky22.py --tiny --tokenizer tests/data/clip --out /tmp/k22
"""
import argparse
import importlib.util
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

OPSET = 17


def import_diffusers():
    """diffusers' model classes; with the import stand-ins only where huggingface_hub is missing."""
    if importlib.util.find_spec("huggingface_hub") is None:
        sys.path.insert(0, HERE)
        import diffusers_stubs  # noqa: F401
    from diffusers.models.autoencoders.vq_model import VQModel
    from diffusers.models.transformers.prior_transformer import PriorTransformer
    from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
    return PriorTransformer, UNet2DConditionModel, VQModel


def have(module):
    return importlib.util.find_spec(module) is not None


# ---------------------------------------------------------------------------------------------------------------
# The graphs: thin wrappers that give each module the inputs and outputs of the layout, called as the pipelines do.
# ---------------------------------------------------------------------------------------------------------------

def wrappers(torch):
    class TextEncoder(torch.nn.Module):
        """KandinskyV22PriorPipeline._encode_prompt: text_embeds and last_hidden_state of CLIPTextModelWithProjection."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids):
            out = self.model(input_ids)
            return out.text_embeds, out.last_hidden_state

    class Prior(torch.nn.Module):
        """The prior call of KandinskyV22PriorPipeline.__call__ (the mask is bool, as the tokenizer's .bool())."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, hidden_states, timestep, proj_embedding, encoder_hidden_states, attention_mask):
            return self.model(hidden_states, timestep=timestep, proj_embedding=proj_embedding,
                              encoder_hidden_states=encoder_hidden_states, attention_mask=attention_mask).predicted_image_embedding

    class UNet(torch.nn.Module):
        """The unet call of KandinskyV22Pipeline.__call__: no text, image_embeds through added_cond_kwargs."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, sample, timestep, image_embeds):
            return self.model(sample=sample, timestep=timestep, encoder_hidden_states=None,
                              added_cond_kwargs={"image_embeds": image_embeds}, return_dict=False)[0]

    class MovqDecoder(torch.nn.Module):
        """KandinskyV22Pipeline's movq.decode(latents, force_not_quantize=True)["sample"]."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, latent_sample):
            return self.model.decode(latent_sample, force_not_quantize=True).sample

    return TextEncoder, Prior, UNet, MovqDecoder


def tiny_stand_ins(torch, width, hidden, vocab=49408, tokens=77):
    """Where transformers is missing: modules with CLIPTextModelWithProjection's and CLIPVisionModelWithProjection's
    inputs and outputs (not CLIP: an embedding, one causal mixing layer, the state at the end token, a projection)."""
    import types

    class TextStandIn(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(vocab, hidden)
            self.position = torch.nn.Parameter(torch.randn(1, tokens, hidden) * 0.1)
            self.mix = torch.nn.Linear(hidden, hidden)
            self.projection = torch.nn.Linear(hidden, width, bias=False)

        def forward(self, input_ids):
            x = self.embed(input_ids) + self.position
            counts = torch.arange(1, tokens + 1, dtype=x.dtype).view(1, tokens, 1)
            x = torch.tanh(self.mix(torch.cumsum(x, dim=1) / counts) + x)
            pooled = x[torch.arange(x.shape[0]), input_ids.argmax(dim=-1)]
            return types.SimpleNamespace(text_embeds=self.projection(pooled), last_hidden_state=x)

    class ImageStandIn(torch.nn.Module):
        def __init__(self, size=32):
            super().__init__()
            self.config = types.SimpleNamespace(image_size=size)
            self.projection = torch.nn.Linear(3 * size * size, width)

        def forward(self, pixel_values):
            return {"image_embeds": self.projection(pixel_values.flatten(1))}

    return TextStandIn().eval(), ImageStandIn().eval()


# ---------------------------------------------------------------------------------------------------------------
# Export and check
# ---------------------------------------------------------------------------------------------------------------

def export(torch, module, inputs, path, input_names, output_names, dynamic_axes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(module, tuple(inputs), path, input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True)
    print(f"wrote {path}")


def check(torch, module, inputs, path, input_names, output_names, tolerance, save_dir, name):
    """Runs the graph and the module on the same random inputs; returns True, False, or None where ONNX Runtime is
    missing. With save_dir, writes {name}.json: the inputs and the torch outputs."""
    with torch.no_grad():
        expected = module(*inputs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    if save_dir:
        os.makedirs(save_dir, exist_ok=True)
        record = {
            "model": os.path.relpath(path, os.path.dirname(os.path.dirname(path))),
            "inputs": {n: tensor_json(t) for n, t in zip(input_names, inputs)},
            "outputs": {n: tensor_json(t) for n, t in zip(output_names, expected)},
            "tolerance": tolerance,
        }
        with open(os.path.join(save_dir, f"{name}.json"), "w") as f:
            json.dump(record, f)
    if not have("onnxruntime"):
        print(f"  not checked: onnxruntime is not installed ({path})")
        return None
    import numpy as np
    import onnxruntime
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    found = session.run(output_names, {n: t.cpu().numpy() for n, t in zip(input_names, inputs)})
    ok = True
    for n, want, got in zip(output_names, expected, found):
        want = want.float().cpu().numpy()
        diff = float(np.max(np.abs(want - got.astype(np.float32))))
        scale = float(np.max(np.abs(want))) or 1.0
        good = diff <= tolerance * max(1.0, scale)
        ok &= good
        print(f"  {'ok' if good else 'MISMATCH'} {n}: max |onnx - torch| = {diff:.3g} (scale {scale:.3g})")
    return ok


def tensor_json(t):
    dtype = str(t.dtype).replace("torch.", "")
    values = t.detach().cpu().flatten()
    values = values.tolist() if t.dtype == torch_module().bool else values.double().tolist()
    return {"dtype": dtype, "shape": list(t.shape), "values": values}


def torch_module():
    import torch
    return torch


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def copy_config(source_dir, relative, out, target):
    source = os.path.join(source_dir, relative)
    if os.path.exists(source):
        os.makedirs(os.path.dirname(os.path.join(out, target)), exist_ok=True)
        shutil.copyfile(source, os.path.join(out, target))


def save_config(model, path):
    """A diffusers module's config.json as save_config writes it."""
    config = {k: v for k, v in dict(model.config).items() if not k.startswith("_") or k == "_class_name"}
    config["_class_name"] = type(model).__name__
    write_json(path, config)


# ---------------------------------------------------------------------------------------------------------------
# The models: from checkpoints, or diffusers' classes with tiny random configs
# ---------------------------------------------------------------------------------------------------------------

def load_checkpoints(args, torch):
    PriorTransformer, UNet2DConditionModel, VQModel = import_diffusers()
    if not have("transformers"):
        sys.exit("transformers is needed for the prior's CLIP text and image encoders: pip install transformers")
    from transformers import CLIPTextModelWithProjection, CLIPVisionModelWithProjection
    dtype = torch.float16 if args.fp16 else torch.float32
    load = dict(torch_dtype=dtype)
    models = {
        "text_encoder": CLIPTextModelWithProjection.from_pretrained(args.prior, subfolder="text_encoder", **load),
        "image_encoder": CLIPVisionModelWithProjection.from_pretrained(args.prior, subfolder="image_encoder", **load),
        "prior": PriorTransformer.from_pretrained(args.prior, subfolder="prior", **load),
        "unet": UNet2DConditionModel.from_pretrained(args.decoder, subfolder="unet", **load),
        "movq": VQModel.from_pretrained(args.decoder, subfolder="movq", **load),
    }
    for m in models.values():
        m.to(args.device).eval()
    return models, dtype


def tiny_models(args, torch):
    PriorTransformer, UNet2DConditionModel, VQModel = import_diffusers()
    torch.manual_seed(args.seed)
    width = 16
    if have("transformers"):
        from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPVisionConfig, CLIPVisionModelWithProjection
        text = CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=width, projection_dim=width, intermediate_size=32,
                                                          num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=77))
        image = CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=16, projection_dim=width, intermediate_size=32,
                                                               num_hidden_layers=2, num_attention_heads=2, image_size=32, patch_size=8))
        print("tiny text and image encoders: transformers' CLIPTextModelWithProjection and CLIPVisionModelWithProjection")
    else:
        text, image = tiny_stand_ins(torch, width, width)
        print("tiny text and image encoders: torch stand-ins (transformers is not installed), not CLIP")
    models = {
        "text_encoder": text,
        "image_encoder": image,
        # Kandinsky 2.2's prior options (kandinsky-2-2-prior/prior/config.json), scaled down.
        "prior": PriorTransformer(num_attention_heads=2, attention_head_dim=8, num_layers=2, embedding_dim=width,
                                  num_embeddings=77, additional_embeddings=4, clip_embed_dim=width,
                                  embedding_proj_norm_type=None, norm_in_type=None, encoder_hid_proj_type="linear", added_emb_type="prd"),
        # kandinsky-2-2-decoder/unet/config.json's kinds of blocks and embeddings, scaled down.
        "unet": UNet2DConditionModel(
            sample_size=8, in_channels=4, out_channels=8, block_out_channels=(32, 64), layers_per_block=1,
            down_block_types=("ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"),
            up_block_types=("SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"),
            mid_block_type="UNetMidBlock2DSimpleCrossAttn", cross_attention_dim=32, attention_head_dim=8,
            addition_embed_type="image", addition_embed_type_num_heads=4, encoder_hid_dim=width,
            encoder_hid_dim_type="image_proj", norm_num_groups=8, resnet_time_scale_shift="scale_shift"),
        "movq": VQModel(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D", "AttnDownEncoderBlock2D"),
                        up_block_types=("AttnUpDecoderBlock2D", "UpDecoderBlock2D"), block_out_channels=(32, 64),
                        layers_per_block=1, latent_channels=4, num_vq_embeddings=32, vq_embed_dim=4, norm_num_groups=8,
                        norm_type="spatial"),
    }
    # post_process_latents' buffers are zeros and ones at init; random ones check that they are exported.
    with torch.no_grad():
        models["prior"].clip_mean.normal_(0, 0.2)
        models["prior"].clip_std.uniform_(0.5, 1.5)
    for m in models.values():
        m.eval()
    return models, torch.float32


def write_tiny_tokenizer(source, target):
    os.makedirs(target, exist_ok=True)
    for name in ("vocab.json", "merges.txt"):
        shutil.copyfile(os.path.join(source, name), os.path.join(target, name))
    # CLIP ViT-bigG's tokenizer pads with "!", as kandinsky-2-2-prior's does.
    write_json(os.path.join(target, "tokenizer_config.json"),
               {"model_max_length": 77, "pad_token": "!", "tokenizer_class": "CLIPTokenizer", "do_lower_case": True})


# ---------------------------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prior", help="local diffusers folder of kandinsky-community/kandinsky-2-2-prior")
    parser.add_argument("--decoder", help="local diffusers folder of kandinsky-community/kandinsky-2-2-decoder")
    parser.add_argument("--out", required=True, help="the export folder to write")
    parser.add_argument("--fp16", action="store_true", help="float16 weights, inputs and outputs (export on --device cuda)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tiny", action="store_true", help="diffusers' classes with tiny random configs (self-test)")
    parser.add_argument("--tokenizer", help="with --tiny: a folder with CLIP's vocab.json and merges.txt")
    parser.add_argument("--save-check", help="write each graph's random inputs and torch outputs as JSON here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.tiny == bool(args.prior or args.decoder) or (not args.tiny and not (args.prior and args.decoder)):
        parser.error("give --prior and --decoder, or --tiny")
    if args.tiny and not args.tokenizer:
        parser.error("--tiny needs --tokenizer (e.g. tests/data/clip)")

    import torch
    TextEncoder, Prior, UNet, MovqDecoder = wrappers(torch)
    models, dtype = tiny_models(args, torch) if args.tiny else load_checkpoints(args, torch)
    out, device = args.out, args.device
    tolerance = 2e-2 if args.fp16 else 1e-4
    results = {}
    gen = torch.Generator().manual_seed(args.seed + 1)

    def randn(*shape):
        return torch.randn(*shape, generator=gen).to(device=device, dtype=dtype)

    prior = models["prior"]
    width = prior.config.embedding_dim
    tokens = prior.config.num_embeddings
    batch = 2

    # The prior's text encoder and tokenizer.
    if args.tiny:
        write_tiny_tokenizer(args.tokenizer, os.path.join(out, "prior", "tokenizer"))
    else:
        shutil.copytree(os.path.join(args.prior, "tokenizer"), os.path.join(out, "prior", "tokenizer"), dirs_exist_ok=True)
        copy_config(args.prior, "text_encoder/config.json", out, "prior/text_encoder/config.json")
    text = TextEncoder(models["text_encoder"])
    ids = torch.randint(0, 49408, (batch, tokens), generator=gen).to(device)
    ids[:, 0], ids[:, -1] = 49406, 49407
    path = os.path.join(out, "prior", "text_encoder", "model.onnx")
    names = (["input_ids"], ["text_embeds", "last_hidden_state"])
    export(torch, text, [ids], path, *names, {"input_ids": {0: "batch"}, "text_embeds": {0: "batch"}, "last_hidden_state": {0: "batch"}})
    results["prior/text_encoder"] = check(torch, text, [ids], path, *names, tolerance, args.save_check, "text_encoder")

    # The PriorTransformer, its post-processing statistics and its scheduler.
    wrapped = Prior(prior)
    mask = torch.zeros(batch, tokens, dtype=torch.bool, device=device)
    mask[0, :9], mask[1, :30] = True, True
    inputs = [randn(batch, width), torch.tensor([999, 500], device=device), randn(batch, width), randn(batch, tokens, width), mask]
    path = os.path.join(out, "prior", "prior", "model.onnx")
    names = (["hidden_states", "timestep", "proj_embedding", "encoder_hidden_states", "attention_mask"], ["predicted_image_embedding"])
    export(torch, wrapped, inputs, path, *names, {n: {0: "batch"} for n in names[0] + names[1]})
    results["prior/prior"] = check(torch, wrapped, inputs, path, *names, tolerance, args.save_check, "prior")
    write_json(os.path.join(out, "prior", "prior", "clip_stats.json"), {
        "clip_mean": prior.clip_mean.detach().float().flatten().tolist(),
        "clip_std": prior.clip_std.detach().float().flatten().tolist(),
    })
    save_config(prior, os.path.join(out, "prior", "prior", "config.json"))
    if args.tiny:
        write_json(os.path.join(out, "prior", "scheduler", "scheduler_config.json"), {
            "_class_name": "UnCLIPScheduler", "clip_sample": True, "clip_sample_range": 10.0,
            "num_train_timesteps": 1000, "prediction_type": "sample", "variance_type": "fixed_small_log"})
    else:
        copy_config(args.prior, "scheduler/scheduler_config.json", out, "prior/scheduler/scheduler_config.json")

    # KandinskyV22PriorPipeline.get_zero_embed: the image encoder on a zero image.
    encoder = models["image_encoder"]
    size = encoder.config.image_size
    with torch.no_grad():
        zero = encoder(torch.zeros(1, 3, size, size, device=device, dtype=dtype))["image_embeds"]
    write_json(os.path.join(out, "prior", "negative_image_embeds.json"), {"negative_image_embeds": zero.float().flatten().tolist()})

    # The decoder UNet and its scheduler.
    unet = UNet(models["unet"])
    channels = models["unet"].config.in_channels
    side = 8 if args.tiny else 64
    inputs = [randn(batch, channels, side, side), torch.tensor([999, 500], device=device), randn(batch, width)]
    path = os.path.join(out, "unet", "model.onnx")
    names = (["sample", "timestep", "image_embeds"], ["out_sample"])
    spatial = {0: "batch", 2: "height", 3: "width"}
    export(torch, unet, inputs, path, *names, {"sample": spatial, "timestep": {0: "batch"}, "image_embeds": {0: "batch"}, "out_sample": spatial})
    results["unet"] = check(torch, unet, inputs, path, *names, tolerance, args.save_check, "unet")
    save_config(models["unet"], os.path.join(out, "unet", "config.json"))
    if args.tiny:
        write_json(os.path.join(out, "scheduler", "scheduler_config.json"), {
            "_class_name": "DDPMScheduler", "beta_end": 0.012, "beta_schedule": "linear", "beta_start": 0.00085,
            "clip_sample": False, "num_train_timesteps": 1000, "prediction_type": "epsilon", "steps_offset": 1,
            "timestep_spacing": "leading", "thresholding": False, "variance_type": "fixed_small"})
    else:
        copy_config(args.decoder, "scheduler/scheduler_config.json", out, "scheduler/scheduler_config.json")

    # MoVQ's decoder.
    movq = MovqDecoder(models["movq"])
    inputs = [randn(batch, channels, side, side)]
    path = os.path.join(out, "movq_decoder", "model.onnx")
    names = (["latent_sample"], ["sample"])
    export(torch, movq, inputs, path, *names, {"latent_sample": spatial, "sample": {0: "batch", 2: "image_height", 3: "image_width"}})
    results["movq_decoder"] = check(torch, movq, inputs, path, *names, tolerance, args.save_check, "movq_decoder")
    save_config(models["movq"], os.path.join(out, "movq_decoder", "config.json"))

    write_json(os.path.join(out, "model_index.json"), {
        "_class_name": "KandinskyV22CombinedPipeline",
        "_hierdiff_layout": "kandinsky-2.2 v1 (tools/export-kandinsky22.py)",
        "movq": ["diffusers", "VQModel"],
        "prior_prior": ["diffusers", "PriorTransformer"],
        "prior_scheduler": ["diffusers", "UnCLIPScheduler"],
        "prior_text_encoder": ["transformers", "CLIPTextModelWithProjection"],
        "prior_tokenizer": ["transformers", "CLIPTokenizer"],
        "scheduler": ["diffusers", "DDPMScheduler"],
        "unet": ["diffusers", "UNet2DConditionModel"],
    })

    print("checks: " + ", ".join(f"{k} {'ok' if v else 'not checked' if v is None else 'MISMATCH'}" for k, v in results.items()))
    if any(v is False for v in results.values()):
        sys.exit("an exported graph does not match its torch module")


if __name__ == "__main__":
    main()
