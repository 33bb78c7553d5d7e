"""Symbolic snapping: function library, batched edge fitting, auto-snap, formulas."""
from .library import SymbolicFunction, get_function, register_function

__all__ = ["SymbolicFunction", "get_function", "register_function"]
