#!/usr/bin/env bash
# Packs what a GPU machine without .NET needs to measure HierDiff's CUDA path (tools/gpu/README.md):
# the CLI published self-contained for linux-x64 with ONNX Runtime's CUDA build, and a Stable Diffusion 1.5-shaped
# export folder without its UNet (tools/gpu/device.sh exports the 859.5 M-parameter UNet there, on the GPU).
# Writes gpu-kit/part-aa, part-ab, ... of at most 60 MB each (one `run` call carries at most 64 MiB).
set -euo pipefail
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
kit="$root/gpu-kit"
rm -rf "$kit"
mkdir -p "$kit/stage"
dotnet publish "$root/src/HierDiff.Cli" -c Release -r linux-x64 --self-contained -p:HierDiffCuda=true -o "$kit/stage/hierdiff" -v q -nologo
# The Gpu package ships its Windows natives too; a Linux machine needs only the .so files.
rm -f "$kit/stage/hierdiff/"onnxruntime*.dll
dotnet run -c Release --project "$root/benchmarks/HierDiff.Benchmarks" -- write-gpu-fixture "$kit/stage/fixture"
tar -C "$kit/stage" -cf - hierdiff fixture | xz -T2 -6 | split -b 60000000 - "$kit/part-"
rm -rf "$kit/stage"
ls -l "$kit"
