"""Slice discovery measured against the tools a user would pick instead (dcbench-style, Fashion-MNIST).

26 tasks with a known slice (10 rare subclass, 6 spurious artefact, 10 noisy label) and 6 null
tasks; each slicer (Barlow honest and in-sample, Domino's mixture and Spotlight from their
papers, failure directions, k-means on failures) gets the same robust features, labels and
predictions of half the test split and scores the other half. Prints precision-at-10/25/100
and AUROC per family, false slices on null tasks and seconds per task; writes
docs/results/slice-discovery/. Models and features are cached under runs/ (reused on rerun).

    python benchmarks/slice_discovery.py
    python benchmarks/slice_discovery.py --tasks rare-bag null-0 --methods barlow kmeans-failures
"""

import os
import sys

# One BLAS/OpenMP thread per process: on shared cores, threaded small matrix products run
# several times slower than single-threaded ones (measured: Spotlight 12x).
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

from slice_discovery.run import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
