"""Benchmark data: the 100 AI-Feynman equations (shipped as package data, see
``data/SOURCE.md``) and a few toy functions, sampled into datasets.

>>> from symkan.datasets import make_dataset
>>> ds = make_dataset("I.6.2a", n=1000, noise=0.01, seed=0)
>>> ds.X.shape, ds.names
((1000, 1), ['theta'])
"""
from .equations import TOY_EQUATIONS, Equation, equation_units, feynman_equations, get_equation, parse_formula
from .sampling import Dataset, evaluate, make_dataset

__all__ = ["Equation", "Dataset", "TOY_EQUATIONS", "equation_units", "feynman_equations", "get_equation", "parse_formula",
           "evaluate", "make_dataset"]
