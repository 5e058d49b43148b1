"""Tables from ``quality_ladder.py``'s JSON: each rung's plateau, and where a stopping rule would stop.

For every pair and rung: the iteration of the plateau (the first reading within the share of the
rung's last reading in style, layout and content distance), the loss's gain over the 10 iterations
before it (what ``--stop-gain`` reads), and, for each candidate ``--stop-gain``, the iteration
where that rule would stop and how far the picture there is from the rung's last reading in style,
layout and content. With ``--curves``, each rung's readings at chosen iterations, against its last.

    python benchmarks/plateau_report.py plateaus.json --gains 0.002,0.005,0.01 --curves 20,40,60,100
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def gains(readings: list[dict]) -> list[float | None]:
    """The loss's relative drop over each 10 iterations (None for the first reading)."""
    out: list[float | None] = [None]
    for before, after in zip(readings, readings[1:]):
        out.append((before["loss"] - after["loss"]) / before["loss"])
    return out


def stop_at(readings: list[dict], gain: float) -> int:
    """The reading where ``--stop-gain gain`` stops the rung (the last one when it never does)."""
    for index, drop in enumerate(gains(readings)):
        if drop is not None and drop < gain:
            return index
    return len(readings) - 1


def excess(reading: dict, readings: list[dict], key: str) -> float:
    """How far from the rung's last reading on ``key``, as a fraction of it (+: worse)."""
    last = readings[-1][key]
    return (reading[key] - last) / last


def against_last(reading: dict, readings: list[dict]) -> str:
    """Style / layout / content of ``reading`` against the rung's last, e.g. "+4% / -1% / +9%"."""
    return " / ".join(f"{excess(reading, readings, key):+.0%}" for key in ("style", "layout", "content"))


def report(results: dict, candidates: list[float]) -> str:
    head = ("| pair | rung | plateau iteration | loss gain over 10 iterations there | "
            + " | ".join(f"stop-gain {g}: iteration, style / layout / content against the last" for g in candidates) + " |")
    lines = [head, "| " + " | ".join(["---"] * (4 + len(candidates))) + " |"]
    for pair in results["pairs"]:
        for rung in pair["rungs"]:
            readings, index = rung["readings"], rung["plateau_index"]
            drop = gains(readings)[index]
            cells = [pair["pair"], f"{rung['width_px']}x{rung['height_px']}", str(rung["plateau_iteration"]),
                     "-" if drop is None else f"{drop:.4f}"]
            for gain in candidates:
                at = readings[stop_at(readings, gain)]
                cells.append(f"{at['iteration']}, {against_last(at, readings)}")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def curves(results: dict, at: list[int]) -> str:
    """Each rung's style, layout and content at the iterations ``at``, against its last reading."""
    head = "| pair | rung | " + " | ".join(f"iteration {i}" for i in at) + " | last: style, layout, content |"
    lines = [head, "| " + " | ".join(["---"] * (3 + len(at))) + " |"]
    for pair in results["pairs"]:
        for rung in pair["rungs"]:
            readings = {r["iteration"]: r for r in rung["readings"]}
            last = rung["readings"][-1]
            cells = [pair["pair"], f"{rung['width_px']}x{rung['height_px']}"]
            for iteration in at:
                reading = readings.get(iteration)
                cells.append("" if reading is None else against_last(reading, rung["readings"]))
            cells.append(f"{last['style']:.3g}, {last['layout']:.3g}, {last['content']:.3g} "
                         f"(iteration {last['iteration']})")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="+")
    parser.add_argument("--gains", default="0.002,0.005,0.01")
    parser.add_argument("--curves", help="also print the readings at these iterations, e.g. 20,40,60,100")
    options = parser.parse_args()
    candidates = [float(g) for g in options.gains.split(",")]
    for path in options.results:
        results = json.loads(path.read_text())
        print(report(results, candidates))
        if options.curves:
            print()
            print(curves(results, [int(i) for i in options.curves.split(",")]))


if __name__ == "__main__":
    main()
