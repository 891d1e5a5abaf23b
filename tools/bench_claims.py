"""What ``tools/bench_accuracy.py`` concludes from its draws: per family of sets, recipe and
figure, the mean ± sd over draws, the draws in which the recipe beats each reference (the two
plain recipes and the constant; paired, on the same films), the difference pooled over draws
with its interval, and the claims that hold; then what holds across families; and the
provenance line of every figure it prints.

A claim ("recipe R is better than reference Q on figure F") *holds* in a family when R is better
in at least 7 of 9 draws (:data:`SHARE`, whatever the number of draws: 5 of 6) and the 95 %
interval of the difference pooled over draws (:func:`mediaeval.evidence.pooled_difference`: a
percentile bootstrap over films, the same film resamples in every draw) excludes 0; the same
rule the other way makes R reliably *worse*, which is said too.  It holds *across families* when
it holds in every family; R is *recommended* when in every family it beats the constant on some
figure and is reliably worse than no reference on any (:func:`recommended`).
"""
from __future__ import annotations

import math
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

FIGURES = {"valence_arousal": ("valence_mse", "valence_pcc", "arousal_mse", "arousal_pcc"),
           "fear": ("map", "f1_per_film", "false_alarm_rate")}
REFERENCES = ("plain_film", "plain_global", "constant")
SHARE = 7 / 9


def _git(*command) -> str:
    try:
        return subprocess.run(["git", *command], cwd=Path(__file__).resolve().parent, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        model = ""
    return f"{model or platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs"


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = [f"python {platform.python_version()}"]
    for package in ("numpy", "scipy", "scikit-learn", "pandas", "tensorflow", "keras"):
        try:
            parts.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            pass
    return ", ".join(parts)


def provenance(args) -> str:
    """One line: where the figures come from (commit, seeds, library versions, CPU)."""
    commit = _git("rev-parse", "--short=12", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--untracked-files=no"):
        commit += " with uncommitted changes"
    return (f"provenance: commit {commit}; families {','.join(args.family)} (tools/families.py), each generator seeds "
            f"{','.join(map(str, args.generator_seeds))} x fold seeds {','.join(map(str, args.fold_seeds))}; "
            f"bootstrap over films {args.resamples:,} "
            f"resamples, seed 0; {_versions()}; {_cpu()}; --jobs {args.jobs}; {sys.platform}")


def needed(draws: int) -> int:
    """The draws in which a recipe must be better for a claim to hold: :data:`SHARE` of them.

    >>> needed(9), needed(6), needed(3)
    (7, 5, 3)
    """
    return math.ceil(SHARE * draws - 1e-9)


def _per_film(scores, task, key: str, films: list[str]) -> np.ndarray:
    source = task.film_figure(key)
    return np.array([scores.per_film[f].get(source, math.nan) for f in films], dtype=np.float64)


def _versus(task, key: str, recipe: str, reference: str, draws: list[dict], films, samples) -> dict | None:
    """Recipe against reference on ``key`` over the draws (None where the reference has no such figure)."""
    from mediaeval import evidence

    pairs = [(_per_film(d[recipe][0], task, key, films), _per_film(d[reference][0], task, key, films))
             for d in draws]
    if all(np.isnan(a).all() or np.isnan(b).all() for a, b in pairs):     # the constant has no PCC
        return None
    lower = task.lower_is_better(key)
    differences = [evidence.film_mean(a) - evidence.film_mean(b) for a, b in pairs]
    wins = sum(bool(d < 0 if lower else d > 0) for d in differences)
    losses = sum(bool(d > 0 if lower else d < 0) for d in differences)
    difference, low, high = evidence.pooled_difference(pairs, samples)
    better, worse = ((high < 0), (low > 0)) if lower else ((low > 0), (high < 0))
    return {"wins": wins, "difference": difference, "ci": [low, high],
            "holds": bool(wins >= needed(len(draws)) and better),
            "worse": bool(losses >= needed(len(draws)) and worse)}


def _interval(task, key: str, recipe: str, draws: list[dict], films, samples) -> list[float]:
    """The 95 % interval of the figure's mean over draws, every draw on the same film resamples."""
    from mediaeval import evidence

    resampled = np.mean([evidence.resampled_means(_per_film(d[recipe][0], task, key, films), samples)
                         for d in draws], axis=0)
    return list(evidence.percentile_interval(resampled))


def summarise(subtask: str, draws: list[dict], resamples: int = 2000) -> dict:
    """``{recipe: {"minutes", "figures": {key: {"mean", "ci", "sd", "vs": {reference: ...}}}}}``
    from the draws (each ``{recipe: (Scores, seconds)}``, on the same films): ``ci`` is the 95 %
    interval of the mean over draws (films resampled, the same resamples in every draw)."""
    from mediaeval import evidence
    from mediaeval.task import get

    task = get(subtask)
    films = sorted(draws[0]["constant"][0].per_film)
    if any(sorted(scores.per_film) != films for d in draws for scores, _ in d.values()):
        raise SystemExit("bench-accuracy: the draws hold different films; they cannot be pooled")
    samples = evidence.film_resamples(len(films), resamples, evidence.SEED)
    out = {}
    for recipe in draws[0]:
        figures = {}
        for key in FIGURES[subtask]:
            values = [d[recipe][0].figure(key) for d in draws]
            defined = [v for v in values if v is not None]
            versus = {ref: _versus(task, key, recipe, ref, draws, films, samples) for ref in REFERENCES
                      if recipe != "constant" and ref != recipe and (ref != "constant" or key in task.constant_keys)}
            figures[key] = {"mean": float(np.mean(defined)) if defined else None,
                            "ci": _interval(task, key, recipe, draws, films, samples),
                            "sd": float(np.std(defined, ddof=1)) if len(defined) > 1 else None,
                            "undefined_draws": len(values) - len(defined),
                            "vs": {k: v for k, v in versus.items() if v is not None}}
        out[recipe] = {"minutes": float(np.mean([d[recipe][1] for d in draws])) / 60, "figures": figures}
    return out


def _signed(value) -> str:
    return f"{value:+.4f}"


def _cell(versus: dict | None, draws: int) -> str:
    if versus is None:
        return ""
    low, high = versus["ci"]
    return (f"{versus['wins']}/{draws} {_signed(versus['difference'])} [{_signed(low)}, {_signed(high)}]"
            + (" holds" if versus["holds"] else " worse" if versus["worse"] else ""))


def format_summary(subtask: str, summary: dict, draws: int) -> str:
    """The table of one subtask: a line per recipe and figure."""
    lines = [f"{subtask}: {draws} draws; mean over draws [95 % interval, bootstrap over films] ± sd over "
             f"draws; vs a reference: draws in which the recipe is better, the difference (recipe minus "
             f"reference) pooled over draws [95 % interval, bootstrap over films]; holds: better in >= "
             f"{needed(draws)} of {draws} and the interval excludes 0 (worse: the same the other way)",
             f"{'recipe':24s}{'figure':18s}{'mean [95 % interval] ± sd':42s}"
             + "".join(f"{'vs ' + ref:44s}" for ref in REFERENCES) + "min/draw"]
    for recipe, row in summary.items():
        for i, (key, figure) in enumerate(row["figures"].items()):
            mean = "—" if figure["mean"] is None else f"{figure['mean']:.4f}"
            if figure["mean"] is not None and not np.isnan(figure["ci"][0]):
                mean += f" [{figure['ci'][0]:.4f}, {figure['ci'][1]:.4f}]"
            if figure["sd"] is not None:
                mean += f" ± {figure['sd']:.4f}"
            minutes = f"{row['minutes']:.2f}" if i == 0 else ""
            cells = "".join(f"{_cell(figure['vs'].get(ref), draws):44s}" for ref in REFERENCES)
            name = recipe if i == 0 else ""
            lines.append(f"{name:24s}{key:18s}{mean:42s}{cells}{minutes}".rstrip())
    return "\n".join(lines)


def _claims(summaries: dict):
    """``(subtask, recipe, key, reference, versus)`` of every claim that holds, either way."""
    for subtask, summary in summaries.items():
        for recipe, row in summary.items():
            for key, figure in row["figures"].items():
                for reference, versus in figure["vs"].items():
                    if versus["holds"] or versus["worse"]:
                        yield subtask, recipe, key, reference, versus


def format_claims(summaries: dict, draws: int) -> str:
    """The claims that hold, one a line, with the draws and the pooled interval."""
    lines = [f"claims that hold (better, or WORSE, in at least {needed(draws)} of {draws} draws, the 95 % "
             f"interval pooled over draws excluding 0):"]
    for subtask, recipe, key, reference, versus in _claims(summaries):
        low, high = versus["ci"]
        wins = versus["wins"] if versus["holds"] else draws - versus["wins"]
        lines.append(f"  {subtask}: {recipe} {'better' if versus['holds'] else 'WORSE'} than {reference} on {key}: "
                     f"{wins}/{draws} draws, {_signed(versus['difference'])} [{_signed(low)}, {_signed(high)}]")
    return "\n".join(lines if len(lines) > 1 else lines + ["  none"])


def recommended(by_family: dict, subtask: str, recipe: str) -> tuple[bool, list[str]]:
    """Whether ``recipe`` holds across families (``by_family``: ``{family: {subtask: summary}}``): in
    every family better than the constant on some figure, and reliably worse than no reference
    on any.  Returns the verdict and the reasons against it (each naming its family)."""
    reasons = []
    for family, summaries in by_family.items():
        claims = [c for c in _claims({subtask: summaries[subtask]}) if c[1] == recipe]
        if not any(versus["holds"] and reference == "constant" for *_, reference, versus in claims):
            reasons.append(f"beats the constant on no figure in {family}")
        reasons += [f"WORSE than {reference} on {key} in {family}" for _, _, key, reference, versus in claims
                    if versus["worse"]]
    return not reasons, reasons


def format_across(by_family: dict, draws: dict) -> str:
    """Per recipe, the claims that hold in every family and whether it is recommended
    (:func:`recommended`); ``draws``: ``{family: number of draws}``."""
    names = list(by_family)
    lines = [f"across families ({', '.join(f'{f} {n} draws' for f, n in draws.items())}): claims that hold in "
             f"every family; recommended: in every family better than the constant on some figure and "
             f"reliably worse than no reference on any"]
    first = by_family[names[0]]
    where = f"all {len(names)} families" if len(names) > 1 else f"the one family ({names[0]})"
    for subtask in first:
        for recipe in first[subtask]:
            if recipe == "constant":
                continue
            held = [(key, reference, better) for key, reference, better in sorted(_held(first, subtask, recipe))
                    if all((key, reference, better) in _held(by_family[f], subtask, recipe) for f in names[1:])]
            ok, reasons = recommended(by_family, subtask, recipe)
            claims = "; ".join(f"{'better' if better else 'WORSE'} than {reference} on {key}"
                               for key, reference, better in held) or "none"
            lines.append(f"  {subtask}: {recipe}: in {where}: {claims}. Recommended: "
                         + ("yes" if ok else "no (" + "; ".join(reasons) + ")"))
    return "\n".join(lines)


def acceptance(by_family: dict, recipe: str = "valence_arousal_run1", subtask: str = "valence_arousal") -> list[dict]:
    """Issue 24's acceptance of ``recipe``, family by family: each figure's mean over draws at or
    below (MSE) or above (PCC) every reference's mean, as point estimates, with the pooled paired
    difference and its interval beside.  One ``{"family", "key", "reference", "recipe", "value",
    "difference", "ci", "met"}`` per family, figure and reference that has the figure (the
    constant has no PCC)."""
    from mediaeval.task import get

    task, rows = get(subtask), []
    for family, summaries in by_family.items():
        summary = summaries[subtask]
        for key, figure in summary[recipe]["figures"].items():
            for reference, versus in figure["vs"].items():
                value = summary[reference]["figures"][key]["mean"]
                lower = task.lower_is_better(key)
                met = figure["mean"] <= value if lower else figure["mean"] >= value
                rows.append({"family": family, "key": key, "reference": reference, "recipe": figure["mean"],
                             "value": value, "difference": versus["difference"], "ci": versus["ci"],
                             "met": bool(met)})
    return rows


def format_acceptance(by_family: dict, recipe: str = "valence_arousal_run1",
                      subtask: str = "valence_arousal") -> str:
    """:func:`acceptance` as lines: per family and figure, the recipe's mean against each
    reference's, the paired difference pooled over draws [95 % interval], ok or NOT MET; then the
    verdict over every family.

    >>> figures = {"valence_mse": {"mean": 0.10, "vs": {"constant": {"difference": -0.02, "ci": [-0.03, -0.01]}}}}
    >>> constant = {"valence_mse": {"mean": 0.12, "vs": {}}}
    >>> print(format_acceptance({"offsets": {"valence_arousal": {"run1": {"figures": figures},
    ...                                                          "constant": {"figures": constant}}}}, "run1"))
    acceptance of run1 (each figure's mean over draws at or below every reference's MSE, at or above its PCC):
      offsets  valence_mse   0.1000 vs constant     0.1200: -0.0200 [-0.0300, -0.0100] ok
      run1 meets it in every family: yes
    """
    rows = acceptance(by_family, recipe, subtask)
    lines = [f"acceptance of {recipe} (each figure's mean over draws at or below every reference's MSE, at or "
             f"above its PCC):"]
    for row in rows:
        low, high = row["ci"]
        lines.append(f"  {row['family']:8s} {row['key']:13s} {row['recipe']:.4f} vs {row['reference']:12s} "
                     f"{row['value']:.4f}: {_signed(row['difference'])} [{_signed(low)}, {_signed(high)}] "
                     + ("ok" if row["met"] else "NOT MET"))
    missed = sorted({row["family"] for row in rows if not row["met"]})
    lines.append(f"  {recipe} meets it in every family: " + ("yes" if not missed else f"no ({', '.join(missed)})"))
    return "\n".join(lines)


def _held(summaries: dict, subtask: str, recipe: str) -> set:
    """``{(figure, reference, better)}`` of the claims about ``recipe`` that hold in one family."""
    return {(key, reference, bool(versus["holds"])) for _, r, key, reference, versus
            in _claims({subtask: summaries[subtask]}) if r == recipe}
