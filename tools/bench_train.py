#!/usr/bin/env python3
"""Training benchmark at the thesis's scale and at realistic sizes, against baselines measured
in the same run.

30 films of random features of the development films' lengths, totalling 49,900 steps (7 h 23
min), LSTM 512, valence/arousal, ``--threads 1`` as each of ``--jobs 2``'s workers has.

* Thesis scale, 7,168 inputs (C3D + VGG19 audio): seconds per epoch of mediaeval's trainer
  (films packed end to end in 16 rows, 64-step chunks) in float32 and bfloat16 projection, and
  of stock Keras (``keras.layers.LSTM`` in a Sequential model, ``fit`` on 128-step chunks, batch
  8, timed on a subset and scaled to the same number of steps); the time to predict 14 films
  of 90 minutes.
* Realistic sizes, 150 and 1,500 inputs: seconds per epoch on a training fold (4/5 of the
  films) of the packed trainer and of the previous one (films side by side, padded to the
  longest of each batch of 8, 128-step chunks), and the wall time of a whole LSTM run (5 folds
  and the final model, 2 models at once) at the run's worst case, all in CPU seconds (one
  thread): every model trains all its 30 epochs (early stopping usually ends them far sooner).

    python tools/bench_train.py [--steps 49900] [--features 7168] [--realistic 150,1500] [--no-thesis] [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def film_lengths(total: int, count: int = 30) -> list[int]:
    """Lengths spread like the development films (119 s to 4,568 s), summing to ``total``."""
    raw = np.geomspace(223, 8565, count)
    lengths = np.maximum(1, np.round(raw * total / raw.sum())).astype(int)
    lengths[-1] += total - lengths.sum()
    return lengths.tolist()


def flops_per_step(features: int, units: int, outputs: int = 2) -> float:
    """Forward FLOPs of one step: input and recurrent projections, gates, output layer."""
    return 2 * features * 4 * units + 2 * units * 4 * units + 12 * units + 2 * units * outputs + 4 * features


def side_by_side_batches(n_films: int, batch_films: int, lengths: list[int], rng) -> list[list[int]]:
    """The previous trainer's batches (the baseline): shuffled groups of films of similar
    length, each padded to its longest."""
    order = list(rng.permutation(n_films))
    pool = 4 * batch_films
    out = []
    for start in range(0, n_films, pool):
        group = sorted(order[start:start + pool], key=lambda i: lengths[i])
        out += [group[k:k + batch_films] for k in range(0, len(group), batch_films)]
    rng.shuffle(out)
    return out


def epoch_batches(xs, ys, settings, rng, packed: bool):
    """One epoch's batches: packed rows (mediaeval's trainer) or films side by side (baseline)."""
    from mediaeval.model import pack_films, pad_films

    if packed:
        return [pack_films(xs, ys, [np.ones(len(x), np.float32) for x in xs], settings.batch_films, settings, rng)]
    groups = side_by_side_batches(len(xs), settings.batch_films, [len(x) for x in xs], rng)
    return [pad_films([xs[i] for i in g], [ys[i] for i in g], None, 2) for g in groups]


def ours(xs, ys, settings, epochs: int, packed: bool = True, label: str = "", cpu: bool = False) -> tuple[float, int]:
    """Seconds per epoch of the trainer (wall, or with ``cpu`` this process's CPU time, which
    other work on a shared machine disturbs less), and the steps computed (padding included)."""
    from mediaeval.model import Trainer, build_model, set_seed
    from mediaeval.task import VALENCE_AROUSAL

    set_seed(0)
    trainer = Trainer(build_model(xs[0].shape[1], VALENCE_AROUSAL, settings), VALENCE_AROUSAL, settings)
    rng = np.random.default_rng(0)
    times, computed = [], 0
    clock = time.process_time if cpu else time.perf_counter
    for epoch in range(epochs + 1):          # the first epoch includes compilation
        started = clock()
        computed = 0
        for batch in epoch_batches(xs, ys, settings, rng, packed):
            trainer.train_batch(batch)
            computed += batch.x.shape[0] * batch.x.shape[1]
        times.append(clock() - started)
        print(f"  {label or 'mediaeval'} ({settings.projection_dtype} projection) epoch {epoch}: {times[-1]:.1f} s"
              f"{' (with tracing)' if epoch == 0 else ''}", flush=True)
    return float(np.mean(times[1:])), computed


def realistic(lengths: list[int], features: int, units: int, epochs: int) -> None:
    """Packed against side by side on a training fold at ``features`` inputs; a whole run's
    worst-case wall time with 2 models at once."""
    from mediaeval.model import ModelSettings

    rng = np.random.default_rng(features)
    xs = [rng.standard_normal((n, features), dtype=np.float32) for n in lengths]
    ys = [np.tanh(rng.standard_normal((n, 2))).astype(np.float32) for n in lengths]
    fold = [i for i in range(len(lengths)) if i % 5 != 4]          # 4/5 of the films, of every length
    fold_xs, fold_ys = [xs[i] for i in fold], [ys[i] for i in fold]
    settings = ModelSettings(lstm_units=units)
    print(f"realistic size: {len(fold)} of {len(lengths)} films, {sum(len(x) for x in fold_xs)} steps, "
          f"{features} inputs, LSTM {units}", flush=True)
    packed, _ = ours(fold_xs, fold_ys, settings, epochs, packed=True, label="packed", cpu=True)
    side, _ = ours(fold_xs, fold_ys, ModelSettings(lstm_units=units, batch_films=8, chunk_steps=128), epochs,
                   packed=False, label="side by side (previous)", cpu=True)
    whole, _ = ours(xs, ys, settings, 1, packed=True, label="packed, every film (final model)", cpu=True)
    worst = (5 * settings.epochs * packed / 2 + settings.epochs * whole) / 60
    print(f"  {features} inputs: CPU seconds per fold epoch, packed {packed:.1f}, side by side {side:.1f} "
          f"(x {side / packed:.2f} faster); a whole run, 30 epochs for every model, 2 at once: "
          f"{worst:.1f} min at most (side by side: {worst * side / packed:.1f} min)", flush=True)


def stock_keras(xs, ys, units: int, chunk: int, share: float) -> float:
    """Seconds per epoch of stock Keras on ``share`` of the steps, scaled to all of them."""
    import keras

    keras.utils.set_random_seed(0)
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    n_chunks = int(len(x) * share) // chunk
    xc = x[:n_chunks * chunk].reshape(n_chunks, chunk, -1)
    yc = y[:n_chunks * chunk].reshape(n_chunks, chunk, -1)
    model = keras.Sequential([keras.Input((chunk, x.shape[1])), keras.layers.BatchNormalization(),
                              keras.layers.Dropout(0.5), keras.layers.LSTM(units, return_sequences=True),
                              keras.layers.Dropout(0.5),
                              keras.layers.TimeDistributed(keras.layers.Dense(2, activation="tanh"))])
    model.compile(optimizer="adam", loss="mse")
    model.fit(xc[:16], yc[:16], batch_size=8, epochs=1, verbose=0)   # build and trace
    started = time.perf_counter()
    model.fit(xc, yc, batch_size=8, epochs=1, verbose=0, shuffle=False)
    elapsed = time.perf_counter() - started
    print(f"  stock Keras: {elapsed:.1f} s for {n_chunks * chunk} steps", flush=True)
    return elapsed * len(x) / (n_chunks * chunk)


def prediction(settings, features: int, films: int, minutes: float) -> float:
    from mediaeval.model import build_model, compiled_inference, predict_films, set_seed
    from mediaeval.task import VALENCE_AROUSAL

    set_seed(0)
    model = build_model(features, VALENCE_AROUSAL, settings)
    infer = compiled_inference(model)
    steps = int(minutes * 60 * 30 / 16)
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((steps, features), dtype=np.float32) for _ in range(films)]
    predict_films(infer, [x[:600] for x in xs[:2]], settings.lstm_units, batch_films=7)  # compile
    started = time.perf_counter()
    predict_films(infer, xs, settings.lstm_units, batch_films=7)
    return time.perf_counter() - started


def main() -> None:
    from mediaeval.model import ModelSettings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=49_900)
    parser.add_argument("--features", type=int, default=7168)
    parser.add_argument("--units", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=2, help="Timed epochs after the first.")
    parser.add_argument("--baseline-share", type=float, default=0.1, help="Share of the steps stock Keras is timed on.")
    parser.add_argument("--predict-films", type=int, default=14)
    parser.add_argument("--predict-minutes", type=float, default=90)
    parser.add_argument("--realistic", default="150,1500",
                        help="input counts of the realistic-size cases ('' for none)")
    parser.add_argument("--thesis", action=argparse.BooleanOptionalAction, default=True,
                        help="run the thesis-scale case")
    parser.add_argument("--threads", type=int, default=0,
                        help="TensorFlow threads (0: its default; 1: as each of --jobs 2's workers)")
    args = parser.parse_args()
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    for features in [int(v) for v in args.realistic.split(",") if v]:
        realistic(film_lengths(args.steps), features, args.units, args.epochs)
    if not args.thesis:
        return

    settings = ModelSettings(lstm_units=args.units)
    rng = np.random.default_rng(0)
    lengths = film_lengths(args.steps)
    xs = [rng.standard_normal((n, args.features), dtype=np.float32) for n in lengths]
    ys = [np.tanh(rng.standard_normal((n, 2))).astype(np.float32) for n in lengths]
    print(f"{len(xs)} films, {sum(lengths)} steps, {args.features} features, LSTM {args.units}", flush=True)
    measured = {}
    for dtype in ("float32", "bfloat16"):
        measured[dtype] = ours(xs, ys, ModelSettings(lstm_units=args.units, projection_dtype=dtype), args.epochs)
    keras_seconds = stock_keras(xs, ys, args.units, settings.chunk_steps, args.baseline_share)
    flops = 3 * flops_per_step(args.features, args.units)
    predict_seconds = prediction(settings, args.features, args.predict_films, args.predict_minutes)
    print()
    print(f"seconds per epoch, stock Keras (scaled from {args.baseline_share:.0%} of the steps): {keras_seconds:.1f}, "
          f"{flops * sum(lengths) / keras_seconds / 1e9:.0f} GFLOP/s")
    for dtype, (seconds, computed) in measured.items():
        print(f"seconds per epoch, mediaeval, {dtype} projection: {seconds:.1f} "
              f"(x {seconds / keras_seconds:.2f} of stock Keras), {flops * computed / seconds / 1e9:.0f} GFLOP/s "
              f"on the {computed} steps computed ({sum(lengths)} film steps + padding)")
    total_minutes = args.predict_films * args.predict_minutes
    print(f"prediction of {args.predict_films} films of {args.predict_minutes:g} min (float32): "
          f"{predict_seconds:.1f} s "
          f"({total_minutes * 60 / predict_seconds:.0f} x real time)")


if __name__ == "__main__":
    main()
