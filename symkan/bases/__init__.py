"""Registry of KAN bases: name -> class.

>>> from symkan.bases import get_basis, available_bases
>>> cls = get_basis("bspline")

Each basis lives in a module of this package and registers itself with
:func:`register_basis`; the modules are imported on the first look-up (to keep
``import symkan`` fast), so a new basis is one new module here and nothing else.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil

from .base import Basis, FeatureBasis
from .premap import PREMAPS

_REGISTRY: dict[str, type[Basis]] = {}
_MISSING = object()


def _declared(cls: type[Basis], attr: str):
    """``attr`` as set by ``cls`` or one of its bases below :class:`Basis` (the contract's
    defaults do not count as a declaration); _MISSING where none sets it."""
    for klass in cls.__mro__:
        if klass is Basis:
            break
        if attr in vars(klass):
            return vars(klass)[attr]
    return _MISSING


def register_basis(cls: type[Basis]) -> type[Basis]:
    """Class decorator: make ``cls`` available as ``KAN(..., basis=cls.name)``.

    Refuses a class that does not declare the abilities of the basis contract
    (:mod:`symkan.bases.base`): ``premap_kind``, ``size_option`` and ``has_grid``.
    """
    if not (isinstance(cls, type) and issubclass(cls, Basis)):
        raise TypeError(f"register_basis expects a Basis subclass, got {cls!r}")
    declared = inspect.getattr_static(cls, "premap_kind", None)
    if not (isinstance(declared, property) or declared in PREMAPS):
        raise TypeError(f"basis {cls.__name__} must declare the pre-map it applies: premap_kind = one of "
                        f"{PREMAPS} (or a property returning one), got {declared!r}")
    size = _declared(cls, "size_option")
    options = inspect.signature(cls.__init__).parameters
    if not (size is None or (isinstance(size, str) and size in options)):
        raise TypeError(f"basis {cls.__name__} must declare size_option: the name of its constructor option "
                        f"that sets the number of basis functions per edge, or None; got "
                        f"{'nothing' if size is _MISSING else repr(size)}")
    if not isinstance(_declared(cls, "has_grid"), bool):
        raise TypeError(f"basis {cls.__name__} must declare has_grid = True or False (whether update_grid / "
                        f"refine move and resize a grid of knots or centres)")
    _REGISTRY[cls.name] = cls
    return cls


def _import_basis_modules() -> None:
    """Import every module of this package, so that every built-in basis is registered."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def get_basis(name: str) -> type[Basis]:
    if name not in _REGISTRY:
        _import_basis_modules()
    if name not in _REGISTRY:
        raise ValueError(f"unknown basis {name!r}; available: {', '.join(available_bases())}")
    return _REGISTRY[name]


def available_bases() -> list[str]:
    _import_basis_modules()
    return sorted(_REGISTRY)


__all__ = ["Basis", "FeatureBasis", "register_basis", "get_basis", "available_bases"]
