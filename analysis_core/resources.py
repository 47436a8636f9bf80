"""Where the repository's shipped folders are: data/, templates/, hit_templates/.

Barlow is installed editable (``pip install -e .``), so these folders sit beside the
packages; an installation without them gets a clear error instead of a missing-file trace.
"""

from pathlib import Path

from analysis_core.errors import BarlowError

REPO_ROOT = Path(__file__).resolve().parent.parent


def _shipped(name: str) -> Path:
    path = REPO_ROOT / name
    if not path.is_dir():
        raise BarlowError(
            f"shipped folder {name}/ not found next to the installed packages ({path}); "
            "install Barlow from a clone with 'pip install -e .'"
        )
    return path


def data_dir() -> Path:
    return _shipped("data")


def templates_dir() -> Path:
    return _shipped("templates")


def hit_templates_dir() -> Path:
    return _shipped("hit_templates")
