"""The ``score`` command."""
from __future__ import annotations

import json
import math

import click

from .options import dataset_option, load_dataset


@click.command()
@click.argument("run_file", type=click.Path(exists=True, dir_okay=False))
@dataset_option()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (undefined values are null).")
@click.option("--truncate", is_flag=True,
              help="Cut prediction and truth to the shorter length per film, as the 2017 script did.")
@click.option("--folds", "folds_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Folds file (folds.json of a model folder): add per-fold figures, mean ± std; for a run "
                   "cross-validated R times (folds_repeats), the mean over repeats and their sd.")
def score(run_file, dataset_root, as_json, truncate, folds_file):
    """Score a run file against the dataset's ground truth.

    Valence/arousal: MSE and PCC per film and their unweighted mean over films (official),
    plus pooled figures and the quadrant accuracy.  The official PCC is undefined (nan, null in
    JSON) when one film's PCC is (constant truth or prediction), as in the 2017 script; the
    mean over the other films is given as valence_pcc_defined_films / arousal_pcc_defined_films.
    Fear: AP per film and MAP over films with a fear segment (official), plus accuracy,
    precision, recall and F1 over all segments and their means per film (*_per_film), and the
    false-alarm rate on the films without fear (the share of their segments labelled 1).
    Every official mean over films comes with its 95 % interval (percentile bootstrap over
    films, 2,000 resamples, seed 0; "intervals" in JSON, [low, high]).  With --folds of a run
    cross-validated several times (folds_repeats: folds.json names each repeat's folds), the
    out-of-fold run file of each repeat is read from repeat<r>/ beside the folds file: every
    figure is the mean over repeats, and each repeat's and their sd are shown beside the
    intervals ("repeats" and "over_repeats" in JSON).
    A note says when figures are in-sample (predict --films dev with a model folder: its models
    were trained on those films) and, for a model folder's run file, when the labels it was
    trained on are not the dataset's (or cannot be checked: a model folder of an older mediaeval).

    The run is read as the organisers' 2017 script read it, with a note for each kind of
    deviation: values after a line's first two are ignored (validate refuses them), films of
    the set missing from the run are left out of the means, CRLF line ends are fine.  Test films
    are scored against the released truth (MEDIAEVAL17_NN_Valence-Arousal.txt, ..._fear.txt)
    wherever it lies under --dataset.
    """
    from ..scoring import format_scores, intervals, score_run

    scores = score_run(run_file, load_dataset(dataset_root), truncate, folds_file)
    if as_json:
        data = scores.to_json()
        data["intervals"] = {key: [None if math.isnan(v) else v for v in bounds]
                             for key, bounds in intervals(scores).items()}
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{run_file}: {scores.subtask}, {len(scores.per_film)} films\n")
    click.echo(format_scores(scores, detail=True))


COMMANDS = [score]
