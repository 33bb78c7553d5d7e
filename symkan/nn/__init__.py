"""Network modules: KANLayer, KAN (sum and product nodes), symbolic edge overrides."""
from .layer import KANLayer
from .kan import KAN, NodeSpec, Trace, combine_nodes, parse_width
from .symbolic_edges import SymbolicEdges
from .kat import GRKANMLP, GroupRational, KATBlock

__all__ = ["KANLayer", "KAN", "NodeSpec", "Trace", "combine_nodes", "parse_width", "SymbolicEdges",
           "GRKANMLP", "GroupRational", "KATBlock"]
