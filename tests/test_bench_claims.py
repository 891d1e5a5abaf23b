"""tools/bench_claims.py: the acceptance of issue 24 as the bench prints it (its doctests too)."""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import bench_claims  # noqa: E402


def test_the_doctests_of_bench_claims_pass():
    assert doctest.testmod(bench_claims).failed == 0


def _summary(recipe_mse, recipe_pcc, references):
    """A valence/arousal summary of run 1 against ``references`` ``{name: (mse, pcc)}``."""
    def figures(mse, pcc, versus):
        return {"valence_mse": {"mean": mse, "vs": {r: {"difference": mse - m, "ci": [mse - m - 0.01, mse - m + 0.01]}
                                                     for r, (m, _) in versus.items()}},
                "valence_pcc": {"mean": pcc, "vs": {r: {"difference": pcc - p, "ci": [pcc - p - 0.1, pcc - p + 0.1]}
                                                     for r, (_, p) in versus.items() if p is not None}}}
    summary = {"valence_arousal_run1": {"figures": figures(recipe_mse, recipe_pcc, references)}}
    summary.update({r: {"figures": figures(m, p, {})} for r, (m, p) in references.items()})
    return {"valence_arousal": summary}


def test_acceptance_needs_every_figure_of_every_family():
    references = {"constant": (0.12, None), "plain_film": (0.11, 0.20), "plain_global": (0.115, 0.10)}
    by_family = {"offsets": _summary(0.11, 0.25, references),      # ties plain_film's MSE: at or below
                 "levels": _summary(0.10, 0.15, references)}       # PCC below plain_film's
    rows = bench_claims.acceptance(by_family)
    assert [(r["family"], r["key"], r["reference"], r["met"]) for r in rows] == [
        ("offsets", "valence_mse", "constant", True), ("offsets", "valence_mse", "plain_film", True),
        ("offsets", "valence_mse", "plain_global", True), ("offsets", "valence_pcc", "plain_film", True),
        ("offsets", "valence_pcc", "plain_global", True),
        ("levels", "valence_mse", "constant", True), ("levels", "valence_mse", "plain_film", True),
        ("levels", "valence_mse", "plain_global", True), ("levels", "valence_pcc", "plain_film", False),
        ("levels", "valence_pcc", "plain_global", True)]
    text = bench_claims.format_acceptance(by_family)
    assert text.splitlines()[-1] == "  valence_arousal_run1 meets it in every family: no (levels)"
    assert "  levels   valence_pcc   0.1500 vs plain_film   0.2000: -0.0500 [-0.1500, +0.0500] NOT MET" in text
