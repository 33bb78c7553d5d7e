"""Network modules: KANLayer, KAN (sum and product nodes), symbolic edge overrides, KAN convolutions."""
from .layer import KANLayer
from .kan import KAN, NodeSpec, Trace, combine_nodes, parse_width
from .symbolic_edges import SymbolicEdges
from .conv import KANConv1d, KANConv2d, KANConv3d, KANConvNd

__all__ = ["KANLayer", "KAN", "NodeSpec", "Trace", "combine_nodes", "parse_width", "SymbolicEdges",
           "KANConvNd", "KANConv1d", "KANConv2d", "KANConv3d"]
