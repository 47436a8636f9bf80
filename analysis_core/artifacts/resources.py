"""Where the shipped folders are: data/, templates/, hit_templates/.

A wheel carries them inside the package (``analysis_core/_shipped/``, mapped at build
time from the repository's top-level folders); a source checkout or an editable install
finds them at the repository root. Resolving through ``importlib.resources`` keeps both
layouts working without the caller knowing which one it runs from.
"""

from importlib.resources import files
from pathlib import Path

from analysis_core.artifacts.errors import BarlowError

_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def _shipped(name: str) -> Path:
    packaged = Path(str(files("analysis_core"))) / "_shipped" / name
    for path in (packaged, _SOURCE_ROOT / name):
        if path.is_dir():
            return path
    raise BarlowError(
        f"shipped folder {name}/ is missing from this installation (looked in {packaged} and "
        f"{_SOURCE_ROOT / name}); reinstall Barlow from a wheel or a clone of the repository"
    )


def data_dir() -> Path:
    return _shipped("data")


def templates_dir() -> Path:
    return _shipped("templates")


def hit_templates_dir() -> Path:
    return _shipped("hit_templates")
