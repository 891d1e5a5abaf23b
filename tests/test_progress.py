"""mediaeval.progress: tqdm on a terminal, a few plain lines in a log."""
import io

from tqdm import tqdm

from mediaeval.progress import LogBar, progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_in_a_log_writes_a_line_per_tenth_without_carriage_returns():
    log = io.StringIO()
    with progress(total=50, desc="films", unit="film", file=log) as bar:
        assert isinstance(bar, LogBar)
        for _ in range(50):
            bar.update(1)
    text = log.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert [line.split(" [")[0] for line in lines] == [
        f"films: {p:3d}% {n}/50" for p, n in zip(range(0, 101, 10), range(0, 51, 5))]


def test_progress_in_a_log_over_an_iterable_and_when_stopped_early():
    log = io.StringIO()
    assert list(progress(range(7), desc="steps", file=log)) == list(range(7))
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("steps:   0% 0/7") and lines[-1].startswith("steps: 100% 7/7")
    assert len(lines) == 8  # each of the 7 items is a tenth or more

    log = io.StringIO()
    bar = progress(total=1000, desc="x", file=log, leave=False)
    bar.update(3)
    bar.close()
    assert [line.split(" [")[0] for line in log.getvalue().splitlines()] == ["x:   0% 0/1000", "x:   0% 3/1000"]

    log = io.StringIO()
    with progress(desc="unknown total", unit="block", file=log) as bar:
        bar.update(5)
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("unknown total: 0block") and "5block" in lines[1]

    log = io.StringIO()
    with progress(total=3, file=log, disable=True) as bar:
        bar.update(3)
    assert log.getvalue() == ""


def test_progress_on_a_terminal_is_tqdm():
    terminal = Terminal()
    with progress(total=4, desc="films", file=terminal) as bar:
        assert type(bar) is tqdm
        bar.update(4)
    assert "\r" in terminal.getvalue()
