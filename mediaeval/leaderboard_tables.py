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


def format_table(board) -> str:
    """Plain-text leaderboard: per subtask, the runs tied with the best first, then the others,
    each with a line per figure: its value and interval, its paired difference to the best run
    and (on the constant's figures) to the constant, with their verdicts; then the constant on
    the same folds and the notes."""
    board = with_evidence(board)
    lines = []
    for subtask, entries in board.items():
        task = entries[0].subtask
        ev = entries[0].evidence
        lines += [f"{subtask}: out-of-fold figures on the development films ({len(ev.films)}), the official mean "
                  f"over films [95 % interval: {ev.method}]; ranked by the criterion {ev.criterion} "
                  f"({_criterion_text(task, ev.criterion)})",
                  "  differences: run minus the best run, run minus the constant, on the same films (paired), "
                  "[95 % interval]; indistinguishable: the interval holds 0"]
        group = None
        for rank, e in enumerate(entries, start=1):
            if e.evidence.tied != group:
                group = e.evidence.tied
                lines.append("  tied with the best (no criterion figure worse than the best run's):" if group else
                             "  worse than the best on a criterion figure:")
            lines.append(f"  {rank}. {e.name}" + (" (the best)" if e.evidence.best else ""))
            if e.chosen:
                lines.append(f"       chosen by inner cross-validation (final model): {e.chosen}")
            lines.append(f"       {'figure':20s}{'value [95 % interval]':28s}{'minus the best':48s}minus the constant")
            for key in task.table_keys:
                versus = e.evidence.vs_best[key]
                best = "—" if versus is None else f"{_ci(versus, sign=True)} {versus.verdict or 'undefined'}"
                lines.append(f"       {key:20s}{_ci(e.evidence.figures[key]):28s}{best:48s}"
                             f"{_versus_constant(e, key, task)}".rstrip())
        base = next((e.evidence for e in entries if e.evidence.constant), None)
        if base is not None:
            lines.append(f"  {_constant_line(entries)}")
            lines += [f"       {key:20s}{_ci(base.constant[key])}" for key in task.table_keys]
        lines += [f"  note: {note}" for note in ev.notes]
        lines.append("")
    lines.append("—: undefined (a constant's PCC; a precision where nothing is predicted fearful).  Beating the "
                 "constant is said per figure, only where the paired interval excludes 0 (better).")
    return "\n".join(lines)


def _paper_rows(entries, decimals: int = 3):
    """``(name, tied, cells)`` per run, then the constant's: ``cells`` per figure as ``(value
    [low, high], better than the constant)``."""
    task = entries[0].subtask
    rows = []
    for e in entries:
        ev = e.evidence
        cells = [(_ci(ev.figures[k], decimals), getattr(ev.vs_constant.get(k), "verdict", None) == "better")
                 for k in task.table_keys]
        rows.append((e.name, ev.tied, cells))
    if entries[0].evidence.constant:
        rows.append(("constant (training mean)", False,
                     [(_ci(entries[0].evidence.constant[k], decimals), False) for k in task.table_keys]))
    return rows


def _caption(entries) -> str:
    ev = entries[0].evidence
    task = entries[0].subtask
    text = (f"Out-of-fold figures on the {len(ev.films)} development films: the official mean over films "
            f"[95 % interval: {ev.method}]. Runs ranked by {_criterion_text(task, ev.criterion)}; "
            f"† indistinguishable from the best run on the criterion (paired interval holds 0); "
            f"* better than the constant (training mean on the same folds; paired interval excludes 0).")
    if not _shared_constant(entries):
        text += " The constant shown is on the first run's folds."
    return text + "".join(f" Note: {note}." for note in ev.notes)


def format_markdown(board) -> str:
    """Per subtask, a Markdown table: a row per run (``†`` tied with the best, ``*`` on a figure
    better than the constant), then the constant; its caption says how the intervals were drawn."""
    board = with_evidence(board)
    parts = []
    for subtask, entries in board.items():
        keys = entries[0].subtask.table_keys
        lines = [f"**{subtask}.** {_caption(entries)}", "",
                 "| run | " + " | ".join(_NAMES.get(k, k) for k in keys) + " |",
                 "| --- |" + " --- |" * len(keys)]
        for name, tied, cells in _paper_rows(entries):
            lines.append(f"| {name}{' †' if tied else ''} | "
                         + " | ".join(f"{text}{' *' if better else ''}" for text, better in cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


_LATEX = {"\\": r"\textbackslash{}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "†": r"$^\dagger$", "*": r"$^*$",
          "—": "---"}


def _latex_escape(text: str) -> str:
    r"""``text`` as LaTeX: its special characters escaped, † and * as superscripts, — as ---.

    >>> _latex_escape("run_1 † 95 % *")
    'run\\_1 $^\\dagger$ 95 \\% $^*$'
    """
    return "".join(_LATEX.get(c, c) for c in text)


def format_latex(board) -> str:
    """Per subtask, a LaTeX ``table*`` (``booktabs``): the rows of :func:`format_markdown`, the
    caption alike; ``$^\\dagger$`` tied with the best, ``$^*$`` better than the constant."""
    board = with_evidence(board)
    parts = []
    for subtask, entries in board.items():
        keys = entries[0].subtask.table_keys
        lines = [r"\begin{table*}[t]", r"\centering", r"\small",
                 r"\caption{" + _latex_escape(_caption(entries)) + "}",
                 r"\label{tab:" + subtask.replace("_", "-") + "}",
                 r"\begin{tabular}{l" + "c" * len(keys) + "}", r"\toprule",
                 "Run & " + " & ".join(_latex_escape(_NAMES.get(k, k)) for k in keys) + r" \\", r"\midrule"]
        rows = _paper_rows(entries)
        for i, (name, tied, cells) in enumerate(rows):
            if i == len(entries):
                lines.append(r"\midrule")
            lines.append(_latex_escape(name + (" †" if tied else "")) + " & "
                         + " & ".join(_latex_escape(text + (" *" if better else "")) for text, better in cells)
                         + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}", r"\end{table*}"]
        parts.append("\n".join(lines))
    return "% tables of mediaeval leaderboard --latex (needs \\usepackage{booktabs})\n" + "\n\n".join(parts) + "\n"
