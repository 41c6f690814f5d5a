#!/usr/bin/env python3
"""Makes the scheduler reference files of tests/HierDiff.Core.Tests/TestData/schedulers/reference/ by running
diffusers' own scheduler code (schedulers/scheduling_*.py and configuration_utils.py) on fixed inputs.

    /usr/bin/python3 tools/make-scheduler-reference.py [--diffusers-git GIT_DIR] [--commit SHA]
                                                        [--diffusers-src SRC_DIR] [--only NAME,...] [OUT_DIR]

diffusers is read from a git repository (default: the mirror /work/.mirror/huggingface+diffusers/repo) at --commit
(default below), or from an extracted source tree with --diffusers-src (the folder that holds diffusers/). Its files
are imported from a temporary folder, never copied into this repository. Only torch, numpy and scipy are needed
(Debian: apt-get install python3-torch python3-numpy python3-scipy); huggingface_hub and the few diffusers.utils
names the scheduler modules import are replaced by small stand-ins, and randn_tensor by the injected noise.

Every case runs diffusers' sampling loop on a 16-value latent:
    latent = noise(draw 0) * init_noise_sigma
    for i, t in enumerate(scheduler.timesteps):
        model_input = scale(latent, t)
        output = fake_model(model_input, t)
        latent = scheduler.step(output, t, latent)        # randn_tensor returns noise(draw i + 1)
and records the timesteps, the sigmas (where the scheduler has them), init_noise_sigma and the latent before the
first step and after every step. The fake model and the noise are closed-form functions that the C# test computes
the same way (SchedulerReferenceTests):
    fake_model(x, t)[j] = 0.8 tanh(0.6 x[j] + c[j % 8]) + 0.15 sin(0.013 t + 0.7 j),  c[k] = float32(cos(1.3 + k))
    noise(draw)[j]      = HierDiff's NoiseStream(SEED, STREAM): Philox4x32-10 and Box-Muller, element j of draw
(the fake model is SchedulerTestKit.FakeDenoiser with Condition(1)). Both are evaluated in double and rounded to
float32, as in C#. The test suite does not run this script: its output is committed.
"""
import argparse
import datetime
import importlib
import inspect
import json
import math
import os
import subprocess
import sys
import tempfile
import types

DEFAULT_GIT = "/work/.mirror/huggingface+diffusers/repo"
DEFAULT_COMMIT = "58eb52c0803ea9af3abec60841c2a093bdf1f951"
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "HierDiff.Core.Tests",
                           "TestData", "schedulers", "reference")

LATENT_LENGTH = 16
LATENT_SHAPE = (1, 4, 2, 2)  # batch, channels, height, width: diffusers reads the channel dimension
SEED = 1234
STREAM = 5
STEP_COUNTS = [1, 2, 10, 25, 40, 50]

TEST_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "HierDiff.Core.Tests", "TestData",
                         "schedulers")


def export_config(name):
    """An export's scheduler_config.json from the test data, as the keys diffusers' constructor sees."""
    with open(os.path.join(TEST_DATA, name), encoding="utf-8") as f:
        return {k: v for k, v in json.load(f).items() if not k.startswith("_")}


# Stable Diffusion 1.5 (PNDM), 2.1 (DDIM, v_prediction) and SDXL base (Euler), as their exports ship them; the other
# cases share their betas.
SD15_PNDM = export_config("sd15_scheduler_config.json")
SD21_DDIM = export_config("sd21_scheduler_config.json")
SDXL_EULER = export_config("sdxl_scheduler_config.json")
SD_BETAS = {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "num_train_timesteps": 1000}
SD_LEADING = {**SD_BETAS, "timestep_spacing": "leading", "steps_offset": 1, "clip_sample": False,
              "set_alpha_to_one": False}
SD_TRAILING = {**SD_BETAS, "timestep_spacing": "trailing", "clip_sample": False}
SD_LINSPACE = {**SD_BETAS, "timestep_spacing": "linspace", "clip_sample": False}
COSINE = {"beta_schedule": "squaredcos_cap_v2"}
ZERO_SNR = {**SD_BETAS, "rescale_betas_zero_snr": True, "timestep_spacing": "trailing", "clip_sample": False,
            "prediction_type": "v_prediction"}


def with_predictions(name, config, predictions):
    return [(f"{name}/{p}", {**config, "prediction_type": p}) for p in predictions]


# File name -> (HierDiff scheduler name, diffusers class, [(case name, config[, step counts])]). A case without its own
# step counts runs at STEP_COUNTS.
FAMILIES = {
    "ddpm": ("ddpm", "DDPMScheduler", [
        ("zero-snr/v_prediction", ZERO_SNR),
        ("cosine", COSINE),
        ("defaults", {}),
        *with_predictions("sd-leading", SD_LEADING, ["epsilon", "v_prediction", "sample"]),
        ("sd-trailing", SD_TRAILING),
        ("sd-linspace", SD_LINSPACE),
        ("clip-range-2/sample", {"clip_sample": True, "clip_sample_range": 2.0, "prediction_type": "sample"}),
    ]),
    "ddim": ("ddim", "DDIMScheduler", [
        ("zero-snr/v_prediction", ZERO_SNR),
        ("cosine", COSINE),
        ("defaults", {}),
        ("sd21", SD21_DDIM),
        *with_predictions("sd-leading", SD_LEADING, ["epsilon", "sample"]),
        ("sd-trailing", SD_TRAILING),
        ("sd-linspace", SD_LINSPACE),
        ("set-alpha-to-one", {**SD_LEADING, "set_alpha_to_one": True}),
    ]),
    "euler": ("euler", "EulerDiscreteScheduler", [
        ("sdxl-karras", {**SDXL_EULER, "use_karras_sigmas": True}),
        ("sd-linspace-karras/v_prediction", {**SD_LINSPACE, "use_karras_sigmas": True, "prediction_type": "v_prediction"}),
        ("zero-snr/v_prediction", ZERO_SNR),
        ("sd-linspace-final-sigma-min", {**SD_LINSPACE, "final_sigmas_type": "sigma_min"}),
        ("cosine", COSINE),
        ("defaults", {}),
        ("sdxl", SDXL_EULER),
        *with_predictions("sdxl", SDXL_EULER, ["v_prediction", "sample"]),
        ("sd-trailing", SD_TRAILING),
        ("sd-linspace", SD_LINSPACE),
    ]),
    "euler-ancestral": ("euler-ancestral", "EulerAncestralDiscreteScheduler", [
        ("zero-snr/v_prediction", ZERO_SNR),
        ("defaults", {}),
        *with_predictions("sd-leading", SD_LEADING, ["epsilon", "v_prediction"]),
        ("sd-trailing", SD_TRAILING),
        ("sd-linspace", SD_LINSPACE),
    ]),
    "dpm": ("dpm++2m", "DPMSolverMultistepScheduler", [
        ("defaults", {}),
        *with_predictions("sd-linspace", SD_LINSPACE, ["epsilon", "v_prediction", "sample"]),
        ("sd-leading", SD_LEADING),
        ("sd-trailing", SD_TRAILING),
        ("order-1", {**SD_LINSPACE, "solver_order": 1}),
        *with_predictions("order-3", {**SD_LINSPACE, "solver_order": 3}, ["epsilon", "v_prediction"]),
        ("order-3-leading", {**SD_LEADING, "solver_order": 3}),
        ("order-3-trailing-no-lower-order-final", {**SD_TRAILING, "solver_order": 3, "lower_order_final": False}),
        ("heun", {**SD_LINSPACE, "solver_type": "heun"}),
        *with_predictions("sde", {**SD_LINSPACE, "algorithm_type": "sde-dpmsolver++"}, ["epsilon", "v_prediction"]),
        ("sde-heun", {**SD_LINSPACE, "algorithm_type": "sde-dpmsolver++", "solver_type": "heun"}),
        ("sde-order-1", {**SD_LINSPACE, "algorithm_type": "sde-dpmsolver++", "solver_order": 1}),
        ("sde-order-3", {**SD_LINSPACE, "algorithm_type": "sde-dpmsolver++", "solver_order": 3}),
        ("karras", {**SD_LINSPACE, "use_karras_sigmas": True}),
        ("sde-karras", {**SD_LEADING, "algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": True}),
        ("final-sigma-min", {**SD_LINSPACE, "final_sigmas_type": "sigma_min"}),
        ("order-3-final-sigma-min-euler-at-final", {**SD_LINSPACE, "solver_order": 3, "final_sigmas_type": "sigma_min",
                                                    "euler_at_final": True}),
        ("zero-snr/v_prediction", ZERO_SNR),
        ("cosine", COSINE),
        # diffusers reads deis as dpmsolver++ and bh2 as midpoint; it refuses deis with a final sigma of 0.
        ("deis-bh2-read-as-dpmsolver++-midpoint", {**SD_LINSPACE, "algorithm_type": "deis", "solver_type": "bh2",
                                                   "final_sigmas_type": "sigma_min"}),
    ]),
    "pndm": ("pndm", "PNDMScheduler", [
        # diffusers' default, the Runge-Kutta start (F-PNDM), needs at least 4 steps.
        ("prk-defaults", {}, [4, 10, 25, 40, 50]),
        ("prk-sd15/v_prediction", {**SD15_PNDM, "skip_prk_steps": False, "prediction_type": "v_prediction"}, [4, 10, 50]),
        ("prk-sd15-trailing", {**SD15_PNDM, "skip_prk_steps": False, "timestep_spacing": "trailing", "steps_offset": 0},
         [5, 25]),
        ("plms-defaults", {"skip_prk_steps": True}),
        *with_predictions("sd15", SD15_PNDM, ["epsilon", "v_prediction"]),
        ("sd15-trailing", {**SD15_PNDM, "timestep_spacing": "trailing", "steps_offset": 0}),
        ("sd15-linspace", {**SD15_PNDM, "timestep_spacing": "linspace", "steps_offset": 0}),
        ("sd15-set-alpha-to-one", {**SD15_PNDM, "set_alpha_to_one": True}),
        ("plms-cosine", {**COSINE, "skip_prk_steps": True}),
    ]),
    "lms": ("lms", "LMSDiscreteScheduler", [
        ("defaults", {}),
        *with_predictions("sd-linspace", SD_LINSPACE, ["epsilon", "v_prediction", "sample"]),
        ("sd-leading", SD_LEADING),
        ("sd-trailing", SD_TRAILING),
        ("sd-linspace-karras", {**SD_LINSPACE, "use_karras_sigmas": True}),
        ("sd-leading-karras/v_prediction", {**SD_LEADING, "use_karras_sigmas": True, "prediction_type": "v_prediction"}),
        ("cosine", COSINE),
    ]),
    "unipc": ("unipc", "UniPCMultistepScheduler", [
        ("defaults", {}),
        *with_predictions("sd-linspace", SD_LINSPACE, ["epsilon", "v_prediction", "sample"]),
        ("sd-leading", SD_LEADING),
        ("sd-trailing", SD_TRAILING),
        ("order-1", {**SD_LINSPACE, "solver_order": 1}),
        *with_predictions("order-3", {**SD_LINSPACE, "solver_order": 3}, ["epsilon", "v_prediction"]),
        ("order-3-leading", {**SD_LEADING, "solver_order": 3}),
        ("bh1-final-sigma-min", {**SD_LINSPACE, "solver_type": "bh1", "final_sigmas_type": "sigma_min"}),
        ("bh1-order-3-final-sigma-min", {**SD_LINSPACE, "solver_type": "bh1", "solver_order": 3,
                                         "final_sigmas_type": "sigma_min"}),
        # bh1 with a final sigma of 0 is not here: diffusers' last step is NaN (B(h) = -inf times a zero residual);
        # HierDiff refuses that config.
        ("noise-prediction-final-sigma-min", {**SD_LINSPACE, "predict_x0": False, "final_sigmas_type": "sigma_min"}),
        ("noise-prediction-order-3-final-sigma-min/v_prediction",
         {**SD_LINSPACE, "predict_x0": False, "solver_order": 3, "final_sigmas_type": "sigma_min",
          "prediction_type": "v_prediction"}),
        ("disable-corrector-0-3", {**SD_LINSPACE, "disable_corrector": [0, 3]}),
        ("order-3-no-lower-order-final-final-sigma-min", {**SD_LINSPACE, "solver_order": 3, "lower_order_final": False,
                                                          "final_sigmas_type": "sigma_min"}),
        ("karras", {**SD_LINSPACE, "use_karras_sigmas": True}),
        ("karras-final-sigma-min", {**SD_LINSPACE, "use_karras_sigmas": True, "final_sigmas_type": "sigma_min"}),
        ("final-sigma-min", {**SD_LINSPACE, "final_sigmas_type": "sigma_min"}),
        ("zero-snr/v_prediction", ZERO_SNR),
        ("cosine", COSINE),
        ("midpoint-read-as-bh2", {**SD_LINSPACE, "solver_type": "midpoint"}),
    ]),
    "flow-euler": ("flow-euler", "FlowMatchEulerDiscreteScheduler", [
        ("defaults", {}),
        ("sd3", {"shift": 3.0}),
    ]),
}

# diffusers as it ships, in float32, for the configs Stable Diffusion exports carry and the samplers people pick for
# them: (HierDiff name, diffusers class, case name, config). Each runs at FLOAT32_STEP_COUNTS.
FLOAT32_CASES = [
    ("pndm", "PNDMScheduler", "sd15", SD15_PNDM),
    ("ddim", "DDIMScheduler", "sd21", SD21_DDIM),
    ("euler", "EulerDiscreteScheduler", "sdxl", SDXL_EULER),
    ("euler-ancestral", "EulerAncestralDiscreteScheduler", "sd15", SD15_PNDM),
    ("dpm++2m", "DPMSolverMultistepScheduler", "sd15", SD15_PNDM),
    ("dpm++2m", "DPMSolverMultistepScheduler", "sdxl-karras", {**SDXL_EULER, "use_karras_sigmas": True}),
    ("dpm++2m", "DPMSolverMultistepScheduler", "sdxl-sde-karras",
     {**SDXL_EULER, "algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": True}),
    ("lms", "LMSDiscreteScheduler", "sd15", SD15_PNDM),
    ("unipc", "UniPCMultistepScheduler", "sd21", SD21_DDIM),
    ("ddpm", "DDPMScheduler", "sd15", SD15_PNDM),
    ("flow-euler", "FlowMatchEulerDiscreteScheduler", "sd3", {"shift": 3.0}),
]
FLOAT32_STEP_COUNTS = [25, 50]

MODULES = {
    "DDPMScheduler": "scheduling_ddpm",
    "DDIMScheduler": "scheduling_ddim",
    "EulerDiscreteScheduler": "scheduling_euler_discrete",
    "EulerAncestralDiscreteScheduler": "scheduling_euler_ancestral_discrete",
    "DPMSolverMultistepScheduler": "scheduling_dpmsolver_multistep",
    "FlowMatchEulerDiscreteScheduler": "scheduling_flow_match_euler_discrete",
    "PNDMScheduler": "scheduling_pndm",
    "LMSDiscreteScheduler": "scheduling_lms_discrete",
    "UniPCMultistepScheduler": "scheduling_unipc_multistep",
}


# ---- HierDiff's NoiseStream (src/HierDiff.Core/Noise/NoiseStream.cs), element for element -------------------------

MASK32 = 0xFFFFFFFF


def philox4x32_10(counter, key):
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for round_index in range(10):
        if round_index > 0:
            k0 = (k0 + 0x9E3779B9) & MASK32
            k1 = (k1 + 0xBB67AE85) & MASK32
        p0 = 0xD2511F53 * c0
        p1 = 0xCD9E8D57 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & MASK32, (p0 >> 32) ^ c3 ^ k1, p0 & MASK32
    return c0, c1, c2, c3


def box_muller(a, b):
    scale = 1.0 / 4294967296.0
    u1 = (a + 1.0) * scale
    u2 = (b + 1.0) * scale
    r = math.sqrt(-2.0 * math.log(u1))
    angle = 2.0 * math.pi * u2
    return r * math.cos(angle), r * math.sin(angle)


def noise(np, draw, length=LATENT_LENGTH, seed=SEED, stream=STREAM):
    key = (seed & MASK32, (seed >> 32) & MASK32)
    values = []
    for block in range((length + 3) // 4):
        x0, x1, x2, x3 = philox4x32_10((block, 0, stream, draw), key)
        values.extend(box_muller(x0, x1))
        values.extend(box_muller(x2, x3))
    return np.array(values[:length], dtype=np.float32)


def fake_model(np, model_input, timestep):
    x = model_input.detach().to("cpu").numpy().astype(np.float32)
    condition = [float(np.float32(math.cos(1.3 + k))) for k in range(8)]
    t = float(timestep)
    out = [0.8 * math.tanh(0.6 * float(x[j]) + condition[j % 8]) + 0.15 * math.sin(0.013 * t + 0.7 * j)
           for j in range(len(x))]
    return np.array(out, dtype=np.float32)


# ---- importing diffusers' scheduler modules with stand-ins for what they import --------------------------------------

def extract(git_dir, commit, into):
    paths = ["src/diffusers/schedulers", "src/diffusers/configuration_utils.py"]
    archive = subprocess.run(["git", f"--git-dir={git_dir}", "archive", commit, *paths], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)
    return os.path.join(into, "src")


STUB_UTILS = '''
import logging as _logging
HUGGINGFACE_CO_RESOLVE_ENDPOINT = "https://huggingface.co"
class BaseOutput:
    pass
class DummyObject(type):
    pass
class PushToHubMixin:
    pass
def deprecate(*args, take_from=None, standard_warn=True, stacklevel=2):
    return None
def extract_commit_hash(*args, **kwargs):
    return None
def http_user_agent(*args, **kwargs):
    return ""
def is_scipy_available():
    return True
class logging:
    get_logger = staticmethod(_logging.getLogger)
'''

STUB_TORCH_UTILS = '''
NEXT_NOISE = []
def randn_tensor(shape, generator=None, device=None, dtype=None, layout=None):
    """The noise the reference script injected for this step (HierDiff's NoiseStream draw)."""
    import torch
    if not NEXT_NOISE:
        raise RuntimeError("a scheduler drew noise twice in one step, or outside a step")
    return NEXT_NOISE.pop().reshape(shape).to(dtype=dtype)
'''

STUB_HUB = '''
class DDUFEntry:
    pass
def create_repo(*args, **kwargs):
    raise RuntimeError("not available")
def hf_hub_download(*args, **kwargs):
    raise RuntimeError("not available")
'''

STUB_HUB_UTILS = '''
class EntryNotFoundError(Exception):
    pass
class HfHubHTTPError(Exception):
    pass
class RepositoryNotFoundError(Exception):
    pass
class RevisionNotFoundError(Exception):
    pass
def validate_hf_hub_args(fn):
    return fn
'''


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def load_diffusers(src, work):
    """A package 'diffusers' holding diffusers' configuration_utils.py and scheduler modules, and stand-ins."""
    package = os.path.join(work, "pkg")
    root = os.path.join(package, "diffusers")
    write(os.path.join(root, "__init__.py"), '__version__ = "reference"\n')
    write(os.path.join(root, "utils", "__init__.py"), STUB_UTILS)
    write(os.path.join(root, "utils", "torch_utils.py"), STUB_TORCH_UTILS)
    write(os.path.join(package, "huggingface_hub", "__init__.py"), STUB_HUB)
    write(os.path.join(package, "huggingface_hub", "utils", "__init__.py"), STUB_HUB_UTILS)
    write(os.path.join(root, "schedulers", "__init__.py"), "")
    for name in ["configuration_utils.py"]:
        os.symlink(os.path.join(src, "diffusers", name), os.path.join(root, name))
    for module in ["scheduling_utils", *sorted(set(MODULES.values()))]:
        os.symlink(os.path.join(src, "diffusers", "schedulers", module + ".py"),
                   os.path.join(root, "schedulers", module + ".py"))
    sys.path.insert(0, package)
    return importlib.import_module("diffusers.utils.torch_utils")


class Float64Module(types.ModuleType):
    """torch or numpy, except that float32 is float64. A scheduler module given these computes its schedule (betas,
    alphas_cumprod, sigmas, timesteps) and its step coefficients in double, as HierDiff does. In float32 diffusers'
    own numbers are off by more than the 1e-5 the tests check: 1 - alphas_cumprod[0] loses four digits (the
    smallest sigma is 8e-5 off for beta_start 1e-4), and with zero terminal SNR Euler ancestral's sigma_down loses
    five. The latents, model outputs and noise the script passes stay float32."""

    def __init__(self, module):
        super().__init__(module.__name__)
        self._module = module

    def __getattr__(self, name):
        return self._module.float64 if name == "float32" else getattr(self._module, name)


def scheduler_class(class_name, float64):
    import numpy
    import torch
    module = importlib.import_module("diffusers.schedulers." + MODULES[class_name])
    module.torch = Float64Module(torch) if float64 else torch
    module.np = Float64Module(numpy) if float64 else numpy
    return getattr(module, class_name)


# ---- the cases ------------------------------------------------------------------------------------------------------

def f32(value):
    """The shortest text that reads back as the same float32."""
    import numpy as np
    return float(str(np.float32(value)))


def run_case(np, torch, torch_utils, class_name, config, steps, float64=True):
    cls = scheduler_class(class_name, float64)
    # Keys the class does not take are ignored, as diffusers' from_config does.
    accepted = set(inspect.signature(cls.__init__).parameters)
    scheduler = cls(**{k: v for k, v in config.items() if k in accepted})
    scheduler.set_timesteps(steps)
    timesteps = [float(t) for t in scheduler.timesteps]
    sigmas = getattr(scheduler, "sigmas", None)
    sigmas = [float(s) for s in sigmas] if isinstance(sigmas, torch.Tensor) else None
    # Flow matching has neither: its pipelines start from unit noise and give the model the latent as it is.
    init_noise_sigma = float(getattr(scheduler, "init_noise_sigma", 1.0))
    scale = getattr(scheduler, "scale_model_input", lambda latent, t: latent)

    latent = torch.from_numpy(noise(np, 0)).reshape(LATENT_SHAPE) * init_noise_sigma
    trajectory = [[f32(v) for v in latent.flatten()]]
    for i, t in enumerate(scheduler.timesteps):
        model_input = scale(latent, t)
        output = torch.from_numpy(fake_model(np, model_input.flatten(), t)).reshape(LATENT_SHAPE)
        torch_utils.NEXT_NOISE[:] = [torch.from_numpy(noise(np, i + 1)).reshape(LATENT_SHAPE)]
        latent = scheduler.step(output, t, latent, return_dict=False)[0]
        torch_utils.NEXT_NOISE.clear()
        trajectory.append([f32(v) for v in latent.flatten()])
    return {"timesteps": timesteps, "sigmas": sigmas, "init_noise_sigma": init_noise_sigma,
            "trajectory": trajectory}


def dump(document):
    """JSON with one case a line and one latent a line, so a diff of two versions stays readable."""
    header = {k: v for k, v in document.items() if k != "cases"}
    lines = ["{"]
    for key, value in header.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value)},")
    lines.append('  "cases": [')
    for n, case in enumerate(document["cases"]):
        head = {k: v for k, v in case.items() if k != "trajectory"}
        rows = ",\n      ".join(json.dumps(row) for row in case["trajectory"])
        text = json.dumps(head)[:-1] + ',\n     "trajectory": [\n      ' + rows + "]}"
        lines.append("    " + text + ("," if n + 1 < len(document["cases"]) else ""))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_float32(out, source, np, scipy, torch, torch_utils):
    document = {
        "about": "Reference numbers from diffusers' own scheduler code as it ships, in float32; see "
                 "tools/make-scheduler-reference.py",
        "generator": "tools/make-scheduler-reference.py",
        "diffusers": source,
        "created": datetime.date.today().isoformat(),
        "versions": f"torch {torch.__version__}, numpy {np.__version__}, scipy {scipy.__version__}",
        "model": "0.8 tanh(0.6 x[j] + float32(cos(1.3 + j % 8))) + 0.15 sin(0.013 t + 0.7 j)",
        "noise": f"NoiseStream({SEED}, {STREAM}): draw 0 times init_noise_sigma is the initial latent, "
                 "draw i + 1 the noise of step i",
        "latent_length": LATENT_LENGTH,
        "precision": "float32, as diffusers ships",
        "cases": [],
    }
    for name, class_name, case_name, config in FLOAT32_CASES:
        for steps in FLOAT32_STEP_COUNTS:
            result = run_case(np, torch, torch_utils, class_name, config, steps, float64=False)
            document["cases"].append({"name": case_name, "scheduler": name, "class": class_name,
                                      "config": {"_class_name": class_name, **config}, "steps": steps, **result})
    path = os.path.join(out, "float32.json")
    write(path, dump(document))
    print(f"{path}: {len(document['cases'])} cases", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", default=DEFAULT_OUT)
    parser.add_argument("--diffusers-git", default=DEFAULT_GIT)
    parser.add_argument("--commit", default=DEFAULT_COMMIT)
    parser.add_argument("--diffusers-src", help="an extracted diffusers source tree (the folder holding diffusers/)")
    parser.add_argument("--only", help="comma-separated file names (without .json): families, or float32")
    args = parser.parse_args()

    import numpy as np
    import scipy
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as work:
        if args.diffusers_src:
            src, source = os.path.abspath(args.diffusers_src), f"source tree {args.diffusers_src}"
        else:
            src, source = extract(args.diffusers_git, args.commit, work), f"git commit {args.commit}"
        torch_utils = load_diffusers(src, work)
        families = args.only.split(",") if args.only else [*FAMILIES, "float32"]
        os.makedirs(args.out, exist_ok=True)
        for family in families:
            if family == "float32":
                write_float32(args.out, source, np, scipy, torch, torch_utils)
                continue
            name, class_name, cases = FAMILIES[family]
            document = {
                "about": "Reference numbers from diffusers' own scheduler code; see tools/make-scheduler-reference.py",
                "generator": "tools/make-scheduler-reference.py",
                "diffusers": source,
                "created": datetime.date.today().isoformat(),
                "versions": f"torch {torch.__version__}, numpy {np.__version__}, scipy {scipy.__version__}",
                "model": "0.8 tanh(0.6 x[j] + float32(cos(1.3 + j % 8))) + 0.15 sin(0.013 t + 0.7 j)",
                "noise": f"NoiseStream({SEED}, {STREAM}): draw 0 times init_noise_sigma is the initial latent, "
                         "draw i + 1 the noise of step i",
                "latent_length": LATENT_LENGTH,
                "precision": "double: torch.float32 and np.float32 read as float64 inside the scheduler modules",
                "scheduler": name,
                "class": class_name,
                "cases": [],
            }
            for case_name, config, *step_counts in cases:
                for steps in step_counts[0] if step_counts else STEP_COUNTS:
                    result = run_case(np, torch, torch_utils, class_name, config, steps)
                    document["cases"].append({"name": case_name, "config": {"_class_name": class_name, **config},
                                              "steps": steps, **result})
            path = os.path.join(args.out, family + ".json")
            write(path, dump(document))
            print(f"{path}: {len(document['cases'])} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
