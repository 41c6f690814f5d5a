#!/usr/bin/env bash
# On the GPU machine (an H200 with PyTorch and CUDA 13 wheels under /opt/torch/.venv, no .NET), from the repository
# root, after gpu-kit/part-* have been carried there (tools/gpu/README.md). Writes everything it measures to $OUT.
#   bash tools/gpu/device.sh            the measurement
#   bash tools/gpu/device.sh --dry-run  the same steps on this machine's CPU with a UNet a tenth as wide, 16 x 16
#                                       latents and few prompts: checks the kit and the scripts before device time
set -euo pipefail
dry=${1:-}
root=$(pwd)
out=${OUT:-$root/gpu-out}
work=${WORK:-/tmp/hierdiff-gpu}
mkdir -p "$out" "$work"
cat gpu-kit/part-* | xz -d | tar -C "$work" -xf -
chmod +x "$work/hierdiff/hierdiff"

if [ "$dry" = "--dry-run" ]; then
  python=/usr/bin/python3; device=cpu; export_args="--scale 10 --latent 16 --device cpu"
  sizes="1 2 4"; head -8 samples/pattern-variations.txt > "$work/prompts.txt"; steps=10; rounds=1
else
  python=/opt/torch/.venv/bin/python; device=cuda; export_args="--fp16 --device cuda"
  sizes="1 2 4 8 16 32 48 64"; cp samples/pattern-variations.txt "$work/prompts.txt"; steps=40; rounds=2
  # ONNX Runtime's CUDA provider needs the CUDA 13 runtime: the wheels' libraries (libcuda.so.1 is the driver's).
  LD_LIBRARY_PATH=$(ls -d /opt/torch/.venv/lib/python3*/site-packages/nvidia/*/lib | paste -sd:):${LD_LIBRARY_PATH:-}
  export LD_LIBRARY_PATH
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.csv"
  nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu --format=csv -lms 500 > "$out/gpu-memory.csv" &
  smi=$!
  trap 'kill $smi 2>/dev/null || true' EXIT
fi

# The same UNet twice: timestep [B] (calls filled across steps) and a scalar timestep (one step per call).
for kind in batch scalar; do
  rm -rf "$work/model-$kind"
  cp -r "$work/fixture" "$work/model-$kind"
  /usr/bin/time -f "export $kind: %e s" $python tools/gpu/export_unet.py --out "$work/model-$kind" --timestep $kind $export_args 2>&1 | tail -2 | tee -a "$out/export.txt"
done

hd="$work/hierdiff/hierdiff"
"$hd" unet-timing --model "$work/model-batch" --device $device --sizes $sizes | tee "$out/unet-timing.md"
for kind in batch scalar; do
  "$hd" bench --model "$work/model-$kind" --device $device --prompts "$work/prompts.txt" --out "$work/bench-$kind" \
    --steps $steps --targets 0.25 0.5 0.75 --rounds $rounds 2> "$out/bench-$kind.log"
  cp "$work/bench-$kind/bench.md" "$out/bench-$kind.md"
  for m in "$work/bench-$kind"/*/manifest.json; do
    cp "$m" "$out/manifest-$kind-$(basename "$(dirname "$m")").json"
  done
done
ls -l "$out"
