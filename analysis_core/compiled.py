"""Optional numba compilation: ``jit(function)`` is ``numba.njit(cache=True)(function)`` when numba is
installed, else the plain Python function (same results, much slower).

Barlow's inner loops (binning, per-bin counting, the small entropy trees, the k-NN counts) are
written once as plain Python over NumPy arrays so that both paths run the same code; tests run
each kernel both ways (``function.py_func`` is the Python version of a compiled one).
"""

from __future__ import annotations

from typing import Callable

try:  # numba is an optional dependency (pip install 'barlow[fast]')
    import numba
except ImportError:  # pragma: no cover - exercised where numba is absent
    numba = None

HAVE_NUMBA = numba is not None


def jit(function: Callable) -> Callable:
    if numba is None:
        function.py_func = function
        return function
    return numba.njit(cache=True, nogil=True)(function)


def python_version(function: Callable) -> Callable:
    """The uncompiled function behind a ``jit`` kernel (itself when numba is absent)."""
    return function.py_func
