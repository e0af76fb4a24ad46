"""Condition profiles: the distribution one synthetic set is drawn from.

``TRAIN`` is deliberately wide and dirty (real crops are rarely clean). The benchmark profiles narrow it to
mimic the seven real benchmarks: regular horizontal text (IIIT5K, SVT, IC03, IC13), low-resolution blurred
incidental text (IC15), perspective (SVTP) and curved text (CUTE80). Ranges are (low, high), sampled
uniformly unless a comment says otherwise; probabilities are per image.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

Range = tuple[float, float]


def _mapping(**kw: float) -> dict[str, float]:
    return dict(kw)


@dataclass(frozen=True)
class Profile:
    name: str
    # ---- text and font ---------------------------------------------------------------------------------
    punct_labels: bool = True  # draw labels with data.synth.mix_punct (False: benchmarks, the same suite always)
    font_categories: dict[str, float] = field(default_factory=lambda: _mapping(
        sans=0.5, serif=0.17, display=0.15, monospace=0.06, handwriting=0.12))
    bold_bias: float = 0.45  # 0: weights uniform over a variable font's range; towards 1: heavier
    font_px: tuple[int, int] = (18, 64)  # clamp for the rendering size (about 0.8-1.25x the output height)
    char_spacing: Range = (-0.04, 0.35)  # extra space between characters, in em (used with p_spacing)
    p_spacing: float = 0.25
    stretch: Range = (0.75, 1.3)  # horizontal scale of the glyphs
    p_stretch: float = 0.35
    shear: Range = (-0.3, 0.3)  # synthetic slant (x += shear * y), used with p_shear
    p_shear: float = 0.15
    min_stroke_px: Range = (1.3, 2.2)  # thinner strokes (in output pixels) are emboldened
    p_curve: float = 0.07
    curve: Range = (0.15, 0.5)  # arc depth as a fraction of the text width (either direction)
    # ---- appearance -----------------------------------------------------------------------------------
    backgrounds: dict[str, float] = field(default_factory=lambda: _mapping(
        solid=0.14, gradient=0.16, fractal=0.2, stripes=0.07, blobs=0.13, clutter=0.18, plate=0.12))
    min_contrast: Range = (2.5, 5.0)  # WCAG luminance-contrast floor, drawn per image in this range
    p_low_contrast: float = 0.05  # floor at 1.8 instead (faded, washed-out text)
    p_outline: float = 0.12
    p_shadow: float = 0.15
    p_extrude: float = 0.05  # 3-D block letters
    p_border: float = 0.12  # a frame or edge line near the text
    p_fill_gradient: float = 0.12
    p_distractor: float = 0.3  # neighbouring text lines partly inside the crop
    # a neighbouring word on the same line, a sliver of it inside the crop's left or right edge (real crops
    # often hold one: an extra "i", "l" or "s" at a word's end is the bundle's most frequent error)
    p_side_neighbour: float = 0.0
    # ---- geometry -------------------------------------------------------------------------------------
    rotation_deg: float = 4.0  # normal std; clipped at 3 std
    p_rotation: float = 0.6
    # steep text (incidental photos: a word at 15-50 degrees in its axis-aligned crop), either direction
    p_steep: float = 0.0
    steep_deg: Range = (15.0, 50.0)
    perspective: float = 0.08  # max corner displacement as a fraction of the text height/width
    p_perspective: float = 0.35
    margin: Range = (-0.06, 0.35)  # crop margin per side as a fraction of the text height (<0 clips)
    p_clip: float = 0.1  # one side clipped harder (up to 0.15 of the height)
    out_height: tuple[int, int] = (16, 80)  # final image height in pixels (log-uniform)
    # ---- degradation ----------------------------------------------------------------------------------
    p_blur: float = 0.4
    blur_sigma: Range = (0.3, 1.0)  # relative to a 32-px-high final image
    p_motion: float = 0.08
    motion_len: Range = (2.0, 6.0)  # relative to a 32-px-high final image
    p_lowres: float = 0.3
    lowres_factor: Range = (1.3, 2.5)  # downsample by this factor, then back up
    p_noise: float = 0.4
    noise_std: Range = (2.0, 10.0)
    p_light: float = 0.35  # uneven lighting, highlights, colour cast
    jpeg_quality: tuple[int, int] = (40, 95)


# What the synthetic benchmarks start from. New conditions default to off (0) here and draw no random number
# when off, so the suite's images stay the same as conditions are added to TRAIN.
_SUITE = Profile("suite")

# Wider than the suite where the bundle fails on real photos (reports/bench/failures.json: steep text, a
# neighbour's sliver at the edges, low contrast, punctuation from data.synth.mix_punct).
TRAIN = replace(_SUITE, name="train", p_steep=0.06, p_side_neighbour=0.15, p_low_contrast=0.08)

_REGULAR = replace(
    _SUITE, name="regular", punct_labels=False, p_curve=0.0, p_perspective=0.15, perspective=0.04, rotation_deg=2.0,
    p_rotation=0.4, p_motion=0.03, p_lowres=0.15, p_clip=0.03, margin=(0.0, 0.25), p_distractor=0.15)

BENCHMARKS: dict[str, Profile] = {
    # Scene words searched on Google Images: varied fonts and colours, mostly sharp and horizontal.
    "synth_IIIT5K": replace(_REGULAR, name="synth_IIIT5K", out_height=(24, 80), p_blur=0.3, p_noise=0.3),
    # Street View: sans signage, low resolution and blur, dull colours.
    "synth_SVT": replace(_REGULAR, name="synth_SVT", font_categories=_mapping(sans=0.7, serif=0.2, display=0.1),
                         out_height=(18, 48), p_lowres=0.5, p_blur=0.6, blur_sigma=(0.4, 1.3),
                         p_noise=0.6, min_contrast=(2.0, 3.5), jpeg_quality=(30, 80)),
    # ICDAR 2003: focused camera photos of signs and products, cleanest of all.
    "synth_IC03": replace(_REGULAR, name="synth_IC03", out_height=(28, 90), p_blur=0.2, p_noise=0.2,
                          p_lowres=0.05, jpeg_quality=(60, 95)),
    # ICDAR 2013: like IC03 with more fonts and effects.
    "synth_IC13": replace(_REGULAR, name="synth_IC13", out_height=(24, 90), p_blur=0.3, p_noise=0.25,
                          p_lowres=0.1, p_outline=0.2, p_shadow=0.25),
    # ICDAR 2015 incidental: wearable-camera frames, tiny, blurred, rotated, loosely cropped.
    "synth_IC15": replace(_SUITE, name="synth_IC15", punct_labels=False, p_curve=0.0, out_height=(14, 36), rotation_deg=9.0,
                          p_rotation=0.9, p_perspective=0.5, perspective=0.1, p_blur=0.7,
                          blur_sigma=(0.4, 1.1), p_motion=0.2, motion_len=(2.0, 6.0), p_lowres=0.5,
                          lowres_factor=(1.3, 2.2), p_noise=0.6, margin=(-0.05, 0.5), p_clip=0.2,
                          min_contrast=(2.0, 4.0), jpeg_quality=(35, 80), p_distractor=0.45),
    # SVT-Perspective: the same kind of street signs seen at strong angles.
    "synth_SVTP": replace(_SUITE, name="synth_SVTP", punct_labels=False, p_curve=0.0, font_categories=_mapping(
        sans=0.7, serif=0.2, display=0.1), p_perspective=1.0, perspective=0.2, rotation_deg=5.0,
        out_height=(20, 56), p_lowres=0.35, p_blur=0.45, jpeg_quality=(35, 85)),
    # CUTE80: curved text on logos, emblems and shirts, high resolution.
    "synth_CUTE80": replace(_SUITE, name="synth_CUTE80", punct_labels=False, p_curve=1.0, curve=(0.3, 0.75), out_height=(40, 96),
                            p_lowres=0.05, p_blur=0.25, font_categories=_mapping(
                                sans=0.35, serif=0.15, display=0.35, handwriting=0.15)),
}


def profile(name: str) -> Profile:
    if name == TRAIN.name:
        return TRAIN
    if name not in BENCHMARKS:
        raise KeyError(f"unknown synthetic profile {name!r}; known: {['train', *BENCHMARKS]}")
    return BENCHMARKS[name]


@dataclass(frozen=True)
class ProfileMix:
    """Several profiles, each image drawn from one of them by share (``data.synth.train_styles``): a set
    aimed at chosen conditions, e.g. the demo's renders at what the bundle reads worst."""

    name: str
    profiles: tuple[Profile, ...]
    cumulative: tuple[float, ...]  # cumulative shares, the last 1.0

    def pick(self, seed: int, stream: int, index: int) -> Profile:
        """The profile of image ``index``: a function of (seed, stream, index) only, from a generator of its own
        (the image's own draws are the same as under that profile alone)."""
        u = np.random.default_rng([seed, stream, index, _PICK_STREAM]).random()
        return self.profiles[min(int(np.searchsorted(self.cumulative, u, side="right")), len(self.profiles) - 1)]


_PICK_STREAM = 7  # a fourth seed word no image generator uses


def profile_mix(styles: Sequence[str]) -> Profile | ProfileMix:
    """Profile names, each an equal share (one named twice: twice its share) -> that profile when there is
    one (its images exactly as without a mix), else a ProfileMix; unknown names are refused."""
    if not styles:
        raise ValueError("data.synth.train_styles names no profile")
    counts = Counter(styles)
    named = [profile(k) for k in counts]
    if len(named) == 1:
        return named[0]
    shares = [c / len(styles) for c in counts.values()]
    label = "+".join(f"{k}:{s:.2f}" for k, s in zip(counts, shares, strict=True))
    cumulative = tuple(float(c) for c in np.cumsum(shares))
    return ProfileMix(f"mix({label})", tuple(named), cumulative[:-1] + (1.0,))
