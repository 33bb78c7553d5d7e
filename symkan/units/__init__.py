"""Units of the columns and what they say about a law: parsing (:mod:`.parsing`),
Buckingham π groups (:mod:`.analysis`), dimensional consistency of a formula
(:mod:`.consistency`) and unit tables (:mod:`.tables`)."""
from .analysis import DimensionalAnalysis, NoReference, analyse, pi_groups, reference_exponents
from .consistency import Inconsistent, consistency_problem, expression_dimension
from .parsing import UnitError, format_dimension, parse_unit
from .tables import column_units, parse_inline, read_units

__all__ = ["DimensionalAnalysis", "Inconsistent", "NoReference", "UnitError", "analyse", "column_units",
           "consistency_problem", "expression_dimension", "format_dimension", "parse_unit", "parse_inline", "pi_groups",
           "read_units", "reference_exponents"]
