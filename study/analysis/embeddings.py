"""Optional agreement between descriptions by sentence-embedding cosine similarity.

Uses the ``sentence-transformers`` package (``pip install 'barlow[embeddings]'``) with a
model given by name or by the path of a saved model folder (``--embeddings-model``). The
model is only ever read from disk (a folder, or the Hugging Face cache for a name), never
downloaded during an analysis: download it once beforehand, or copy a saved folder onto an
offline machine. Without a model the analysis reports token Jaccard only, which is always computed.
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np

from analysis_core.artifacts.errors import BarlowError

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
INSTALL_HINT = "pip install 'barlow[embeddings]' (or pip install sentence-transformers)"


def sentence_transformers_installed() -> bool:
    return importlib.util.find_spec("sentence_transformers") is not None


def _looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or "\\" in model or Path(model).expanduser().exists()


def load_embedder(model: str = DEFAULT_MODEL, required: bool = False):
    """``(embedder, note)``: the model read from disk, or ``(None, why)`` when it cannot be.

    With ``required`` a missing package or model is a BarlowError that says what to do.
    """
    def unavailable(why: str, fix: str):
        if required:
            raise BarlowError(f"--embeddings on: {why}; {fix}")
        return None, f"{why}; Jaccard only"

    if not sentence_transformers_installed():
        return unavailable("the sentence-transformers package is not installed", INSTALL_HINT)
    if _looks_like_path(model) and not Path(model).expanduser().is_dir():
        return unavailable(f"embedding model folder {model} not found", "pass --embeddings-model with a saved model's folder")
    from sentence_transformers import SentenceTransformer

    try:
        embedder = SentenceTransformer(str(Path(model).expanduser()) if _looks_like_path(model) else model,
                                       device="cpu", local_files_only=True)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return unavailable(
            f"embedding model {model!r} is not available offline ({first})",
            "download it once with: python -c \"from sentence_transformers import SentenceTransformer; "
            f"SentenceTransformer('{model}')\", or pass --embeddings-model PATH of a saved model folder",
        )
    return embedder, f"cosine of sentence embeddings from {model}"


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
