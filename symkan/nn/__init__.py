"""Network modules: KANLayer, KAN (sum and product nodes), symbolic edge overrides, KAN
convolutions and their bottleneck, and the Kolmogorov–Arnold Transformer's blocks."""
from .layer import KANLayer
from .kan import KAN, NodeSpec, Trace, combine_nodes, parse_width
from .symbolic_edges import SymbolicEdges
from .conv import KANConv1d, KANConv2d, KANConv3d, KANConvNd
from .bottleneck import (BottleneckKANConv1d, BottleneckKANConv2d, BottleneckKANConv3d, BottleneckKANConvNd,
                         seeded_conv, seeded_linear)
from .kat import GRKANMLP, GroupRational, KATBlock

__all__ = ["KANLayer", "KAN", "NodeSpec", "Trace", "combine_nodes", "parse_width", "SymbolicEdges",
           "KANConvNd", "KANConv1d", "KANConv2d", "KANConv3d", "BottleneckKANConvNd", "BottleneckKANConv1d",
           "BottleneckKANConv2d", "BottleneckKANConv3d", "seeded_conv", "seeded_linear",
           "GRKANMLP", "GroupRational", "KATBlock"]
