"""Registry of KAN bases: name -> class.

>>> from symkan.bases import get_basis, available_bases
>>> cls = get_basis("bspline")

Each basis lives in its own module and registers itself with :func:`register_basis`.
"""
from __future__ import annotations

import importlib
import inspect

from .base import Basis, FeatureBasis
from .premap import PREMAPS

_REGISTRY: dict[str, type[Basis]] = {}
# name -> module that defines it; imported on first use to keep `import symkan` fast
_BUILTIN = {
    "bspline": "bspline",
    "relukan": "relukan",
    "rational": "rational",
    "mexican_hat": "wavelet",
    "morlet": "wavelet",
    "dog": "wavelet",
    "chebyshev": "polynomial",
    "legendre": "polynomial",
    "gram": "polynomial",
    "jacobi": "polynomial",
    "bernstein": "polynomial",
    "rbf": "rbf",
    "fourier": "fourier",
}


def register_basis(cls: type[Basis]) -> type[Basis]:
    """Class decorator: make ``cls`` available as ``KAN(..., basis=cls.name)``."""
    if not (isinstance(cls, type) and issubclass(cls, Basis)):
        raise TypeError(f"register_basis expects a Basis subclass, got {cls!r}")
    declared = inspect.getattr_static(cls, "premap_kind", None)
    if not (isinstance(declared, property) or declared in PREMAPS):
        raise TypeError(f"basis {cls.__name__} must declare the pre-map it applies: premap_kind = one of "
                        f"{PREMAPS} (or a property returning one), got {declared!r}")
    _REGISTRY[cls.name] = cls
    return cls


def get_basis(name: str) -> type[Basis]:
    if name not in _REGISTRY and name in _BUILTIN:
        importlib.import_module(f"{__name__}.{_BUILTIN[name]}")
    if name not in _REGISTRY:
        raise ValueError(f"unknown basis {name!r}; available: {', '.join(available_bases())}")
    return _REGISTRY[name]


def available_bases() -> list[str]:
    names = set(_REGISTRY)
    for name, module in _BUILTIN.items():
        try:
            importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError:
            continue  # family not written yet
        if name in _REGISTRY:
            names.add(name)
    return sorted(names)


__all__ = ["Basis", "FeatureBasis", "register_basis", "get_basis", "available_bases"]
