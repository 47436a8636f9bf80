"""'barlow report' and every 'barlow study ...' command run without importing torch.

torch takes seconds to import; the report and the study side only need the files steps
hand on (analysis_core.artifacts). Each check runs in a fresh interpreter, so that
modules imported by other tests cannot hide an import.
"""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    r'''
    import sys
    from pathlib import Path

    import numpy as np
    import pandas as pd
    from PIL import Image

    from analysis_core.artifacts import read_trees, write_visualization_index
    from barlow.cli import STUDY_COMMANDS, main

    root = Path(sys.argv[1])

    def step(argv, expected=0):
        status = main(argv)
        assert status == expected, (argv, status)
        loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith(("torch.", "torchvision")))
        assert not loaded, f"{' '.join(argv)} imported {loaded[:3]}"

    # A real analysis of a small benchmark, and A/B/C strips standing in for 'barlow visualize'.
    rng = np.random.default_rng(0)
    X = rng.random((240, 10)).astype(np.float32)
    labels = np.repeat(["Shirt", "Coat", "Bag"], 80)
    failed = (X[:, 2] < 0.4) & (rng.random(240) < 0.7) | (rng.random(240) < 0.05)
    predictions = np.where(failed, np.roll(labels, 80), labels)
    root.mkdir(parents=True, exist_ok=True)
    np.save(root / "features.npy", X)
    pd.DataFrame({"Labels": labels, "Predictions": predictions}).to_csv(root / "metadata.csv", index=False)
    analysis = root / "analysis"
    step(["analyze", "--features", str(root / "features.npy"), "--metadata", str(root / "metadata.csv"),
          "--out", str(analysis), "--top-k", "3", "--quiet"])
    features = {}
    for fid in read_trees(analysis).top_mi_features(3):
        for s in "ABC":
            path = analysis / "visualizations" / f"feature_{fid}" / f"{s}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, size=(20, 60, 3), dtype=np.uint8)).save(path)
        features[str(fid)] = {s: f"feature_{fid}/{s}.png" for s in "ABC"} | {"top_rows": [0], "top_values": [1.0]}
    write_visualization_index({"version": 1, "features_model": "m", "dataset": "d", "features": features, "leaves": {}},
                              analysis / "visualizations")

    step(["report", "--analysis", str(analysis), "--out", str(root / "report")])
    assert (root / "report" / "index.html").is_file()
    study = root / "study"
    step(["study", "create", "--analysis", str(analysis), "--out", str(study), "--top-n", "1", "--top-m", "1"])
    step(["study", "export", str(study), "--out", str(root / "answers.csv")])
    step(["study", "analyze", "--study", str(study), "--out", str(root / "study-analysis")], expected=2)  # no answers yet
    for name in STUDY_COMMANDS:
        try:
            step(["study", name, "--help"])
        except SystemExit:
            pass
    assert "torch" not in sys.modules, "a 'barlow study' command's --help imported torch"
    print("torch-free")
    '''
)


def test_report_and_study_commands_do_not_import_torch(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip().endswith("torch-free"), done.stdout[-2000:] + done.stderr[-4000:]
