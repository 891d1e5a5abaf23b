"""A small synthetic dataset in the official layout, whose films carry their emotion curves.

Each film gets per-second valence and arousal curves drawn as smoothed Ornstein-Uhlenbeck
processes with the statistics of the real LIRIS-ACCEDE curves (film means spread about ±0.25,
within-film spread 0.1-0.3, smooth at the scale of seconds; the correlation times are shortened
to 15-45 s so that 1-3 minute films still vary).  Labels are the curves' 10 s means every 5 s,
as the 2017 labels are very probably made.

Picture and sound follow the curves, so that features can learn them:

* valence: hue (cold blue for negative, warm orange for positive) and brightness; the chord of
  the soundtrack (consonant major triad for positive, dissonant cluster for negative);
* arousal: speed of the moving pattern, film grain, cut rate; loudness and the share of noise
  (a brighter spectrum).

Fear is marked on segments whose mean valence is below -0.15 and mean arousal above 0.25.

Beside the films, the organisers' features are written as the real task shipped them (per-second
visual features, openSMILE audio features per 10 s segment), computed from each film's own
frames and sound: see :mod:`mediaeval.sample_organisers`.
"""
from __future__ import annotations

import colorsys
import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .atomic import atomic_output, write_text_atomic
from .errors import MediaevalError
from .windows import AUDIO_RATE, SEGMENT_SHIFT, segment_count

FRAME_RATES = (Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30))
WIDTH, HEIGHT = 160, 96
FEAR_VALENCE_BELOW, FEAR_AROUSAL_ABOVE = -0.15, 0.25

DEV_VIDEO_DIR = "continuous-movies"
DEV_VA_DIR = "MEDIAEVAL17-DevSet-Valence_Arousal-annotations/annotations"
DEV_FEAR_DIR = "MEDIAEVAL17-DevSet-Fear-annotations/annotations"
TEST_VIDEO_DIR = "MEDIAEVAL17-TestSet-Data/data"
TEST_TRUTH_DIR = "MEDIAEVAL17-TestSet-Groundtruth"


def emotion_curve(n_seconds: int, mean: float, spread: float, correlation_seconds: float,
                  rng: np.random.Generator) -> np.ndarray:
    """A smooth random per-second curve of the given mean and standard deviation, in [-0.95, 0.95].

    An Ornstein-Uhlenbeck process of correlation time ``correlation_seconds``, smoothed by a
    Gaussian of 3 s, then shifted and scaled to exactly ``mean`` and ``spread``.
    """
    from scipy.ndimage import gaussian_filter1d

    decay = math.exp(-1.0 / correlation_seconds)
    noise = rng.standard_normal(n_seconds + 30) * math.sqrt(1 - decay ** 2)
    x = np.empty_like(noise)
    x[0] = rng.standard_normal()
    for t in range(1, x.size):
        x[t] = decay * x[t - 1] + noise[t]
    x = gaussian_filter1d(x, 3.0)[15:15 + n_seconds]
    x = (x - x.mean()) / (x.std() or 1.0)
    return np.clip(mean + spread * x, -0.95, 0.95)


def segment_means(curve: np.ndarray, n_segments: int) -> np.ndarray:
    """10 s means every 5 s of a per-second curve (value ``t`` covers second ``[t, t+1)``)."""
    starts = (np.arange(n_segments) * SEGMENT_SHIFT).astype(int)
    return np.array([curve[s:s + 10].mean() for s in starts])


def fear_labels(valence: np.ndarray, arousal: np.ndarray) -> np.ndarray:
    """1 where a segment is negative and aroused (valence < -0.15 and arousal > 0.25), else 0."""
    return ((valence < FEAR_VALENCE_BELOW) & (arousal > FEAR_AROUSAL_ABOVE)).astype(np.int64)


@dataclass(frozen=True)
class FilmPlan:
    """Everything needed to make one film; drawn in the parent so results depend on the seed only."""

    name: str
    video_path: Path
    fps: Fraction
    n_frames: int
    valence: np.ndarray   # per second
    arousal: np.ndarray   # per second
    seed: int
    features: tuple[Path, Path] | None = None   # the organisers' visual and audio folders, if written

    @property
    def duration(self) -> float:
        return self.n_frames / float(self.fps)


def plan_films(dest: Path, n_dev: int, n_test: int, durations: tuple[float, float],
               seed: int, organisers: bool = True) -> list[FilmPlan]:
    from .sample_organisers import feature_dirs

    rng = np.random.default_rng(seed)
    plans = []
    names = [(f"Sample_{i + 1:02d}", dest / DEV_VIDEO_DIR) for i in range(n_dev)]
    names += [(f"MEDIAEVAL17_{i:02d}", dest / TEST_VIDEO_DIR) for i in range(n_test)]
    for index, (name, folder) in enumerate(names):
        fps = FRAME_RATES[index % len(FRAME_RATES)]
        seconds = rng.uniform(*durations)
        n_frames = max(1, int(round(seconds * float(fps))))
        n_seconds = int(math.ceil(n_frames / float(fps))) + 1
        valence = emotion_curve(n_seconds, float(np.clip(rng.normal(0.0, 0.25), -0.5, 0.5)),
                                rng.uniform(0.12, 0.3), rng.uniform(15, 45), rng)
        arousal = emotion_curve(n_seconds, float(np.clip(rng.normal(0.12, 0.2), -0.4, 0.6)),
                                rng.uniform(0.14, 0.3), rng.uniform(15, 45), rng)
        features = feature_dirs(dest, name, test=folder == dest / TEST_VIDEO_DIR) if organisers else None
        plans.append(FilmPlan(name, folder / f"{name}.mp4", fps, n_frames, valence, arousal,
                              int(rng.integers(2 ** 31)), features))
    return plans


def _frame_colour(valence: float, arousal: float) -> np.ndarray:
    hue = 0.62 - 0.26 * (valence + 1) / 2          # blue (negative) to orange (positive)
    saturation = 0.35 + 0.4 * (arousal + 1) / 2
    value = 0.5 + 0.3 * valence
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, saturation, value), dtype=np.float32)


class _Pictures:
    """A film's picture frame by frame: a grating coloured by valence (:func:`_frame_colour`) whose
    motion, cuts and grain follow arousal; draws from ``rng`` in the order frames are made."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.y, self.x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
        self.angle, self.wavelength, self.next_cut = rng.uniform(0, math.pi), rng.uniform(12, 40), 0.0
        self.grains = rng.standard_normal((8, HEIGHT, WIDTH)).astype(np.float32)
        self.phase = 0.0

    def frame(self, t: float, v: float, a: float, fps: float) -> np.ndarray:
        """The RGB frame (HEIGHT, WIDTH, 3) at ``t`` seconds, of valence ``v`` and arousal ``a``."""
        rng = self.rng
        if t >= self.next_cut:
            self.angle, self.wavelength = rng.uniform(0, math.pi), rng.uniform(12, 40)
            self.next_cut = t + rng.exponential(14 - 10 * (a + 1) / 2)
        self.phase += 2 * math.pi * (0.2 + 2.8 * (a + 1) / 2) / fps
        grating = np.sin((self.x * math.cos(self.angle) + self.y * math.sin(self.angle))
                         * (2 * math.pi / self.wavelength) - self.phase)
        grain = self.grains[rng.integers(len(self.grains))] * (0.02 + 0.08 * (a + 1) / 2)
        luminance = 1 + 0.25 * grating + grain
        return np.clip(luminance[..., None] * _frame_colour(v, a) * 255, 0, 255).astype(np.uint8)


def _streams(container, plan: FilmPlan, fps: float):
    """The H.264 video and mono AAC audio streams of the film being written."""
    video = container.add_stream("libx264", rate=plan.fps)
    video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    video.options = {"preset": "ultrafast", "crf": "26", "g": str(int(round(fps * 2)))}
    audio = container.add_stream("aac", rate=AUDIO_RATE)
    audio.layout = "mono"
    audio.options = {"aac_coder": "fast"}
    return video, audio


def render_film(plan: FilmPlan) -> Path:
    """Encode one film: H.264 video at ``plan.fps`` and 44.1 kHz mono AAC, written atomically; then
    its organisers' features (from the first frame of every second and the sound) if planned."""
    import av

    from . import sample_organisers

    rng = np.random.default_rng(plan.seed)
    fps = float(plan.fps)
    seconds = np.arange(plan.valence.size) + 0.5
    n_audio = int(round(plan.n_frames / fps * AUDIO_RATE))
    pictures = _Pictures(rng)
    audio_phase = 0.0
    per_second, sound = [], []      # the organisers' visual descriptors of each second; the sound
    with atomic_output(plan.video_path) as tmp:
        with av.open(str(tmp), "w", format="mp4") as container:
            video, audio = _streams(container, plan, fps)
            frame_index = 0
            for second in range(int(math.ceil(plan.n_frames / fps))):
                stop = min(plan.n_frames, int(round((second + 1) * fps)))
                for index in range(frame_index, stop):
                    t = index / fps
                    rgb = pictures.frame(t, float(np.interp(t, seconds, plan.valence)),
                                         float(np.interp(t, seconds, plan.arousal)), fps)
                    if plan.features and index == frame_index:
                        per_second.append(sample_organisers.visual_descriptors(rgb))
                    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                    frame.pts = index
                    container.mux(video.encode(frame))
                if plan.features and len(per_second) <= second:   # a second without a frame of its own
                    per_second.append(per_second[-1])
                frame_index = stop
                begin, end = second * AUDIO_RATE, min(n_audio, (second + 1) * AUDIO_RATE)
                if end > begin:
                    samples, audio_phase = _sound(begin, end, seconds, plan, audio_phase, rng)
                    sound.append(samples[0])
                    chunk = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                    chunk.sample_rate = AUDIO_RATE
                    chunk.pts = begin
                    container.mux(audio.encode(chunk))
            container.mux(video.encode(None))
            container.mux(audio.encode(None))
    if plan.features:
        visual_dir, audio_dir = plan.features
        sample_organisers.write_visual(visual_dir, plan.name, per_second)
        sample_organisers.write_audio(audio_dir, plan.name, np.concatenate(sound), plan.duration)
    return plan.video_path


def _sound(begin: int, end: int, seconds: np.ndarray, plan: FilmPlan, phase: float,
           rng: np.random.Generator) -> tuple[np.ndarray, float]:
    t = np.arange(begin, end) / AUDIO_RATE
    v = np.interp(t, seconds, plan.valence)
    a = np.interp(t, seconds, plan.arousal)
    pitch = 165.0 * 2.0 ** v
    phases = phase + 2 * math.pi * np.cumsum(pitch) / AUDIO_RATE
    consonant = (v + 1) / 2
    tone = (np.sin(phases) + consonant * (np.sin(1.25 * phases) + np.sin(1.5 * phases))
            + (1 - consonant) * (np.sin(1.06 * phases) + np.sin(1.41 * phases))) / 3
    excitement = (a + 1) / 2
    noise = np.diff(rng.standard_normal(t.size + 1))
    mono = (0.03 + 0.35 * excitement ** 1.5) * ((1 - 0.5 * excitement) * tone + 0.5 * excitement * noise)
    return np.clip(mono, -1, 1).astype(np.float32)[None, :], float(phases[-1] % (2 * math.pi))


def _annotation_text(header: str, columns: list[np.ndarray], formats: list[str]) -> str:
    lines = [header]
    for k, row in enumerate(zip(*columns)):
        lines.append("\t".join([str(k), str(int(k * SEGMENT_SHIFT))] + [f % v for f, v in zip(formats, row)]))
    return "\n".join(lines) + "\n"


def write_annotations(plan: FilmPlan, va_path: Path, fear_path: Path) -> None:
    """Write the official-format valence/arousal and fear files of a film."""
    k = segment_count(plan.duration)
    valence, arousal = segment_means(plan.valence, k), segment_means(plan.arousal, k)
    write_text_atomic(va_path, _annotation_text("Id\tTime\tMeanValence\tMeanArousal",
                                                [valence, arousal], ["%.6f", "%.6f"]))
    write_text_atomic(fear_path, _annotation_text("Id\tTime\tFear", [fear_labels(valence, arousal)], ["%d"]))


SAMPLE_MARK = ".mediaeval-sample"   # in a sample's root: made by make_sample, so --overwrite may write into it


def check_destination(dest, overwrite: bool = False) -> None:
    """Refuse a ``dest`` that :func:`make_sample` may not write into: a file, or a folder that is
    not empty, unless ``overwrite`` and it is a sample made before (it holds :data:`SAMPLE_MARK`);
    a folder of anything else is left alone, even with ``overwrite`` (its films and annotation
    files would be replaced)."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise MediaevalError(f"{dest} is a file; expected a folder to write the sample into")
    if not dest.is_dir() or not any(dest.iterdir()):
        return
    if not (dest / SAMPLE_MARK).is_file():
        raise MediaevalError(f"{dest} is not empty and is not a sample made by mediaeval sample; it is left alone "
                             f"(even with --overwrite): choose a new or empty folder")
    if not overwrite:
        raise MediaevalError(f"{dest} is not empty; use --overwrite to write into it")


def make_sample(dest, films: int = 8, test_films: int = 3, durations: tuple[float, float] = (60.0, 180.0),
                seed: int = 0, jobs: int = 2, test_labels: bool = False, progress: bool = True,
                organisers: bool = True) -> list[FilmPlan]:
    """Write a synthetic dataset under ``dest`` in the layout of the task's zips as
    distributed (``continuous-movies/<Film>.mp4``, ``MEDIAEVAL17-DevSet-*-annotations/annotations/``,
    ``MEDIAEVAL17-TestSet-Data/data/``; README, "Where to put the real data").

    Parameters
    ----------
    films, test_films : int
        Numbers of development films (``Sample_NN``, with annotations) and test films
        (``MEDIAEVAL17_NN``, without).
    durations : (float, float)
        Each film's duration is drawn uniformly from this range of seconds.
    seed : int
        Same seed, same curves, labels and pictures.
    test_labels : bool
        Also write the test films' ground truth (``MEDIAEVAL17_NN_valence_arousal.txt``,
        ``..._fear.txt``), as the organisers did after the evaluation.
    organisers : bool
        Also write the organisers' features of every film (:mod:`mediaeval.sample_organisers`),
        in the real zips' folders (the layout :mod:`mediaeval.features.organisers` reads).

    ``dest`` must be new, empty, or a sample made before (:func:`check_destination`).
    """
    from .progress import progress as progress_bar

    dest = Path(dest)
    low, high = durations
    if not 10 <= low <= high:
        raise ValueError(f"durations must satisfy 10 <= min <= max seconds, got {low}, {high}")
    check_destination(dest, overwrite=True)
    plans = plan_films(dest, films, test_films, (low, high), seed, organisers)
    dest.mkdir(parents=True, exist_ok=True)
    write_text_atomic(dest / SAMPLE_MARK, "made by mediaeval sample: a synthetic dataset; mediaeval sample "
                                          "--overwrite may write into this folder\n")
    for plan in plans:
        if plan.name.startswith("MEDIAEVAL17_"):
            if test_labels:
                write_annotations(plan, dest / TEST_TRUTH_DIR / f"{plan.name}_valence_arousal.txt",
                                  dest / TEST_TRUTH_DIR / f"{plan.name}_fear.txt")
        else:
            write_annotations(plan, dest / DEV_VA_DIR / f"{plan.name}-MEDIAEVAL2017-valence_arousal.txt",
                              dest / DEV_FEAR_DIR / f"{plan.name}-MEDIAEVAL2017-fear.txt")
    bar = progress_bar(total=len(plans), desc="sample films", unit="film", disable=not progress)
    if jobs > 1 and len(plans) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for _ in pool.map(render_film, plans):
                bar.update()
    else:
        for plan in plans:
            render_film(plan)
            bar.update()
    bar.close()
    return plans
