#!/usr/bin/env bash
# Clusters the same matrix (10,000 x 768 by default) with scipy and with HierDiff, one after the other, on this
# machine. Needs Debian's python3-scipy (apt-get install python3-scipy).
#   bash benchmarks/compare-scipy.sh [N] [D]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
d=${2:-768}
dir=$(mktemp -d)
/usr/bin/python3 - "$dir" "$n" "$d" <<'PY'
import sys, time, json
import numpy as np
from scipy.spatial.distance import pdist
from scipy.cluster.hierarchy import linkage
out, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(42)
x = rng.normal(size=(n // 25 + 1, d))[rng.integers(0, n // 25 + 1, size=n)] + 0.3 * rng.normal(size=(n, d))
np.save(f"{out}/x.npy", x)
t = time.perf_counter(); y = pdist(x, "cosine"); t1 = time.perf_counter(); z = linkage(y, method="ward"); t2 = time.perf_counter()
print(f"scipy    N = {n}, D = {d}: distances {t1 - t:.3f} s, Ward {t2 - t1:.3f} s, total {t2 - t:.3f} s")
PY
dotnet build -c Release benchmarks/HierDiff.Benchmarks -v q -nologo >/dev/null
printf 'hierdiff '
dotnet benchmarks/HierDiff.Benchmarks/bin/Release/net10.0/HierDiff.Benchmarks.dll phases "$dir/x.npy"
rm -rf "$dir"
