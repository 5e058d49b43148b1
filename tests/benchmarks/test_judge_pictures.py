"""benchmarks/judge_pictures.py: kept pictures judged again, against each reference asked for."""

import json
import sys

from hires.demo_images import draw_demo_style
from hires.images import write_image
from tests.benchmarks.test_plateau import load


def test_each_picture_is_judged_against_each_reference(tmp_path, monkeypatch):
    # The demo's painting drawn at 800 px is a true scan of the 640 px one the pair names: the
    # scan judge reads it at no distance, the judge that enlarges the 640 px painting does not.
    picture = tmp_path / "scan.png"
    write_image(picture, draw_demo_style(800, 600), bit_depth=16)
    out = tmp_path / "j.json"
    monkeypatch.setattr(sys, "argv", ["judge_pictures.py", "--pair", "democontent-demostyle", "--backbone", "tiny",
                                      "--enlarge", "1,0", "--scan", "demostyle800", "--out", str(out), str(picture)])
    load("judge_pictures").main()
    readings = {r["reference"]: r for r in json.loads(out.read_text())["pictures"]}
    assert list(readings) == ["enlarge 1", "enlarge 0", "scan demostyle800"]
    assert readings["scan demostyle800"]["style"] < 1e-3 < readings["enlarge 1"]["style"]
    assert len({r["content"] for r in readings.values()}) == 1  # the photograph is the same for all
