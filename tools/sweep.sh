#!/usr/bin/env bash
# A savings sweep on one prompt file with the built-in model: standard generation (DDPM, 40 steps), hierarchical at
# a few savings targets, and standard generation with fewer steps at the same average calls per image (the paper's
# fixed-budget comparison). Each run is scored with `hierdiff eval` and compared with standard by `hierdiff compare`.
#   bash tools/sweep.sh samples/pattern-variations.txt /tmp/sweep-patterns [TARGETS...]
set -euo pipefail
cd "$(dirname "$0")/.."
prompts=$1
out=$2
shift 2
targets=("${@:-0.4 0.6 0.75}")
read -r -a targets <<< "${targets[*]}"
dotnet build -c Release src/HierDiff.Cli -v q -nologo > /dev/null
hd() { dotnet src/HierDiff.Cli/bin/Release/net10.0/hierdiff.dll "$@"; }
json() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
mkdir -p "$out"

hd generate --prompts "$prompts" --out "$out/standard" --mode standard --overwrite > /dev/null
hd eval --run "$out/standard" > /dev/null
echo "| run | savings | mean score | win % vs standard | wins / ties / losses | diversity | wall s |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
row() {
  local run=$1 name=$2
  hd eval --run "$out/$run" > /dev/null
  hd compare "$out/$run" "$out/standard" --out "$out/$run/compare.json" > /dev/null
  echo "| $name | $(json "$out/$run/manifest.json" "f\"{d['savings']:.1%}\"") | $(json "$out/$run/scores.json" "f\"{d['mean_score']:.3f}\"") |" \
       "$(json "$out/$run/compare.json" "f\"{d['win_percent']:.1f}\"") | $(json "$out/$run/compare.json" "f\"{d['wins']} / {d['ties']} / {d['losses']}\"") |" \
       "$(json "$out/$run/scores.json" "f\"{d['diversity']:.3f}\"") | $(json "$out/$run/manifest.json" "f\"{d['timings']['total_s']:.1f}\"") |"
}
echo "| standard, 40 steps | 0.0% | $(json "$out/standard/scores.json" "f\"{d['mean_score']:.3f}\"") | 50.0 | - | $(json "$out/standard/scores.json" "f\"{d['diversity']:.3f}\"") | $(json "$out/standard/manifest.json" "f\"{d['timings']['total_s']:.1f}\"") |"
for t in "${targets[@]}"; do
  hd generate --prompts "$prompts" --out "$out/hier-$t" --target-savings "$t" --overwrite > /dev/null
  row "hier-$t" "hierarchical, target $t"
  # The same average calls per image, spent as fewer standard steps.
  steps=$(json "$out/hier-$t/manifest.json" "max(1, round(d['denoiser_calls'] / len(d['prompts'])))")
  hd generate --prompts "$prompts" --out "$out/fewer-$t" --mode standard --steps "$steps" --overwrite > /dev/null
  row "fewer-$t" "standard, $steps steps"
done
