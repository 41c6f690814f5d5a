#!/usr/bin/env python3
"""Makes Ward-on-cosine reference cases with scipy, in the format of tests/HierDiff.Core.Tests/TestData/ward/.

    /usr/bin/python3 tools/make-ward-reference.py OUT_DIR

Needs numpy and scipy (Debian: apt-get install python3-scipy). The test suite does not run this: its output is
committed, so the tests need no Python.
"""
import json
import sys

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist


def calls(z, tau, k):
    phi = np.linspace(0, tau, k)[::-1]
    return int(sum(len(set(fcluster(z, p, criterion="distance"))) for p in phi))


def write(out, name, x):
    z = linkage(pdist(x, "cosine"), method="ward")
    case = {
        "n": int(x.shape[0]),
        "d": int(x.shape[1]),
        "linkage": [[int(r[0]), int(r[1]), float(r[2]), int(r[3])] for r in z],
        "denoiser_calls": {f"tau={t},K={k}": calls(z, t, k) for t in (0.0, 0.25, 0.5, 1.0, 2.0) for k in (10, 40)},
        "standard_calls": {f"K={k}": int(x.shape[0] * k) for k in (10, 40)},
    }
    np.save(f"{out}/{name}.npy", x)
    with open(f"{out}/{name}.json", "w") as f:
        json.dump(case, f, indent=0)


def main(out):
    rng = np.random.default_rng(20261127)
    # Groups of near-identical prompts around a few directions, as real prompt sets look.
    centres = rng.normal(size=(12, 96))
    x = np.repeat(centres, 25, axis=0) + 0.15 * rng.normal(size=(300, 96))
    write(out, "extra-groups-300x96", x)
    # A float32 matrix of positive-quadrant vectors (cosine distances well below 1), wider than it is tall.
    write(out, "extra-float32-40x768", np.abs(rng.normal(size=(40, 768))).astype(np.float32))
    # The smallest trees.
    write(out, "extra-two-2x5", rng.normal(size=(2, 5)))
    write(out, "extra-three-3x4", rng.normal(size=(3, 4)))
    # Hierarchical structure at several scales: 4 families x 4 scenes x 5 variants.
    fam = rng.normal(size=(4, 1, 1, 48)) * 3
    scene = rng.normal(size=(4, 4, 1, 48))
    var = 0.2 * rng.normal(size=(4, 4, 5, 48))
    write(out, "extra-nested-80x48", (fam + scene + var).reshape(80, 48))
    # Duplicate prompts: identical rows merge at height 0 (equal heights, so tie-breaking must be scipy's too).
    base = rng.normal(size=(10, 16))
    write(out, "extra-duplicates-30x16", base[rng.integers(0, 10, size=30)])


if __name__ == "__main__":
    main(sys.argv[1])
