"""Cross-validation folds by film (mediaeval/folds.py): deterministic from the sorted names and a
seed, written and read back."""
import pytest

from mediaeval.errors import DataError
from mediaeval.folds import make_folds, read_folds, write_folds


def test_folds(tmp_path):
    films = [f"F{i:02d}" for i in range(11)]
    folds = make_folds(reversed(films), 4, seed=3)
    assert folds == make_folds(films, 4, seed=3)
    assert sorted(n for f in folds for n in f) == films
    assert sorted(len(f) for f in folds) == [2, 3, 3, 3]
    assert make_folds(films, 4, seed=4) != folds
    assert len(make_folds(films[:3], 5)) == 3
    path = write_folds(tmp_path / "folds.json", folds, 3)
    assert read_folds(path) == folds
    path.write_text('{"folds": [["A"], ["A"]]}')
    with pytest.raises(DataError, match="a film is in two folds"):
        read_folds(path)
