"""Launch geometry of the Triton kernels: compile-time block sizes and runtime splits.

Plain Python and torch (never imports triton). The launchers in :mod:`.rational` and
:mod:`.relukan` take every block size and split from here; :mod:`.aot` compiles exactly
the block-size sets these functions can return (``*_variants``); the Triton-free tests
check both.

Two rules shape it:

* Block sizes are compile-time constants (each distinct set is a separate compile), so
  they take a few values and depend on the shape through choices that saturate: the
  ``*_variants`` functions sweep the shapes up to where every choice has saturated,
  which makes the enumeration exhaustive.
* A reduction over the batch (rows) is split across programs only as far as needed to
  give the GPU :data:`PROGRAMS_PER_SM` programs per multiprocessor, and every program
  keeps at least a minimum number of rows. Each program reduces its rows in registers
  and writes one partial per output; torch sums the partials (deterministic, no atomics).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

#: programs per multiprocessor a split aims for
PROGRAMS_PER_SM = 4
#: multiprocessors assumed where no GPU is attached (interpreter runs, AOT): an H100/H200
NOMINAL_SMS = 132


def next_pow2(n: int) -> int:
    """Smallest power of two ≥ n (1 for n ≤ 1)."""
    return 1 << max(0, int(n) - 1).bit_length()


def cdiv(a: int, b: int) -> int:
    return -(-int(a) // int(b))


def sm_count(device: torch.device) -> int:
    """Multiprocessors of a CUDA device; :data:`NOMINAL_SMS` for anything else."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).multi_processor_count)
    return NOMINAL_SMS


def split_rows(n_rows: int, n_tiles: int, block: int, min_rows: int, sms: int) -> tuple[int, int]:
    """Split ``n_rows`` rows of a reduction over programs -> (rows_per_program, n_splits).

    ``n_tiles`` programs already run per split. Splits are added until
    ``n_tiles · n_splits`` reaches ``PROGRAMS_PER_SM · sms``, but no program gets fewer
    than ``min_rows`` rows; ``rows_per_program`` is a multiple of ``block`` and the last
    split may be shorter. One split for an empty batch.
    """
    want = cdiv(PROGRAMS_PER_SM * sms, max(n_tiles, 1))
    n_split = max(1, min(want, n_rows // max(min_rows, 1)))
    rows = max(block, cdiv(cdiv(n_rows, n_split), block) * block)
    return rows, max(1, cdiv(n_rows, rows))


# --- group rational ----------------------------------------------------------------------
#: elements of one (BLOCK_R, BLOCK_C) tile of the rational kernels
RATIONAL_TILE = 4096
#: channel-block widths: narrow layers (≤ 32 channels) and everything else
RATIONAL_BLOCK_C = (32, 128)
#: widths of the in-register group reduction when a program covers several groups
RATIONAL_BLOCK_G = (8, 32, 128)
#: a split of the rational's rows keeps at least this many row blocks per program
RATIONAL_MIN_ROW_BLOCKS = 2


class RationalLaunch(NamedTuple):
    meta: dict  # BLOCK_R, BLOCK_C, BLOCK_G (compile-time)
    groups_per_program: int  # consecutive groups (in sorted-channel order) per program
    group_programs: int
    rows_per_program: int
    row_programs: int  # the flat grid is row_programs × group_programs


def rational_blocks(n_channels: int, n_groups: int) -> tuple[dict, int]:
    """-> (meta, groups_per_program). A program covers whole groups, as many consecutive
    ones as fill about one channel block, so that narrow groups (one channel each, the
    basis default) still give wide coalesced tiles; BLOCK_G ≥ groups_per_program is the
    width of its in-register group reduction."""
    block_c = RATIONAL_BLOCK_C[0] if n_channels <= RATIONAL_BLOCK_C[0] else RATIONAL_BLOCK_C[1]
    per_group = cdiv(max(n_channels, 1), max(n_groups, 1))  # average group width
    groups_per_program = max(1, block_c // per_group)
    # one group: no group reduction at all; otherwise the one-hot is 8, 32 or 128 wide
    # (finer steps would save little work and add compiled variants)
    block_g = 1 if groups_per_program == 1 else min(b for b in RATIONAL_BLOCK_G if b >= groups_per_program)
    meta = {"BLOCK_R": RATIONAL_TILE // block_c, "BLOCK_C": block_c, "BLOCK_G": block_g}
    return meta, groups_per_program


def rational_launch(n_rows: int, n_channels: int, n_groups: int, sms: int = NOMINAL_SMS) -> RationalLaunch:
    meta, gpp = rational_blocks(n_channels, n_groups)
    group_programs = cdiv(n_groups, gpp)
    rows, splits = split_rows(n_rows, group_programs, meta["BLOCK_R"],
                              RATIONAL_MIN_ROW_BLOCKS * meta["BLOCK_R"], sms)
    return RationalLaunch(meta, gpp, group_programs, rows, splits)


def rational_variants() -> list[dict]:
    """Every meta :func:`rational_blocks` can return. It depends on the channel count
    only through ``C ≤ 32`` and on the group width only below the block width, so
    sweeping C ≤ 2·128 and every group count reaches all of them."""
    seen = {tuple(rational_blocks(c, g)[0].items()) for c in range(1, 2 * RATIONAL_BLOCK_C[1] + 1)
            for g in range(1, c + 1)}
    return [dict(items) for items in sorted(seen)]


# --- fused ReLU-KAN ----------------------------------------------------------------------
#: a split of the dW batch reduction keeps at least this many rows per program
RELUKAN_DWEIGHT_MIN_ROWS = 128
#: column width (inputs × features) of one dx tile; K > this loops over feature chunks
RELUKAN_DINPUT_TILE = 64


def dot_block(n: int, lo: int = 16, hi: int = 64) -> int:
    """Power-of-two tile edge for a dot operand of extent n, within [lo, hi] (tl.dot needs ≥ 16)."""
    return max(lo, min(hi, next_pow2(n)))


def relukan_forward_blocks(n_out: int) -> dict:
    return {"BLOCK_M": 64, "BLOCK_N": dot_block(n_out), "BLOCK_K": 32}


def relukan_dweight_blocks(n_out: int) -> dict:
    return {"BLOCK_M": 32, "BLOCK_N": dot_block(n_out), "BLOCK_K": 64}


def relukan_dweight_split(n_batch: int, n_out: int, n_cols: int, sms: int = NOMINAL_SMS) -> tuple[int, int]:
    """-> (rows_per_program, n_splits) of the dW = gyᵀ·R batch reduction (``n_cols`` = I·K)."""
    meta = relukan_dweight_blocks(n_out)
    tiles = cdiv(n_out, meta["BLOCK_N"]) * cdiv(n_cols, meta["BLOCK_K"])
    return split_rows(n_batch, tiles, meta["BLOCK_M"], RELUKAN_DWEIGHT_MIN_ROWS, sms)


def relukan_dinput_blocks(n_feat: int) -> dict:
    """dx tile: BLOCK_I inputs × KP feature slots (KP ≥ K up to the tile width, else the
    kernel loops over K in chunks of KP); always RELUKAN_DINPUT_TILE columns."""
    kp = max(8, min(RELUKAN_DINPUT_TILE, next_pow2(n_feat)))
    return {"BLOCK_M": 32, "BLOCK_O": 32, "BLOCK_I": RELUKAN_DINPUT_TILE // kp, "KP": kp}


def _sweep(choose, upto: int) -> list[dict]:
    seen = {tuple(choose(n).items()) for n in range(1, upto + 1)}
    return [dict(items) for items in sorted(seen)]


def relukan_forward_variants() -> list[dict]:
    """Every meta :func:`relukan_forward_blocks` returns (it saturates at 64 outputs)."""
    return _sweep(relukan_forward_blocks, 2 * 64)


def relukan_dweight_variants() -> list[dict]:
    return _sweep(relukan_dweight_blocks, 2 * 64)


def relukan_dinput_variants() -> list[dict]:
    """Every meta :func:`relukan_dinput_blocks` returns (it saturates at K = 64)."""
    return _sweep(relukan_dinput_blocks, 2 * RELUKAN_DINPUT_TILE)


def dot_precisions(dtype: torch.dtype) -> tuple[str, ...]:
    """tl.dot input precisions the ReLU-KAN launchers may pick for this dtype (TF32 only
    for float32, when torch allows it for its own matmuls)."""
    return ("ieee", "tf32") if dtype == torch.float32 else ("ieee",)
