"""The leaderboard as tables: plain text for the terminal (:func:`format_table`), and the table a
team pastes into its working notes, in Markdown (:func:`format_markdown`) or LaTeX
(:func:`format_latex`), with intervals.

Each takes the board of :func:`mediaeval.leaderboard.ranked` (entries with their evidence; a board
built by hand is weighed first: :func:`mediaeval.leaderboard.with_evidence`).
"""
from __future__ import annotations

from .leaderboard import with_evidence

_NAMES = {"valence_mse": "valence MSE", "valence_pcc": "valence PCC", "valence_ccc": "valence CCC",
          "arousal_mse": "arousal MSE", "arousal_pcc": "arousal PCC", "arousal_ccc": "arousal CCC",
          "map": "MAP", "accuracy_per_film": "accuracy", "precision_per_film": "precision",
          "recall_per_film": "recall", "f1_per_film": "F1", "false_alarm_rate": "false alarms"}


def _value(value, decimals: int = 4, sign: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.{decimals}f}" if sign else f"{value:.{decimals}f}"


def _ci(interval, decimals: int = 4, sign: bool = False) -> str:
    """``value [low, high]`` (the low and high of a figure or of a difference)."""
    value = interval.difference if hasattr(interval, "difference") else interval.value
    if interval.low is None:
        return _value(value, decimals, sign)
    return (f"{_value(value, decimals, sign)} [{_value(interval.low, decimals, sign)}, "
            f"{_value(interval.high, decimals, sign)}]")


def _criterion_text(task, criterion: str) -> str:
    keys = task.criterion_keys(criterion)
    what = keys[0] if len(keys) == 1 else f"the mean of {' and '.join(keys)}"
    return f"{what}, {'lower' if task.lower_is_better(keys[0]) else 'higher'} first"


def _shared_constant(entries) -> bool:
    """Whether every run's constant is the same (same folds and films)."""
    first = entries[0].evidence.constant
    return all(e.evidence.constant == first for e in entries)


def _constant_line(entries) -> str:
    if _shared_constant(entries):
        return "constant (training mean) on the same folds"
    return "constant (training mean) on the first run's folds (each run is compared with the constant of its own)"


def _versus_constant(entry, key: str, task) -> str:
    """The "minus the constant" cell: the paired difference and its verdict; "not compared (see
    note)" for a run whose figures are not this dataset's (its labels differ, say)."""
    versus = entry.evidence.vs_constant.get(key)
    if versus is not None:
        return f"{_ci(versus, sign=True)} {versus.verdict or 'undefined'}"
    if entry.note and not entry.evidence.constant and key in task.constant_keys:
        return "not compared (see note)"
    return ""


REPEATS_TEXT = ("sd over repeats: the figure's sample sd over the repeats of the cross-validation (other fold "
                "splits: the luck of the folds), beside the interval over films; figures and comparisons use "
                "each film's figure averaged over repeats")
LOCKBOX_TEXT = ("a sanity check that the out-of-fold figures hold on films that no choice saw, not a ranking: "
                "{n} films give wide intervals")


def _spread(entry, key: str) -> str:
    """``sd (R)`` of a figure over repeats; ``—`` for a run cross-validated once (or undefined)."""
    spread = entry.evidence.repeats.get(key)
    return "—" if spread is None or spread.sd is None else f"{spread.sd:.4f} ({len(spread.values)})"


def _run_lines(entry, rank: int, task, repeated: bool) -> list[str]:
    """A run's lines of :func:`format_table`: its name, then a line per figure."""
    sd = f"{'sd over repeats':18s}" if repeated else ""
    lines = [f"  {rank}. {entry.name}" + (" (the best)" if entry.evidence.best else "")]
    if entry.chosen:
        lines.append(f"       chosen by inner cross-validation (final model): {entry.chosen}")
    lines += [f"       {'figure':20s}{'value [95 % interval]':28s}{sd}{'minus the best':48s}minus the constant"]
    for key in task.table_keys:
        versus = entry.evidence.vs_best[key]
        best = "—" if versus is None else f"{_ci(versus, sign=True)} {versus.verdict or 'undefined'}"
        sd = f"{_spread(entry, key):18s}" if repeated else ""
        lines.append(f"       {key:20s}{_ci(entry.evidence.figures[key]):28s}{sd}{best:48s}"
                     f"{_versus_constant(entry, key, task)}".rstrip())
    return lines


def _lockbox_lines(entries, task) -> list[str]:
    """The lockbox part of :func:`format_table`: each run's figures on the lockbox films beside its
    out-of-fold ones, and the constant's; nothing without a lockbox."""
    boxed = [e for e in entries if e.evidence.lockbox is not None]
    if not boxed:
        return []
    films = boxed[0].evidence.lockbox.films
    lines = [f"  lockbox: the {len(films)} development films set aside from every choice and predicted once by the "
             f"submitted models ({', '.join(films)}) [95 % interval over these films]; "
             + LOCKBOX_TEXT.format(n=len(films))]
    for e in boxed:
        box = e.evidence.lockbox
        lines += [f"    {e.name}", f"       {'figure':20s}{'lockbox [95 % interval]':28s}{'out of fold':16s}"
                                   f"minus the constant"]
        for key in task.table_keys:
            versus = box.vs_constant.get(key)
            lines.append((f"       {key:20s}{_ci(box.figures[key]):28s}{_value(e.evidence.figures[key].value):16s}"
                          + (f"{_ci(versus, sign=True)} {versus.verdict or 'undefined'}" if versus else "")).rstrip())
    base = next((e.evidence.lockbox for e in boxed if e.evidence.lockbox.constant), None)
    if base is not None:
        lines.append("    constant (the mean label of the films the run was trained on) on the lockbox")
        lines += [f"       {key:20s}{_ci(base.constant[key])}" for key in task.table_keys]
    return lines


def format_table(board) -> str:
    """Plain-text leaderboard: per subtask, the runs tied with the best first, then the others,
    each with a line per figure: its value and interval (and its sd over repeats, when a run
    was cross-validated several times), its paired difference to the best run and (on the
    constant's figures) to the constant, with their verdicts; then the constant on the same
    folds, the lockbox's figures apart (if the runs have one) and the notes."""
    board = with_evidence(board)
    lines = []
    for subtask, entries in board.items():
        task = entries[0].subtask
        ev = entries[0].evidence
        repeated = any(e.evidence.repeats for e in entries)
        lines += [f"{subtask}: out-of-fold figures on the development films ({len(ev.films)}), the official mean "
                  f"over films [95 % interval: {ev.method}]; ranked by the criterion {ev.criterion} "
                  f"({_criterion_text(task, ev.criterion)})",
                  "  differences: run minus the best run, run minus the constant, on the same films (paired), "
                  "[95 % interval]; indistinguishable: the interval holds 0"]
        lines += [f"  {REPEATS_TEXT}"] if repeated else []
        group = None
        for rank, e in enumerate(entries, start=1):
            if e.evidence.tied != group:
                group = e.evidence.tied
                lines.append("  tied with the best (no criterion figure worse than the best run's):" if group else
                             "  worse than the best on a criterion figure:")
            lines += _run_lines(e, rank, task, repeated)
        base = next((e.evidence for e in entries if e.evidence.constant), None)
        if base is not None:
            lines.append(f"  {_constant_line(entries)}")
            lines += [f"       {key:20s}{_ci(base.constant[key])}" for key in task.table_keys]
        lines += _lockbox_lines(entries, task)
        lines += [f"  note: {note}" for note in ev.notes]
        lines.append("")
    lines.append("—: undefined (a constant's PCC; a precision where nothing is predicted fearful).  Beating the "
                 "constant is said per figure, only where the paired interval excludes 0 (better).")
    return "\n".join(lines)


def _cell(entry, key: str, decimals: int) -> str:
    """``value [low, high]``, and ``± sd`` over repeats for a run cross-validated several times."""
    spread = entry.evidence.repeats.get(key)
    sd = "" if spread is None or spread.sd is None else f" ±{spread.sd:.{decimals}f}"
    return _ci(entry.evidence.figures[key], decimals) + sd


def _paper_rows(entries, decimals: int = 3):
    """``(name, tied, cells)`` per run, then the constant's: ``cells`` per figure as ``(value
    [low, high], better than the constant)``."""
    task = entries[0].subtask
    rows = []
    for e in entries:
        ev = e.evidence
        cells = [(_cell(e, k, decimals), getattr(ev.vs_constant.get(k), "verdict", None) == "better")
                 for k in task.table_keys]
        rows.append((e.name, ev.tied, cells))
    if entries[0].evidence.constant:
        rows.append(("constant (training mean)", False,
                     [(_ci(entries[0].evidence.constant[k], decimals), False) for k in task.table_keys]))
    return rows


def _lockbox_rows(entries, decimals: int = 3):
    """The rows of :func:`_paper_rows` on the lockbox films: each run that has a lockbox, then the
    constant on them (no run is tied with another: the lockbox ranks nothing)."""
    task = entries[0].subtask
    boxes = [(e.name, e.evidence.lockbox) for e in entries if e.evidence.lockbox is not None]
    rows = [(name, False, [(_ci(box.figures[k], decimals),
                            getattr(box.vs_constant.get(k), "verdict", None) == "better") for k in task.table_keys])
            for name, box in boxes]
    base = next((box for _, box in boxes if box.constant), None)
    if base is not None:
        rows.append(("constant (training mean)", False, [(_ci(base.constant[k], decimals), False)
                                                        for k in task.table_keys]))
    return rows


def _caption(entries) -> str:
    ev = entries[0].evidence
    task = entries[0].subtask
    text = (f"Out-of-fold figures on the {len(ev.films)} development films: the official mean over films "
            f"[95 % interval: {ev.method}]. Runs ranked by {_criterion_text(task, ev.criterion)}; "
            f"† indistinguishable from the best run on the criterion (paired interval holds 0); "
            f"* better than the constant (training mean on the same folds; paired interval excludes 0).")
    if any(e.evidence.repeats for e in entries):
        text += (" ± the sample sd of a figure over the repeats of the cross-validation (the luck of the folds); "
                 "figures and comparisons use each film's figure averaged over repeats.")
    if not _shared_constant(entries):
        text += " The constant shown is on the first run's folds."
    return text + "".join(f" Note: {note}." for note in ev.notes)


def _lockbox_caption(entries) -> str | None:
    """The caption of the lockbox table of ``entries``; None when no run has a lockbox."""
    box = next((e.evidence.lockbox for e in entries if e.evidence.lockbox is not None), None)
    if box is None:
        return None
    return (f"Lockbox: figures on the {len(box.films)} development films set aside from every choice and predicted "
            f"once by the submitted models ({', '.join(box.films)}) [95 % interval over these films]; "
            + LOCKBOX_TEXT.format(n=len(box.films)) + ". * better than the constant (the training films' mean "
            "label; paired interval excludes 0).")


def format_markdown(board) -> str:
    """Per subtask, a Markdown table: a row per run (``†`` tied with the best, ``*`` on a figure
    better than the constant, ``±sd`` over repeats for a run cross-validated several times), then
    the constant; its caption says how the intervals were drawn.  When runs have a lockbox, a
    second table of their figures on it, and the constant's."""
    board = with_evidence(board)
    parts = []
    for subtask, entries in board.items():
        tables = [(f"**{subtask}.** {_caption(entries)}", _paper_rows(entries))]
        if _lockbox_caption(entries):
            tables.append((f"**{subtask}, lockbox.** {_lockbox_caption(entries)}", _lockbox_rows(entries)))
        for caption, rows in tables:
            parts.append(_markdown_table(caption, entries[0].subtask.table_keys, rows))
    return "\n\n".join(parts) + "\n"


def _markdown_table(caption: str, keys, rows) -> str:
    lines = [caption, "", "| run | " + " | ".join(_NAMES.get(k, k) for k in keys) + " |",
             "| --- |" + " --- |" * len(keys)]
    for name, tied, cells in rows:
        lines.append(f"| {name}{' †' if tied else ''} | "
                     + " | ".join(f"{text}{' *' if better else ''}" for text, better in cells) + " |")
    return "\n".join(lines)


_LATEX = {"\\": r"\textbackslash{}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "†": r"$^\dagger$", "*": r"$^*$",
          "—": "---", "±": r"$\pm$"}


def _latex_escape(text: str) -> str:
    r"""``text`` as LaTeX: its special characters escaped, † and * as superscripts, — as ---.

    >>> _latex_escape("run_1 † 95 % *")
    'run\\_1 $^\\dagger$ 95 \\% $^*$'
    """
    return "".join(_LATEX.get(c, c) for c in text)


def format_latex(board) -> str:
    """Per subtask, a LaTeX ``table*`` (``booktabs``): the rows of :func:`format_markdown`, the
    caption alike; ``$^\\dagger$`` tied with the best, ``$^*$`` better than the constant; the lockbox's
    table after it, when runs have one."""
    board = with_evidence(board)
    parts = []
    for subtask, entries in board.items():
        keys = entries[0].subtask.table_keys
        parts.append(_latex_table(_caption(entries), subtask.replace("_", "-"), keys, _paper_rows(entries),
                                  len(entries)))
        if _lockbox_caption(entries):
            rows = _lockbox_rows(entries)
            parts.append(_latex_table(_lockbox_caption(entries), subtask.replace("_", "-") + "-lockbox", keys, rows,
                                      sum(1 for e in entries if e.evidence.lockbox is not None)))
    return "% tables of mediaeval leaderboard --latex (needs \\usepackage{booktabs})\n" + "\n\n".join(parts) + "\n"


def _latex_table(caption: str, label: str, keys, rows, n_runs: int) -> str:
    """One ``table*`` of :func:`format_latex`: ``rows`` (the runs', then the constant's after a rule)."""
    lines = [r"\begin{table*}[t]", r"\centering", r"\small", r"\caption{" + _latex_escape(caption) + "}",
             r"\label{tab:" + label + "}", r"\begin{tabular}{l" + "c" * len(keys) + "}", r"\toprule",
             "Run & " + " & ".join(_latex_escape(_NAMES.get(k, k)) for k in keys) + r" \\", r"\midrule"]
    for i, (name, tied, cells) in enumerate(rows):
        if i == n_runs:
            lines.append(r"\midrule")
        lines.append(_latex_escape(name + (" †" if tied else "")) + " & "
                     + " & ".join(_latex_escape(text + (" *" if better else "")) for text, better in cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table*}"]
    return "\n".join(lines)
