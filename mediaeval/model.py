"""The LSTM of the UPC thesis (Domènech's thesis, UPC 2017: BatchNorm, Dropout, LSTM, Dropout,
Dense over the 0.533 s steps), trained fast on films packed end to end.

Architecture: BatchNormalization -> Dropout -> LSTM -> Dropout -> Dense per step (2 tanh units
for valence/arousal, 1 sigmoid unit for fear).  Training is truncated back-propagation through
time over chunks of ``chunk_steps``.  The training films are packed end to end into
``batch_films`` rows (:func:`pack_films`): films longer than ``piece_steps`` are cut into pieces,
each piece starts at a chunk boundary with the state reset to zero (a cut piece re-reads the
chunk before it with weight 0, to warm the state up), and the state is carried from chunk to
chunk within a piece.  Padding (only to the next chunk boundary) has weight 0 in the loss and is
masked out of the batch normalisation's statistics.

The LSTM layer, :class:`mediaeval.lstm_layer.ChunkLSTM`, takes its state as inputs and returns
it (no stateful layer, any batch size); it lives in its own module, imported only to build or
load a network, because it imports Keras.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .task import SUBTASKS, Subtask
from .validation import Bool, Float, Int, Widths, problem


@dataclass
class ModelSettings:
    """Sizes and rates of the LSTM and of its training (the ``[model]`` table of a run without
    ``type``, or with ``type = "lstm"``).

    Each field's type and range are its annotation (:mod:`mediaeval.validation`), checked by
    pydantic when a run is loaded (:meth:`mediaeval.runs.RunDefinition.load`), before anything starts.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")
    type: ClassVar[str] = "lstm"   # its family (mediaeval.families); not a setting: a table without type is an LSTM's

    lstm_units: Annotated[Int, Field(ge=1)] = 512
    input_dropout: Annotated[Float, Field(ge=0, lt=1)] = 0.5
    output_dropout: Annotated[Float, Field(ge=0, lt=1)] = 0.5
    learning_rate: Annotated[Float, Field(gt=0)] = 1e-3
    epochs: Annotated[Int, Field(ge=1)] = 30
    patience: Annotated[Int, Field(ge=1)] = 5
    batch_films: Annotated[Int, Field(ge=1)] = 16   # rows of a batch: films packed end to end (see pack_films)
    chunk_steps: Annotated[Int, Field(ge=1)] = 64
    validation_share: Annotated[Float, Field(ge=0, lt=1)] = 0.2
    fear_positive_weight: Annotated[Float, Field(gt=0)] | None = None   # None: negatives / positives of the
                                                                      # training steps
    max_positive_weight: Annotated[Float, Field(ge=1)] = 20.0
    projection_dtype: Literal["float32", "bfloat16"] = "float32"  # "bfloat16": the input projection in bfloat16
    # Early stopping on the held-out share of the training films: "official" (the run's criterion
    # on the 10 s segments: by default, valence/arousal: mean per-film MSE; fear: 1 - MAP; see
    # mediaeval.task.Subtask.criterion), "pcc" (1 - mean per-film PCC; fear: as official) or
    # "loss" (the training loss, step-weighted: the thesis's).
    stop_on: Literal["official", "pcc", "loss"] = "official"
    loss: Literal["mse", "ccc"] = "mse"   # valence/arousal: squared error, or 1 - concordance (CCC)
    film_balanced: Bool = False           # every training film weighs the same in the loss
    film_standardise: Bool = False        # z-score each film's features by its own mean and std first
    delay_seconds: Annotated[Float, Field(ge=0, le=30)] = 0.0   # the features lag the labels by this much
    # "ridge": the standardisation (within films, over the training films, or both) and delay a ridge
    # regression per segment chooses by inner cross-validation over the same training films
    # (mediaeval.lstm_training.input_choice); "settings" (the default): film_standardise and delay_seconds
    # as given.  Not "ridge" by default: on the demo sample it chose "both", whose film-mean columns the
    # network learnt film by film from 6 training films (out-of-fold MSE 0.40 / 0.59 against the
    # constant's 0.11 / 0.07); docs/decisions.md
    inputs_from: Literal["ridge", "settings"] = "settings"
    piece_steps: Annotated[Int, Field(ge=1)] = 1024   # films are cut into pieces of at most this many steps
    # Post-processing of each film's 10 s segment curve, chosen on the held-out training films
    # (see mediaeval.post_processing): Gaussian smoothing widths to choose from (in 5 s segments,
    # 0 = none), and a linear calibration (valence/arousal).
    smoothing: Widths = (0.0, 1.0, 2.0, 4.0, 8.0)
    calibrate: Bool = True

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @model_validator(mode="after")
    def _whole_chunks(self) -> ModelSettings:
        if self.piece_steps < self.chunk_steps:
            raise problem(f"expected at least chunk_steps ({self.chunk_steps}), got {self.piece_steps}",
                          key="piece_steps")
        return self

    @field_validator("loss")
    @classmethod
    def _loss_of_the_subtask(cls, loss: str, info: ValidationInfo) -> str:
        """A loss the run's subtask trains on (the subtask given as the validation's context)."""
        task = SUBTASKS.get((info.context or {}).get("subtask"))
        if task is not None and loss not in task.losses:
            others = " and ".join(t.title for t in SUBTASKS.values() if loss in t.losses)
            raise problem(f"\"{loss}\" is for {others}; {task.name} trains on {task.loss_text}")
        return loss


def build_model(n_features: int, task: Subtask, settings: ModelSettings | None = None):
    """The thesis model as a Keras model ``[x, h0, c0] -> [y, h, c]``.

    ``y`` has the subtask's outputs and activation (:mod:`mediaeval.task`): shape
    (batch, time, 2) in [-1, 1] for valence/arousal, (batch, time, 1) in [0, 1] for fear.
    """
    import keras

    from .lstm_layer import ChunkLSTM

    settings = settings or ModelSettings()
    units = settings.lstm_units
    x = keras.Input((None, n_features), name="features")
    h0 = keras.Input((units,), name="h0")
    c0 = keras.Input((units,), name="c0")
    z = keras.layers.BatchNormalization(name="input_norm")(x)
    z = keras.layers.Dropout(settings.input_dropout, name="input_dropout")(z)
    sequence, h, c = ChunkLSTM(units, settings.projection_dtype, name="lstm")(z, h0, c0)
    z = keras.layers.Dropout(settings.output_dropout, name="output_dropout")(sequence)
    y = keras.layers.Dense(task.outputs, activation=task.activation, name="emotion")(z)
    model = keras.Model([x, h0, c0], [y, h, c], name=f"lstm_{task.name}")
    model.supports_masking = True
    return model


# --------------------------------------------------------------------------- batching

@dataclass
class Sequences:
    """Films side by side (or packed end to end): inputs, targets and loss weights padded to a
    common length."""

    x: np.ndarray        # (rows, steps, features) float32
    y: np.ndarray        # (rows, steps, outputs) float32
    weight: np.ndarray   # (rows, steps) float32, 0 on padding
    reset: np.ndarray | None = None   # (rows, steps) bool: the state restarts at zero before this step
                                      # (only at chunk boundaries); None: only at the start


def pad_films(xs: list[np.ndarray], ys: list[np.ndarray] | None, weights: list[np.ndarray] | None,
              n_outputs: int, length: int | None = None, n_films: int | None = None) -> Sequences:
    """Stack films of different lengths, padding with zeros (weight 0) to ``length`` steps and
    ``n_films`` rows (defaults: the longest film rounded up, the number of films)."""
    lengths = [len(x) for x in xs]
    length = length or max(lengths)
    n_films = n_films or len(xs)
    n_features = xs[0].shape[1]
    x = np.zeros((n_films, length, n_features), np.float32)
    y = np.zeros((n_films, length, n_outputs), np.float32)
    w = np.zeros((n_films, length), np.float32)
    for i, film in enumerate(xs):
        x[i, :len(film)] = film
        if ys is not None:
            y[i, :len(film)] = ys[i].reshape(len(film), n_outputs)
            w[i, :len(film)] = 1.0 if weights is None else weights[i]
    return Sequences(x, y, w)


@dataclass(frozen=True)
class Piece:
    """Steps ``[start, stop)`` of film ``film`` in a packed row; the steps before ``weighted_from``
    only warm the state up (weight 0)."""

    film: int
    start: int
    stop: int
    weighted_from: int


def cut_films(lengths: list[int], piece_steps: int, chunk_steps: int) -> list[Piece]:
    """Every film as pieces of at most ``piece_steps`` weighted steps, cut at multiples of
    ``chunk_steps``; a piece after the first starts one chunk early, unweighted, to warm up.

    >>> cut_films([5, 10], piece_steps=4, chunk_steps=2)  # doctest: +NORMALIZE_WHITESPACE
    [Piece(film=0, start=0, stop=4, weighted_from=0), Piece(film=0, start=2, stop=5, weighted_from=4),
     Piece(film=1, start=0, stop=4, weighted_from=0), Piece(film=1, start=2, stop=8, weighted_from=4),
     Piece(film=1, start=6, stop=10, weighted_from=8)]
    """
    size = max(chunk_steps, piece_steps // chunk_steps * chunk_steps)
    pieces = []
    for film, length in enumerate(lengths):
        for first in range(0, max(length, 1), size):
            pieces.append(Piece(film, max(0, first - chunk_steps), min(length, first + size), first))
    return pieces


def pack_films(xs: list[np.ndarray], ys: list[np.ndarray], weights: list[np.ndarray], rows: int,
               settings: ModelSettings, rng: np.random.Generator) -> Sequences:
    """The films' pieces (:func:`cut_films`) in shuffled order, each put in the row that ends
    first, each padded to the next chunk boundary; every row then padded to the longest.

    Every weighted step of every film is in exactly one piece, so the loss sees each step once
    per epoch; the state restarts (``reset``) where a piece starts, always on a chunk boundary.
    """
    chunk = settings.chunk_steps
    pieces = cut_films([len(x) for x in xs], settings.piece_steps, chunk)
    order = rng.permutation(len(pieces))
    rows = max(1, min(rows, len(pieces)))
    placed: list[list[tuple[int, Piece]]] = [[] for _ in range(rows)]
    ends = np.zeros(rows, np.int64)
    for index in order:
        piece = pieces[index]
        row = int(np.argmin(ends))
        placed[row].append((int(ends[row]), piece))
        ends[row] += -(-(piece.stop - piece.start) // chunk) * chunk
    length = max(int(ends.max()), 1)
    n_outputs = ys[0].reshape(len(ys[0]), -1).shape[1]
    x = np.zeros((rows, length, xs[0].shape[1]), np.float32)
    y = np.zeros((rows, length, n_outputs), np.float32)
    w = np.zeros((rows, length), np.float32)
    reset = np.zeros((rows, length), bool)
    for row, row_pieces in enumerate(placed):
        for at, p in row_pieces:
            n = p.stop - p.start
            x[row, at:at + n] = xs[p.film][p.start:p.stop]
            y[row, at:at + n] = ys[p.film][p.start:p.stop].reshape(n, n_outputs)
            warm = p.weighted_from - p.start
            w[row, at + warm:at + n] = weights[p.film][p.weighted_from:p.stop]
            reset[row, at] = True
    return Sequences(x, y, w, reset)


# --------------------------------------------------------------------------- training and inference

class Trainer:
    """Truncated back-propagation through time over films batched side by side.

    The training step is a ``tf.function`` whose time and batch dimensions are left free, so
    chunks of any length (a film's last) and batches of any size share one graph.  XLA
    compilation (``jit``) is off by default (docs/decisions.md).
    """

    def __init__(self, model, task: Subtask, settings: ModelSettings, jit: bool = False):
        import keras
        import tensorflow as tf

        self.model, self.task, self.settings = model, task, settings
        self.optimizer = keras.optimizers.Adam(settings.learning_rate)
        self.units = settings.lstm_units
        self._train_step = tf.function(self._step, jit_compile=jit, reduce_retracing=True)
        self.infer = compiled_inference(model, jit)

    def loss(self, y, prediction, weight):
        """Weighted mean over steps of the binary cross-entropy (a binary subtask: fear) or of the
        squared error averaged over the outputs (valence/arousal); arrays (films, steps, outputs)
        and weights (films, steps).  With ``loss = "ccc"`` (valence/arousal): 1 - the concordance
        correlation coefficient of the weighted steps, averaged over the two outputs."""
        from keras import ops

        if self.task.binary:
            p = ops.clip(prediction[..., 0], 1e-7, 1 - 1e-7)
            t = y[..., 0]
            per_step = -(t * ops.log(p) + (1 - t) * ops.log(1 - p))
        elif self.settings.loss == "ccc":
            return concordance_loss(y, prediction, weight)
        else:
            per_step = ops.mean(ops.square(y - prediction), axis=-1)
        return ops.sum(per_step * weight) / ops.maximum(ops.sum(weight), 1.0)

    def _step(self, x, y, weight, h, c):
        import tensorflow as tf

        with tf.GradientTape() as tape:   # padding is masked out of the batch normalisation's statistics
            prediction, h_next, c_next = self.model([x, h, c], training=True, mask=[weight > 0, None, None])
            loss = self.loss(y, prediction, weight)
        variables = self.model.trainable_variables
        gradients = tape.gradient(loss, variables)
        self.optimizer.apply(gradients, variables)
        return loss, tf.stop_gradient(h_next), tf.stop_gradient(c_next)

    def train_batch(self, batch: Sequences) -> float:
        """One pass over a batch, chunk by chunk, carrying the state (reset to zero where
        ``batch.reset`` says a film or piece starts); mean loss."""
        chunk = self.settings.chunk_steps
        h = c = np.zeros((len(batch.x), self.units), np.float32)
        total, weight_sum = 0.0, 0.0
        for start in range(0, batch.x.shape[1], chunk):
            w = batch.weight[:, start:start + chunk]
            if not batch.weight[:, start:].any():
                break
            if batch.reset is not None:
                keep = (~batch.reset[:, start])[:, None].astype(np.float32)
                h, c = np.asarray(h) * keep, np.asarray(c) * keep
            if not w.any():   # every row warming up: carry the state on, no update
                _, h, c = self.infer(batch.x[:, start:start + chunk], h, c)
                continue
            loss, h, c = self._train_step(batch.x[:, start:start + chunk], batch.y[:, start:start + chunk], w, h, c)
            total += float(loss) * float(w.sum())
            weight_sum += float(w.sum())
        return total / max(weight_sum, 1.0)

    def predict(self, films: list[np.ndarray]) -> list[np.ndarray]:
        """Per-step outputs of each film (n_steps, outputs), in chunks carrying the state."""
        return predict_films(self.infer, films, self.units)


def concordance_loss(y, prediction, weight):
    """1 - Lin's concordance correlation coefficient of ``y`` and ``prediction`` over the steps
    of weight > 0 (weighted moments), averaged over the outputs; arrays (rows, steps, outputs),
    weights (rows, steps).  CCC = 2 cov / (var_y + var_p + (mean_y - mean_p)^2)."""
    from keras import ops

    w = ops.expand_dims(weight, -1)
    total = ops.maximum(ops.sum(weight), 1e-8)
    mean_y = ops.sum(w * y, axis=(0, 1)) / total
    mean_p = ops.sum(w * prediction, axis=(0, 1)) / total
    dy, dp = y - mean_y, prediction - mean_p
    cov = ops.sum(w * dy * dp, axis=(0, 1)) / total
    var_y = ops.sum(w * dy * dy, axis=(0, 1)) / total
    var_p = ops.sum(w * dp * dp, axis=(0, 1)) / total
    ccc = 2 * cov / (var_y + var_p + ops.square(mean_y - mean_p) + 1e-8)
    return 1.0 - ops.mean(ccc)


def compiled_inference(model, jit: bool = False):
    """``infer(x, h, c) -> (y, h, c)``: the model in inference mode, as a ``tf.function``."""
    import tensorflow as tf

    return tf.function(lambda x, h, c: model([x, h, c], training=False), jit_compile=jit, reduce_retracing=True)


def predict_films(infer, films: list[np.ndarray], units: int, chunk_steps: int = 512,
                  batch_films: int = 16) -> list[np.ndarray]:
    """Run ``infer(x, h, c) -> (y, h, c)`` over whole films chunk by chunk, films side by side.

    Padding after a film's end never changes its outputs, so the result equals whole-film
    inference of each film alone.
    """
    order = sorted(range(len(films)), key=lambda i: -len(films[i]))
    out: list[np.ndarray | None] = [None] * len(films)
    for first in range(0, len(order), batch_films):
        group = order[first:first + batch_films]
        batch = pad_films([films[i] for i in group], None, None, 1, length=max(1, len(films[group[0]])))  # 0-step films
        h = c = np.zeros((len(group), units), np.float32)
        pieces = []
        for start in range(0, batch.x.shape[1], chunk_steps):
            y, h, c = infer(batch.x[:, start:start + chunk_steps], h, c)
            pieces.append(np.asarray(y))
        y = np.concatenate(pieces, axis=1)
        for row, i in enumerate(group):
            out[i] = y[row, :len(films[i])]
    return out


def set_seed(seed: int) -> None:
    """Seed Python, NumPy, TensorFlow and Keras, and ask TensorFlow for deterministic ops."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def positive_weight(targets: list[np.ndarray], settings: ModelSettings) -> float:
    """Weight of the fear class in the loss: negatives / positives of the training steps, capped."""
    if settings.fear_positive_weight is not None:
        return float(settings.fear_positive_weight)
    values = np.concatenate([t.reshape(-1) for t in targets])
    positives = float(values.sum())
    if positives <= 0:
        return 1.0
    return float(min(settings.max_positive_weight, max(1.0, (values.size - positives) / positives)))

