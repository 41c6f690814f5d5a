# Stand-ins for the packages diffusers imports at module level but that the model classes never use here
# (Debian's python3-torch has no huggingface_hub, safetensors, tqdm ...). Every attribute is a harmless dummy.
import importlib.abc, importlib.machinery, importlib.metadata, re, sys, types

STUBBED = {"huggingface_hub", "safetensors", "tqdm", "filelock", "importlib_metadata", "regex", "packaging"}

# Newer torch modules diffusers imports for context parallelism, never used by these models.
STUBBED_MODULES = {"torch.distributed._functional_collectives", "torch.distributed.tensor", "torch.distributed.device_mesh", "torch.nn.attention"}

class _Dummy:
    def __init__(self, *a, **k): pass
    def __call__(self, *a, **k):
        return a[0] if len(a) == 1 and callable(a[0]) and not k else _Dummy()
    def __getattr__(self, name): return _Dummy()
    def __mro_entries__(self, bases): return (object,)
    def __iter__(self): return iter(())
    def __bool__(self): return False
    def __or__(self, other): return self
    __ror__ = __or__
    def __getitem__(self, key): return self

class _Version:
    def __init__(self, text):
        self.text = str(text)
        nums = re.findall(r"\d+", self.text.split("+")[0])[:3]
        self.key = tuple(int(n) for n in nums) + (0,) * (3 - len(nums))
        self.major, self.minor, self.micro = self.key
        self.base_version = ".".join(map(str, self.key))
        self.release = self.key
    def __lt__(self, o): return self.key < _v(o).key
    def __le__(self, o): return self.key <= _v(o).key
    def __gt__(self, o): return self.key > _v(o).key
    def __ge__(self, o): return self.key >= _v(o).key
    def __eq__(self, o): return self.key == _v(o).key
    def __hash__(self): return hash(self.key)
    def __str__(self): return self.text

def _v(o): return o if isinstance(o, _Version) else _Version(o)

class _Module(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"): raise AttributeError(name)
        if name in ("Version", "parse"): return _Version
        if name == "version" and self.__name__.startswith("packaging"): return sys.modules.setdefault("packaging.version", _mk("packaging.version"))
        if self.__name__ == "importlib_metadata": return getattr(importlib.metadata, name)
        if self.__name__ == "regex": return getattr(re, name)
        if name.isupper() or name.startswith("HF_"): return ""
        return _Dummy()

def _mk(name):
    m = _Module(name); m.__path__ = []; m.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True); return m

class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        stub = name.split(".")[0] in STUBBED or any(name == m or name.startswith(m + ".") for m in STUBBED_MODULES)
        return importlib.machinery.ModuleSpec(name, self, is_package=True) if stub else None
    def create_module(self, spec): return _mk(spec.name)
    def exec_module(self, module): pass

sys.meta_path.insert(0, _Finder())

# diffusers checks at import that requests, filelock ... are installed with their metadata; they are not needed here.
_checks = types.ModuleType("diffusers.dependency_versions_check")
_checks.dep_version_check = lambda *a, **k: None
sys.modules["diffusers.dependency_versions_check"] = _checks

# torch 1.13 has no torch.xpu / torch.mps modules; diffusers only builds tables of their functions at import.
import torch as _torch
for _backend in ("xpu", "mps"):
    if not hasattr(_torch, _backend) or not hasattr(getattr(_torch, _backend), "empty_cache"):
        _m = types.SimpleNamespace(empty_cache=lambda: None, device_count=lambda: 0, manual_seed=lambda *a: None,
                                   is_available=lambda: False, reset_peak_memory_stats=lambda *a: None,
                                   max_memory_allocated=lambda *a: 0, synchronize=lambda *a: None,
                                   current_device=lambda: 0, reset_max_memory_allocated=lambda *a: None)
        setattr(_torch, _backend, _m)

# Type annotations diffusers evaluates at class definition (torch.distributed.device_mesh.DeviceMesh | None).
import torch.distributed as _dist
class _Placeholder: pass
for _name, _attrs in {"device_mesh": ("DeviceMesh",), "tensor": ("DTensor", "Placement", "Shard", "Replicate")}.items():
    if not hasattr(_dist, _name):
        setattr(_dist, _name, types.SimpleNamespace(**{a: type(a, (_Placeholder,), {}) for a in _attrs}))

# torch.compiler arrived in torch 2.1: here nothing is compiled.
if not hasattr(_torch, "compiler"):
    _torch.compiler = types.SimpleNamespace(
        is_compiling=lambda: False, disable=lambda fn=None, *a, **k: fn if fn is not None else (lambda f: f),
        cudagraph_mark_step_begin=lambda: None, is_dynamo_compiling=lambda: False)

# dtypes newer than torch 1.13, named in diffusers' quantization tables only.
for _dtype in ("float8_e4m3fn", "float8_e5m2", "uint1", "uint2", "uint3", "uint4", "uint5", "uint6", "uint7", "uint16", "uint32", "uint64"):
    if not hasattr(_torch, _dtype):
        setattr(_torch, _dtype, type(_dtype, (_Placeholder,), {})())
