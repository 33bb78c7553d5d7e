"""The bottom-level function layer shared by the network and the symbolic stages.

* :mod:`~symkan.functions.library`: the library of edge functions f of c·f(a·x + b) + d
  (torch, safe torch and sympy forms, domains, search modes) and user registrations;
* :mod:`~symkan.functions.grammar`: sympy expressions from text without ``eval``;
* :mod:`~symkan.functions.expression_data`: sympy expressions as plain nested lists
  (what model files store) and back without ``eval``;
* :mod:`~symkan.functions.bounds`: bounds on the work of evaluating an expression
  (size, depth, huge exact numbers), checked before a stored or parsed one is used.

Nothing here imports from :mod:`symkan.nn`, :mod:`symkan.symbolic` or any stage above.
"""
from .expression_data import expr_from_data, expr_to_data
from .grammar import parse_expression
from .library import (LOG_SPACE_NAMES, SymbolicFunction, available_functions, custom_functions, default_functions,
                      get_function, register_function, resolve_functions, restore_custom_functions,
                      unregister_functions)

__all__ = ["SymbolicFunction", "available_functions", "custom_functions", "default_functions", "get_function",
           "register_function", "resolve_functions", "restore_custom_functions", "unregister_functions",
           "LOG_SPACE_NAMES", "parse_expression", "expr_to_data", "expr_from_data"]
