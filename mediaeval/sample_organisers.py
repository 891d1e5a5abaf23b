"""Stand-ins for the organisers' features of the sample films, in the real release's layout and formats.

The 2017 organisers gave, beside the films, per-second visual features (LIRE descriptors and
VGG16 fc6 of one frame per second) and openSMILE audio features per 10 s segment (the layout
:mod:`mediaeval.features.organisers` reads).  :func:`mediaeval.sample.make_sample` writes the
same for its films, so that runs on ``features = ["organisers"]`` can be trained and shown on
the sample.  They are computed from the film's own pictures and sound, as the real ones were,
with each real feature's dimension (LIRE's usual sizes; fc6 4,096; the emobase2010 set's 1,582
values) and text format, but by simple descriptors of the same kind, not by LIRE, VGG16 or openSMILE:

* ``acc``: colour auto-correlogram (64 colours x distances 1, 3, 5, 7);
* ``cedd``, ``fcth``, ``jcd``: 24 colour classes x 6, 8 or 7 texture classes of 4x4 blocks,
  quantised to 0-7;
* ``cl``: the first 21 + 6 + 6 zig-zag DCT coefficients of the 8x8 mean Y, Cb, Cr images;
* ``eh``: 5 edge types (MPEG-7's 2x2 filters) in 4x4 sub-images, quantised to 0-7;
* ``gabor``: mean and standard deviation of 5 scales x 6 orientations of Gabor responses;
* ``sc``: a 16 x 2 x 2 HSV histogram; ``tamura``: coarseness, contrast, 16 directions;
* ``lbp``: histogram of 8-neighbour local binary patterns;
* ``fc6``: ReLU of a fixed random projection of the 12x20 colour and edge image (a stand-in
  for a network: the same weights for every film and seed);
* audio: 34 frame-level descriptors (loudness, 15 MFCC, 8 log mel bands, 8 spectral quantiles
  in place of LSP frequencies, pitch envelope, voicing) and their deltas under 21 functionals,
  4 pitch descriptors (F0, jitter, DDP jitter, shimmer) and their deltas under 19, and 2 turn
  values: 1,582 values per segment, named as in openSMILE's ``IS10_paraling`` (emobase2010).

Frame ``n`` (from 00001) is the first frame of second ``n - 1``; one ``.csv`` per segment.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from .atomic import write_text_atomic
from .windows import AUDIO_RATE, SEGMENT_SECONDS, SEGMENT_SHIFT, segment_count

VISUAL_DIMS = {"acc": 256, "cedd": 144, "cl": 33, "eh": 80, "fcth": 192, "gabor": 60, "jcd": 168,
               "sc": 64, "tamura": 18, "lbp": 256, "fc6": 4096}
INTEGER_FEATURES = {"cedd", "fcth", "jcd", "cl", "eh", "sc"}   # written as integers, as LIRE's quantised ones
FC6_SEED = 2017                                                  # the stand-in network's fixed weights

DEV_VISUAL_DIR = "MEDIAEVAL17-DevSet-Visual_features/features"
DEV_AUDIO_DIR = "MEDIAEVAL17-DevSet-Audio_features/features"
TEST_VISUAL_DIR = "MEDIAEVAL17-TestSet-Visual_features/visual_features"
TEST_AUDIO_DIR = "MEDIAEVAL17-TestSet-Audio_features/audio_features"


def feature_dirs(dest: Path, name: str, test: bool) -> tuple[Path, Path]:
    """Visual and audio folders of a film, as in the real zips (the test audio one level deeper)."""
    if test:
        return dest / TEST_VISUAL_DIR / name, dest / TEST_AUDIO_DIR / name / "audio_features"
    return dest / DEV_VISUAL_DIR / name, dest / DEV_AUDIO_DIR / name


# --------------------------------------------------------------------------- visual

def _hsv(f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    v, c = f.max(axis=-1), f.max(axis=-1) - f.min(axis=-1)
    safe = np.maximum(c, 1e-9)
    h = np.where(v == r, ((g - b) / safe) % 6, np.where(v == g, (b - r) / safe + 2, (r - g) / safe + 4)) / 6
    return np.where(c > 0, h % 1.0, 0.0), np.where(v > 0, c / np.maximum(v, 1e-9), 0.0), v


def _colour_classes(f: np.ndarray) -> np.ndarray:
    """24 classes as CEDD's: black, grey, white, then 7 hues x dark, normal, light."""
    h, s, v = _hsv(f)
    achromatic = np.minimum(2, (v * 3).astype(int))
    tone = np.where(v < 0.45, 0, np.where(v < 0.75, 1, 2))
    chromatic = 3 + np.minimum(6, (h * 7).astype(int)) * 3 + tone
    return np.where((s < 0.2) | (v < 0.15), achromatic, chromatic)


def _blocks(x: np.ndarray, size: int) -> np.ndarray:
    """Means of ``size`` x ``size`` blocks (trailing rows and columns dropped)."""
    h, w = x.shape[0] // size, x.shape[1] // size
    return x[:h * size, :w * size].reshape(h, size, w, size, *x.shape[2:]).mean(axis=(1, 3))


def _quantise(histogram: np.ndarray, top: int = 7) -> np.ndarray:
    peak = histogram.max()
    return np.round(top * np.sqrt(histogram / peak)) if peak > 0 else np.zeros_like(histogram)


def _orientation_class(angle: np.ndarray) -> np.ndarray:
    """0 horizontal, 1 vertical, 2 45 degrees, 3 135 degrees (edge direction from the gradient's)."""
    quadrant = np.round(angle / (math.pi / 4)).astype(int) % 4   # 0, 45, 90, 135 degrees of the gradient
    return np.array([1, 3, 0, 2])[quadrant]


_ZIGZAG = sorted(((i, j) for i in range(8) for j in range(8)),
                 key=lambda p: (p[0] + p[1], p[0] if (p[0] + p[1]) % 2 else p[1]))


@lru_cache(maxsize=4)
def _gabor_bank(h: int, w: int) -> np.ndarray:
    """(30, h, w) frequency responses: 5 scales x 6 orientations."""
    v, u = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    bank = []
    for scale in range(5):
        centre = 0.35 / 2 ** scale
        for k in range(6):
            theta = k * math.pi / 6
            along, across = u * math.cos(theta) + v * math.sin(theta), -u * math.sin(theta) + v * math.cos(theta)
            bank.append(np.exp(-((along - centre) ** 2 + across ** 2) / (2 * (centre / 2) ** 2)))
    return np.array(bank)


@lru_cache(maxsize=1)
def _fc6_weights(n_in: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(FC6_SEED)
    return ((rng.standard_normal((VISUAL_DIMS["fc6"], n_in)) / math.sqrt(n_in)).astype(np.float32),
            rng.normal(-0.5, 0.5, VISUAL_DIMS["fc6"]).astype(np.float32))


def visual_descriptors(rgb: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The LIRE stand-ins of one uint8 RGB frame, ``{feature: vector of VISUAL_DIMS[feature]}``, and
    the frame's input to :func:`fc6` (which projects all seconds at once)."""
    f = rgb.astype(np.float32) / 255
    grey = f @ np.array([0.299, 0.587, 0.114], np.float32)
    half = _blocks(grey, 2)                                     # most descriptors work at half size
    quarter = _blocks(half, 2)
    gy, gx = np.gradient(half)
    magnitude, angle = np.hypot(gx, gy), np.arctan2(gy, gx) % math.pi
    out = {"acc": _acc(rgb)}
    out.update(_colour_texture(f, magnitude, angle))
    out.update(cl=_cl(rgb), eh=_eh(half), gabor=_gabor(quarter), sc=_sc(f),
               tamura=_tamura(half, quarter, magnitude, angle), lbp=_lbp(grey))
    # fc6's input: the 12x20 colour and edge-energy image
    fc6_input = np.concatenate([(_blocks(f, rgb.shape[0] // 12)[:12, :20] - 0.5).ravel() * 4,
                                _blocks(magnitude, half.shape[0] // 12)[:12, :20].ravel() * 20])
    return out, fc6_input.astype(np.float32)


def _acc(rgb: np.ndarray) -> np.ndarray:
    """acc: share of pixels of each colour whose neighbour at distance d has the same colour."""
    q = (rgb // 64).astype(np.int64) @ np.array([16, 4, 1])
    acc = []
    for d in (1, 3, 5, 7):
        same = np.zeros(64)
        total = np.zeros(64)
        for a, b in ((q[:, :-d], q[:, d:]), (q[:-d], q[d:])):
            total += np.bincount(a.ravel(), minlength=64)
            same += np.bincount(a[a == b], minlength=64)
        acc.append(np.divide(same, total, out=np.zeros(64), where=total > 0))
    return np.concatenate(acc)


def _colour_texture(f: np.ndarray, magnitude: np.ndarray, angle: np.ndarray) -> dict[str, np.ndarray]:
    """cedd, fcth, jcd: colour class of each 4x4 block x its texture class."""
    colour = _colour_classes(_blocks(f, 4)).ravel()
    block_magnitude = _blocks(magnitude, 2).ravel()
    doubled = _blocks(magnitude[..., None] * np.stack([np.cos(2 * angle), np.sin(2 * angle)], -1), 2)
    coherence = np.hypot(doubled[..., 0], doubled[..., 1]).ravel() / np.maximum(block_magnitude, 1e-9)
    direction = _orientation_class((np.arctan2(doubled[..., 1], doubled[..., 0]).ravel() / 2) % math.pi)
    weak, strong = block_magnitude < 0.01, block_magnitude >= 0.04
    cedd_texture = np.where(weak, 0, np.where(coherence < 0.3, 1, 2 + direction))
    fcth_texture = strong * 4 + direction
    cedd = np.bincount(colour * 6 + cedd_texture, minlength=144).astype(float)
    fcth = np.bincount(colour * 8 + fcth_texture, minlength=192).astype(float)
    jcd = np.concatenate([cedd.reshape(24, 6), np.bincount(colour[strong], minlength=24)[:, None]], axis=1).ravel()
    return {"cedd": _quantise(cedd), "fcth": _quantise(fcth), "jcd": _quantise(jcd)}


def _cl(rgb: np.ndarray) -> np.ndarray:
    """cl: zig-zag DCT coefficients of the 8x8 mean Y, Cb, Cr."""
    from scipy.fft import dctn

    small = _blocks(rgb.astype(np.float64), rgb.shape[0] // 8)[:8, :8]
    ycc = small @ np.array([[0.299, -0.169, 0.5], [0.587, -0.331, -0.419], [0.114, 0.5, -0.081]]) + [0, 128, 128]
    cl = []
    for channel, count in ((0, 21), (1, 6), (2, 6)):
        coefficients = dctn(ycc[..., channel], norm="ortho")
        values = [coefficients[i, j] for i, j in _ZIGZAG[:count]]
        cl += [round(values[0] / 8)] + [min(31, max(0, round(v / 2) + 16)) for v in values[1:]]
    return np.array(cl, float)


def _eh(half: np.ndarray) -> np.ndarray:
    """eh: MPEG-7 edge types of 2x2 blocks of 2x2-pixel means, counted in 4x4 sub-images."""
    means = half * 255
    a0, a1, a2, a3 = means[0::2, 0::2], means[0::2, 1::2], means[1::2, 0::2], means[1::2, 1::2]
    responses = np.abs(np.stack([a0 - a1 + a2 - a3, a0 + a1 - a2 - a3, math.sqrt(2) * (a0 - a3),
                                 math.sqrt(2) * (a1 - a2), 2 * (a0 - a1 - a2 + a3)]))
    edge = np.where(responses.max(axis=0) > 11, responses.argmax(axis=0), -1)
    rows, cols = edge.shape
    sub = edge[:rows // 4 * 4, :cols // 4 * 4].reshape(4, rows // 4, 4, cols // 4).transpose(0, 2, 1, 3)
    shares = np.stack([np.mean(sub == t, axis=(2, 3)) for t in range(5)], axis=-1)
    return np.round(7 * np.sqrt(shares)).ravel()


def _gabor(quarter: np.ndarray) -> np.ndarray:
    """gabor: mean and std of the response magnitudes at quarter size."""
    response = np.abs(np.fft.ifft2(np.fft.fft2(quarter)[None] * _gabor_bank(*quarter.shape)))
    return np.stack([response.mean(axis=(1, 2)), response.std(axis=(1, 2))], axis=1).ravel()


def _sc(f: np.ndarray) -> np.ndarray:
    """sc: 16 hues x 2 saturations x 2 values, at half size."""
    h, s, v = _hsv(_blocks(f, 2))
    bins = np.minimum(15, (h * 16).astype(int)) * 4 + (s >= 0.5) * 2 + (v >= 0.5)
    return _quantise(np.bincount(bins.ravel(), minlength=64).astype(float), 15)


def _tamura(half: np.ndarray, quarter: np.ndarray, magnitude: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """tamura: coarseness, contrast, directionality."""
    from scipy.ndimage import uniform_filter

    best, scale = np.full(quarter.shape, -1.0), np.ones(quarter.shape)
    for k in range(5):
        average = uniform_filter(quarter, 2 ** k, mode="nearest")
        shift = max(1, 2 ** k // 2)
        e = np.maximum(np.abs(np.roll(average, shift, 1) - np.roll(average, -shift, 1)),
                       np.abs(np.roll(average, shift, 0) - np.roll(average, -shift, 0)))
        scale = np.where(e > best, 2.0 ** k, scale)
        best = np.maximum(e, best)
    sigma = float(half.std())
    kurtosis = float(np.mean((half - half.mean()) ** 4)) / sigma ** 4 if sigma > 0 else 0.0
    directions = np.bincount(np.minimum(15, (angle[magnitude > 0.01] / math.pi * 16).astype(int)), minlength=16)
    return np.concatenate([[scale.mean(), sigma / kurtosis ** 0.25 if kurtosis > 0 else 0.0],
                           directions / max(1, directions.sum())])


def _lbp(grey: np.ndarray) -> np.ndarray:
    """lbp: 8-neighbour binary patterns of the grey image."""
    centre = grey[1:-1, 1:-1]
    code = np.zeros(centre.shape, np.int64)
    for bit, (dy, dx) in enumerate(((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))):
        code |= (grey[1 + dy:grey.shape[0] - 1 + dy, 1 + dx:grey.shape[1] - 1 + dx] >= centre).astype(np.int64) << bit
    return np.bincount(code.ravel(), minlength=256) / code.size


def fc6(inputs: np.ndarray) -> np.ndarray:
    """(seconds, 4096): ReLU of a fixed random projection of :func:`visual_descriptors`' inputs."""
    inputs = np.asarray(inputs, np.float32)
    weights, bias = _fc6_weights(inputs.shape[1])
    return np.maximum(inputs @ weights.T + bias, 0.0)


def _text(values: np.ndarray, integer: bool) -> str:
    if integer:
        return ",".join(map(str, np.asarray(values).astype(np.int64).tolist())) + "\n"
    return ",".join(map("{:.6g}".format, np.asarray(values, np.float64).tolist())) + "\n"


def write_visual(folder: Path, name: str, per_second: list[tuple[dict, np.ndarray]]) -> None:
    """``<folder>/<feat>/<name>-NNNNN_<feat>.txt``, one comma-separated line, frame n = second n - 1;
    ``per_second``: :func:`visual_descriptors` of the first frame of every second."""
    deep = fc6(np.stack([fc6_input for _, fc6_input in per_second]))
    for feature in VISUAL_DIMS:
        for second, (descriptors, _) in enumerate(per_second):
            values = deep[second] if feature == "fc6" else descriptors[feature]
            write_text_atomic(folder / feature / f"{name}-{second + 1:05d}_{feature}.txt",
                              _text(values, feature in INTEGER_FEATURES))


# --------------------------------------------------------------------------- audio

FRAME, HOP = 1024, 441                   # 23 ms windows every 10 ms
LLDS = (["pcm_loudness_sma"] + [f"mfcc_sma[{i}]" for i in range(15)] + [f"logMelFreqBand_sma[{i}]" for i in range(8)]
        + [f"lspFreq_sma[{i}]" for i in range(8)] + ["F0finEnv_sma", "voicingFinalUnclipped_sma"])
PITCH_LLDS = ["F0final_sma", "jitterLocal_sma", "jitterDDP_sma", "shimmerLocal_sma"]
FUNCTIONALS = ["maxPos", "minPos", "amean", "linregc1", "linregc2", "linregerrA", "linregerrQ", "stddev", "skewness",
               "kurtosis", "quartile1", "quartile2", "quartile3", "iqr1-2", "iqr2-3", "iqr1-3", "percentile1.0",
               "percentile99.0", "pctlrange0-1", "upleveltime75", "upleveltime90"]
PITCH_FUNCTIONALS = [f for f in FUNCTIONALS if f not in ("minPos", "linregerrA")]


def audio_attributes() -> list[str]:
    """The 1,582 attribute names, in openSMILE's order: LLDs, then their deltas, then pitch ones, then turns."""
    names = [f"{lld}_{fn}" for lld in LLDS for fn in FUNCTIONALS]
    names += [f"{lld.replace('_sma', '_sma_de')}_{fn}" for lld in LLDS for fn in FUNCTIONALS]
    names += [f"{lld}_{fn}" for lld in PITCH_LLDS for fn in PITCH_FUNCTIONALS]
    names += [f"{lld.replace('_sma', '_sma_de')}_{fn}" for lld in PITCH_LLDS for fn in PITCH_FUNCTIONALS]
    return names + ["F0final__Turn_numOnsets", "F0final__Turn_duration"]


def _mel_bank(n_bands: int, low: float, high: float) -> np.ndarray:
    low_mel, high_mel = (2595 * math.log10(1 + hz / 700) for hz in (low, high))
    edges = 700 * (10 ** (np.linspace(low_mel, high_mel, n_bands + 2) / 2595) - 1)
    freqs = np.fft.rfftfreq(FRAME, 1 / AUDIO_RATE)
    bank = np.zeros((n_bands, freqs.size))
    for b in range(n_bands):
        left, centre, right = edges[b:b + 3]
        bank[b] = np.clip(np.minimum((freqs - left) / (centre - left), (right - freqs) / (right - centre)), 0, None)
    return bank


def _smooth3(x: np.ndarray) -> np.ndarray:
    """openSMILE's ``sma``: a moving average over 3 frames."""
    padded = np.concatenate([x[:1], x, x[-1:]])
    return (padded[:-2] + padded[1:-1] + padded[2:]) / 3


def _delta(x: np.ndarray) -> np.ndarray:
    """openSMILE's delta regression over 2 frames each side."""
    padded = np.concatenate([x[:1], x[:1], x, x[-1:], x[-1:]])
    return (padded[3:-1] - padded[1:-3] + 2 * (padded[4:] - padded[:-4])) / 10


def frame_descriptors(sound: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frames, 34) descriptors and (frames, 4) pitch descriptors, one frame every 10 ms."""
    from scipy.fft import dct

    sound = np.asarray(sound, np.float64)
    if sound.size < FRAME:
        sound = np.pad(sound, (0, FRAME - sound.size))
    windows = np.lib.stride_tricks.sliding_window_view(sound, FRAME)[::HOP]
    freqs = np.fft.rfftfreq(FRAME, 1 / AUDIO_RATE)
    mel26, mel8 = _mel_bank(26, 20, 8000), _mel_bank(8, 20, 6500)
    pitch_band = (freqs >= 80) & (freqs <= 600)
    voice_band = (freqs >= 80) & (freqs <= 4000)
    hann = np.hanning(FRAME)
    rows = []
    for start in range(0, len(windows), 500):                   # bounded memory on long films
        chunk = windows[start:start + 500]
        power = np.abs(np.fft.rfft(chunk * hann, axis=1)) ** 2 + 1e-12
        loudness = np.mean(chunk ** 2, axis=1) ** 0.3
        mfcc = dct(np.log(power @ mel26.T), norm="ortho", axis=1)[:, :15]
        bands = np.log(power @ mel8.T)
        cumulative = np.cumsum(power, axis=1) / power.sum(axis=1, keepdims=True)
        lsp = np.stack([np.argmax(cumulative >= q / 9, axis=1) for q in range(1, 9)], 1) * math.pi / (FRAME // 2)
        peak = np.argmax(np.where(pitch_band, power, 0), axis=1)
        f0 = freqs[peak]
        band = power[:, voice_band]
        flatness = np.exp(np.mean(np.log(band), axis=1)) / np.mean(band, axis=1)
        rows.append(np.column_stack([loudness, mfcc, bands, lsp, f0, 1 - flatness]))
    lld = np.concatenate(rows)
    f0, voicing, loudness = lld[:, -2], lld[:, -1], lld[:, 0]
    voiced = voicing > 0.5
    f0_final = np.where(voiced, f0, 0.0)
    safe_f0 = np.maximum(f0_final, 1.0)
    jitter = np.where(voiced, np.abs(np.diff(f0_final, prepend=f0_final[0])) / safe_f0, 0.0)
    ddp = np.where(voiced, np.abs(np.diff(f0_final, n=2, prepend=f0_final[:1].repeat(2))) / safe_f0, 0.0)
    shimmer = np.where(voiced, np.abs(np.diff(loudness, prepend=loudness[0])) / np.maximum(loudness, 1e-9), 0.0)
    return _smooth3(lld), _smooth3(np.column_stack([f0_final, jitter, ddp, shimmer]))


def functionals(x: np.ndarray, names: list[str]) -> np.ndarray:
    """The named functionals of every column of ``x`` (frames, columns): (columns * len(names),) column-major."""
    n = len(x)
    t = np.arange(n, dtype=np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0)
    centred = x - mean
    slope = (t - t.mean()) @ centred / max(np.sum((t - t.mean()) ** 2), 1e-12)
    offset = mean - slope * t.mean()
    error = x - (offset + slope * t[:, None])
    p1, q1, q2, q3, p99 = np.percentile(x, [1, 25, 50, 75, 99], axis=0)
    low, span = x.min(axis=0), np.maximum(x.max(axis=0) - x.min(axis=0), 1e-12)
    safe = np.where(std > 1e-12, std, 1.0)
    values = {
        "maxPos": x.argmax(axis=0) / max(n - 1, 1), "minPos": x.argmin(axis=0) / max(n - 1, 1), "amean": mean,
        "linregc1": slope, "linregc2": offset, "linregerrA": np.abs(error).mean(axis=0),
        "linregerrQ": (error ** 2).mean(axis=0), "stddev": std,
        "skewness": np.where(std > 1e-12, np.mean(centred ** 3, axis=0) / safe ** 3, 0.0),
        "kurtosis": np.where(std > 1e-12, np.mean(centred ** 4, axis=0) / safe ** 4, 0.0),
        "quartile1": q1, "quartile2": q2, "quartile3": q3, "iqr1-2": q2 - q1, "iqr2-3": q3 - q2, "iqr1-3": q3 - q1,
        "percentile1.0": p1, "percentile99.0": p99, "pctlrange0-1": p99 - p1,
        "upleveltime75": np.mean(x > low + 0.75 * span, axis=0), "upleveltime90": np.mean(x > low + 0.9 * span, axis=0),
    }
    return np.stack([values[name] for name in names], axis=1).ravel()


def segment_vectors(sound: np.ndarray, duration: float) -> np.ndarray:
    """(segment_count(duration), 1582): the functionals of each 10 s segment every 5 s."""
    lld, pitch = frame_descriptors(sound)
    times = np.arange(len(lld)) * HOP / AUDIO_RATE
    rows = []
    for k in range(segment_count(duration)):
        inside = (times >= k * SEGMENT_SHIFT) & (times < k * SEGMENT_SHIFT + SEGMENT_SECONDS)
        if not inside.any():
            inside = np.arange(len(lld)) == len(lld) - 1
        a, p = lld[inside], pitch[inside]
        voiced = p[:, 0] > 0
        onsets = int(voiced[0]) + int(np.sum(voiced[1:] & ~voiced[:-1]))
        rows.append(np.concatenate([functionals(a, FUNCTIONALS), functionals(_delta(a), FUNCTIONALS),
                                    functionals(p, PITCH_FUNCTIONALS), functionals(_delta(p), PITCH_FUNCTIONALS),
                                    [onsets, SEGMENT_SECONDS]]))
    return np.array(rows).reshape(-1, len(audio_attributes()))


def arff_text(attributes: list[str], rows: np.ndarray) -> str:
    """openSMILE's ARFF-style output: ``@attribute`` lines, ``@data``, rows named ``'unknown'``."""
    head = (["@relation openSMILE_features", "", "@attribute name string"]
            + [f"@attribute {a} numeric" for a in attributes] + ["@attribute class numeric", "", "@data", ""])
    body = ["'unknown'," + ",".join(map("{:.6e}".format, row.tolist())) + ",?" for row in rows]
    return "\n".join(head + body) + "\n"


def write_audio(folder: Path, name: str, sound: np.ndarray, duration: float) -> None:
    """One ``<name>-NNNNN.csv`` per 10 s segment (from 00001), one row each."""
    attributes = audio_attributes()
    for k, row in enumerate(segment_vectors(sound, duration)):
        write_text_atomic(folder / f"{name}-{k + 1:05d}.csv", arff_text(attributes, row[None]))
