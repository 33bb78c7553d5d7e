"""KAN: a stack of KANLayers with sum nodes and multiplication nodes of any arity.

``width=[2, [5, 2], 1]`` is a network with 2 inputs, a hidden layer of 5 sum nodes and
2 product nodes, and 1 output. A product node of arity r multiplies r sub-nodes, so
the layer feeding that hidden layer has 5 + 2·r outputs. Arities are set globally by
``mult_arity`` or per node: ``[5, [2, 3]]`` is 5 sum nodes, one product of 2 and one
product of 3 sub-nodes.
"""
from __future__ import annotations

import copy
import logging
import os
from dataclasses import dataclass, field

import torch
from torch import nn

from ..bases import get_basis
from .layer import KANLayer

log = logging.getLogger(__name__)


def init_generator(seed: int | None) -> torch.Generator:
    """The private generator every initial tensor of a network is drawn from, in turn.

    An int seed gives a reproducible stream. ``None`` seeds from fresh OS entropy, so two
    networks differ; it never reads or advances the global RNG (``torch.seed()`` would
    reseed it).
    """
    if seed is None:
        seed = int.from_bytes(os.urandom(8), "little") >> 1  # 63 bits: manual_seed takes any
        log.debug("KAN(seed=None): initialised from OS-entropy seed %d", seed)
    return torch.Generator().manual_seed(int(seed))


@dataclass(frozen=True)
class NodeSpec:
    """One layer of nodes: ``n_sum`` sum nodes followed by product nodes of ``arities``."""

    n_sum: int
    arities: tuple[int, ...] = ()

    @property
    def n_nodes(self) -> int:
        return self.n_sum + len(self.arities)

    @property
    def n_subnodes(self) -> int:
        """Outputs the previous KANLayer must produce for this node layer."""
        return self.n_sum + sum(self.arities)

    def to_json(self):
        return [self.n_sum, list(self.arities)] if self.arities else self.n_sum


def parse_width(width, mult_arity=2) -> list[NodeSpec]:
    if not isinstance(width, (list, tuple)) or len(width) < 2:
        raise ValueError(f"width must be a list of at least 2 layer sizes, e.g. [2, 5, 1]; got {width!r}")
    specs = []
    for pos, entry in enumerate(width):
        if isinstance(entry, (list, tuple)):
            if len(entry) != 2:
                raise ValueError(f"width[{pos}] must be an int or [n_sum, n_mult]; got {entry!r}")
            n_sum, mult = entry
            if isinstance(mult, (list, tuple)):
                arities = tuple(int(a) for a in mult)
            else:
                if int(mult) < 0:
                    raise ValueError(f"width[{pos}]: number of product nodes must be >= 0, got {mult!r}")
                arities = (int(mult_arity),) * int(mult)
        else:
            n_sum, arities = entry, ()
        if isinstance(n_sum, bool) or int(n_sum) != n_sum or int(n_sum) < 0:
            raise ValueError(f"width[{pos}]: node counts must be non-negative integers; got {entry!r}")
        if any(a < 2 for a in arities):
            raise ValueError(f"width[{pos}]: product nodes need arity >= 2; got {arities}")
        spec = NodeSpec(int(n_sum), arities)
        if spec.n_nodes < 1:
            raise ValueError(f"width[{pos}] has no nodes")
        if pos == 0 and spec.arities:
            raise ValueError("the input layer (width[0]) cannot have product nodes")
        specs.append(spec)
    return specs


def combine_nodes(sub: torch.Tensor, spec: NodeSpec) -> torch.Tensor:
    """sub: (batch, n_subnodes) -> nodes (batch, n_nodes): sums pass through, products multiply groups."""
    if not spec.arities:
        return sub
    parts = [sub[:, : spec.n_sum]]
    start = spec.n_sum
    for r in spec.arities:
        parts.append(sub[:, start : start + r].prod(dim=1, keepdim=True))
        start += r
    return torch.cat(parts, dim=1)


@dataclass
class Trace:
    """Intermediate values of one forward pass (what scores, plots and snapping need).

    ``inputs[l]``: (batch, in_l) into layer l; ``acts[l]``: (batch, out_l, in_l) edge
    activations; ``subnodes[l]``: (batch, out_l) layer output; ``nodes[l]``: (batch, n_nodes)
    after the product nodes (``nodes[-1]`` is the network output).
    """

    inputs: list[torch.Tensor] = field(default_factory=list)
    acts: list[torch.Tensor] = field(default_factory=list)
    subnodes: list[torch.Tensor] = field(default_factory=list)
    nodes: list[torch.Tensor] = field(default_factory=list)

    @property
    def output(self) -> torch.Tensor:
        return self.nodes[-1]


class KAN(nn.Module):
    """Kolmogorov–Arnold Network.

    Args:
        width: node layers, e.g. ``[2, 5, 1]`` or ``[2, [5, 2], 1]``.
        basis: registry name (see :func:`symkan.bases.available_bases`).
        residual: add the w_b·silu(x) branch on every edge.
        mult_arity: default arity of product nodes.
        seed: seeds a private generator for the initialisation (every tensor of every layer
            is drawn from it in turn); ``None`` seeds it from OS entropy, so the network is
            a fresh random draw. The global RNG is untouched either way.
        layers: existing :class:`KANLayer` s (one per pair of node layers, shapes matching
            ``width``) instead of new ones; no random draws, no basis options.
        **basis_options: passed to the basis (e.g. ``grid_size=5`` for B-splines).

    forward: x (batch, width[0]) -> (batch, n_out).
    """

    def __init__(self, width, basis: str = "bspline", *, residual: bool = True, mult_arity: int = 2,
                 seed: int | None = 0, layer_options: list[dict] | None = None,
                 layers: list[KANLayer] | None = None, **basis_options):
        super().__init__()
        self.specs = parse_width(width, mult_arity)
        get_basis(basis)  # fail early on unknown names
        self.basis_name = basis
        self.residual = bool(residual)
        self.mult_arity = int(mult_arity)
        n_nodes = [s.n_nodes for s in self.specs]
        # per node, its index in the network this one was pruned from (see kept_nodes);
        # not persistent: it describes one pruning step, so model files stay as they were
        self.register_buffer("node_origin", torch.cat([torch.arange(n) for n in n_nodes]), persistent=False)
        if layers is not None:
            if layer_options is not None or basis_options:
                raise ValueError("pass either existing layers or options to build new ones, not both")
            self.layers = nn.ModuleList(layers)
            self._check_layer_shapes()
            return
        gen = init_generator(seed)
        n_layers = len(self.specs) - 1
        if layer_options is not None and len(layer_options) != n_layers:
            raise ValueError(f"layer_options needs {n_layers} entries, got {len(layer_options)}")
        self.layers = nn.ModuleList()
        for l in range(n_layers):
            opts = dict(basis_options) if layer_options is None else dict(layer_options[l])
            layer = KANLayer(self.specs[l].n_nodes, self.specs[l + 1].n_subnodes, basis,
                             residual=residual, generator=gen, **opts)
            # Factors of a product node of arity >= 3 start at 1 + small: the product then
            # starts as (nearly) the sum of its factors' variations instead of a product of
            # r small numbers, whose gradient vanishes as r grows (measured: arity 4 trained
            # to RMSE 1e-2 from 0 and 9e-4 from 1; arity 2 trains well from 0 and found
            # x·sin(y) less reliably from 1).
            start = self.specs[l + 1].n_sum
            with torch.no_grad():
                for r in self.specs[l + 1].arities:
                    if r >= 3:
                        layer.bias[start:start + r] = 1.0
                    start += r
            self.layers.append(layer)

    def _check_layer_shapes(self) -> None:
        if len(self.layers) != len(self.specs) - 1:
            raise ValueError(f"{len(self.specs)} node layers need {len(self.specs) - 1} layers, got {len(self.layers)}")
        for l, layer in enumerate(self.layers):
            if (layer.in_features, layer.out_features) != (self.specs[l].n_nodes, self.specs[l + 1].n_subnodes):
                raise ValueError(f"layer {l} shape does not match the node specs")

    # --- structure ---------------------------------------------------------------------
    @property
    def width(self) -> list:
        return [s.to_json() for s in self.specs]

    @property
    def n_inputs(self) -> int:
        return self.specs[0].n_nodes

    @property
    def n_outputs(self) -> int:
        return self.specs[-1].n_nodes

    def config(self) -> dict:
        """JSON-friendly constructor arguments that rebuild this architecture."""
        return {"width": self.width, "basis": self.basis_name, "residual": self.residual,
                "mult_arity": self.mult_arity, "seed": None,
                "layer_options": [layer.basis.config() for layer in self.layers]}

    @classmethod
    def from_config(cls, config: dict) -> "KAN":
        return cls(**config)

    @classmethod
    def from_layers(cls, layers: list[KANLayer], specs: list[NodeSpec], like: "KAN") -> "KAN":
        """A network of existing ``layers`` between the node layers ``specs``, with the basis
        name, residual flag and product arity of ``like`` (used by pruning)."""
        return cls([s.to_json() for s in specs], like.basis_name, residual=like.residual,
                   mult_arity=like.mult_arity, layers=list(layers))

    @property
    def kept_nodes(self) -> list[list[int]]:
        """Per node layer l: for each node, its index in node layer l of the network this
        one was pruned from (set by :mod:`symkan.pruning`; ``list(range(n))`` for a network
        built from scratch). Kept in the non-persistent buffer ``node_origin``."""
        return [part.tolist() for part in self.node_origin.split([s.n_nodes for s in self.specs])]

    @kept_nodes.setter
    def kept_nodes(self, kept: list[list[int]]) -> None:
        if [len(k) for k in kept] != [s.n_nodes for s in self.specs]:
            raise ValueError(f"kept_nodes needs one index per node of {self.width}, got {kept}")
        self.node_origin = torch.tensor([j for k in kept for j in k], dtype=torch.long,
                                        device=self.node_origin.device)

    # --- evaluation --------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer, spec in zip(self.layers, self.specs[1:]):
            x = combine_nodes(layer(x), spec)
        return x

    def trace(self, x: torch.Tensor) -> Trace:
        """Forward pass that records inputs, edge activations and node values per layer."""
        t = Trace()
        for layer, spec in zip(self.layers, self.specs[1:]):
            t.inputs.append(x)
            acts = layer.edge_activations(x)
            sub = acts.sum(-1) + layer.bias
            t.acts.append(acts)
            t.subnodes.append(sub)
            x = combine_nodes(sub, spec)
            t.nodes.append(x)
        return t

    # --- grids -------------------------------------------------------------------------
    @property
    def supports_grid_update(self) -> bool:
        return all(layer.basis.supports_grid_update for layer in self.layers)

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor) -> None:
        """Adapt every layer's grid to the activations that ``x`` produces."""
        if not self.supports_grid_update:
            raise NotImplementedError(f"basis {self.basis_name!r} does not support grid updates")
        for layer, spec in zip(self.layers, self.specs[1:]):
            layer.basis.update_grid(x)
            x = combine_nodes(layer(x), spec)

    @torch.no_grad()
    def refine(self, num: int, x: torch.Tensor | None = None) -> "KAN":
        """A copy with ``num`` grid cells per edge computing (nearly) the same function."""
        new = copy.deepcopy(self)
        for layer, spec in zip(new.layers, new.specs[1:]):
            layer.basis.refine(num, x)
            if x is not None:
                x = combine_nodes(layer(x), spec)
        return new

    def n_edges(self) -> int:
        """Number of alive edges."""
        return int(sum(layer.mask.sum().item() for layer in self.layers))
