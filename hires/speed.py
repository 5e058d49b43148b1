"""How long a ladder will take on this machine, before it starts.

A rung's evaluation costs FLOPs counted from the backbone's layer shapes (``hires.flops``); the
machine's rate in FLOP/s is what ``hires bench`` measured here, kept in the user's cache
(``speed.json``), or else a stated rough figure. ``--plan`` prints the estimate per rung and in
all; the render's own time-left display (``hires.estimate``) measures as it goes instead.
"""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Sequence

from core.backbones import Backbone
from core.tiles import tile_geometry
from hires.files import write_text_atomically
from hires.flops import count_flops
from hires.job import RungPlan

# Rough rates where hires bench has measured nothing here: vgg16-hed's objective on a 2-core AMD
# EPYC reached 78 to 98 GFLOP/s (plain graphs, 256 to 1024 px), an H200 79 to 109 TFLOP/s
# (float32, 1024 to 4096 px). Per CPU core and per GPU, rounded down.
ROUGH_FLOPS_PER_CPU = 40e9
ROUGH_FLOPS_PER_GPU = 75e9 * 1000
# L-BFGS evaluations per iteration (the first step is usually taken: 1.07 to 1.13 measured), and
# a rung's evaluations outside its iterations (choosing the scale, the targets' forward passes).
EVALUATIONS_PER_ITERATION = 1.1
EXTRA_EVALUATIONS = 2
# What a rung costs beside its evaluations: tracing and compiling its functions (1 to 3 s a
# shape on a 2-core CPU), and the optimiser's own work per iteration (25 to 40 ms measured on
# the CPU, more than a small rung's evaluation).
RUNG_STARTUP_SECONDS = 3.0
ITERATION_OVERHEAD_SECONDS = 0.03
# A tiled evaluation's second forward pass (pass 2 recomputes each tile's activations).
TILED_PASSES = 4 / 3
DAY_SECONDS = 86_400


@dataclass(frozen=True)
class Rate:
    """The objective's speed on this machine.

    Attributes:
        points: ``(pixels, FLOP/s)`` measured on whole images, smallest first; the rate of a size
            between them is interpolated, beyond them the nearest is taken.
        source: where the figure comes from, for the plan's reader.
        measured: whether ``hires bench`` measured it here.
    """

    points: tuple[tuple[int, float], ...]
    source: str
    measured: bool

    def flops_per_second(self, pixels: int) -> float:
        points = self.points
        if pixels <= points[0][0]:
            return points[0][1]
        for (p0, r0), (p1, r1) in zip(points, points[1:]):
            if pixels <= p1:  # linear in log-pixels
                share = math.log(pixels / p0) / math.log(p1 / p0)
                return r0 + share * (r1 - r0)
        return points[-1][1]


def cache_folder() -> Path:
    """``$HIRES_CACHE``, else ``$XDG_CACHE_HOME/hires``, else ``~/.cache/hires``."""
    if os.environ.get("HIRES_CACHE"):
        return Path(os.environ["HIRES_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "hires"


def machine_key(backbone: str, precision: str, xla: bool, device: str) -> str:
    """What a measured rate is a rate of: this machine's devices, the network and its arithmetic."""
    return f"{platform.node()}|{device}|{backbone}|{precision}|{'xla' if xla else 'graph'}"


def record(key: str, points: Sequence[tuple[int, float]], *, note: str) -> Path:
    """Keeps ``hires bench``'s measured ``(pixels, FLOP/s)`` under ``key``; returns the file.

    Raises:
        OSError: when the cache cannot be written (the bench reports it and goes on).
    """
    path = cache_folder() / "speed.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    table = _read(path)
    table[key] = {"points": sorted([int(p), float(r)] for p, r in points), "note": note,
                  "date": date.today().isoformat()}
    write_text_atomically(path, json.dumps(table, indent=1) + "\n")
    return path


def _read(path: Path) -> dict[str, Any]:
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return table if isinstance(table, dict) else {}


def machine_rate(key: str, *, kind: str, devices: int) -> Rate:
    """The rate ``hires bench`` measured here for ``key``, else the rough figure for ``kind`` ("CPU"/"GPU")."""
    entry = _read(cache_folder() / "speed.json").get(key)
    try:
        points = tuple((int(p), float(r)) for p, r in entry["points"]) if entry else ()
    except (TypeError, ValueError, KeyError):
        points = ()
    if points and all(rate > 0 for _, rate in points):
        return Rate(points, f"the rate hires bench measured here on {entry.get('date', '?')}", True)
    if kind == "GPU":
        return Rate(((1, ROUGH_FLOPS_PER_GPU * devices),),
                    f"a rough {ROUGH_FLOPS_PER_GPU / 1e12:g} TFLOP/s per GPU (run hires bench to measure)", False)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return Rate(((1, ROUGH_FLOPS_PER_CPU * cores),),
                f"a rough {ROUGH_FLOPS_PER_CPU / 1e9:g} GFLOP/s per CPU core x {cores} "
                "(run hires bench to measure)", False)


def evaluation_seconds(plan: RungPlan, backbone: Backbone, layers: Sequence[str], style_layers: Sequence[str],
                       rate: Rate) -> float:
    """The estimated seconds of one of the rung's evaluations (a tiled one: all its tiles)."""
    flops = count_flops(backbone, layer_names=layers, style_layer_names=style_layers,
                        height_px=plan.height, width_px=plan.width).evaluation
    speed = rate.flops_per_second(plan.pixels)
    if plan.memory.tile_px is not None:
        _, margin, _ = tile_geometry(backbone, layers)
        crop = plan.memory.tile_px + 2 * margin
        flops *= max(1.0, crop * crop * plan.memory.tiles / plan.pixels) * TILED_PASSES
        speed = rate.flops_per_second(crop * crop)
    return flops / speed


def rung_seconds(plan: RungPlan, backbone: Backbone, layers: Sequence[str], style_layers: Sequence[str],
                 rate: Rate) -> float:
    """The estimated seconds of one rung: its evaluations, each of its FLOPs at the machine's rate.

    A tiled rung evaluates crops (a tile and its margins) at the rate of a crop's size, and runs
    each through the network twice (``TILED_PASSES``).
    """
    evaluations = plan.rung.iterations * EVALUATIONS_PER_ITERATION + EXTRA_EVALUATIONS
    return (RUNG_STARTUP_SECONDS + plan.rung.iterations * ITERATION_OVERHEAD_SECONDS
            + evaluations * evaluation_seconds(plan, backbone, layers, style_layers, rate))
