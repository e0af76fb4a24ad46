"""One synthetic sample from (seed, stream, index): label -> font -> text mask -> scene -> warp/crop ->
degradation -> encoded bytes.

All randomness of a sample comes from ``np.random.default_rng([seed, stream, index])``, so a sample does not
depend on which process renders it, nor on the samples rendered before it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from textrec.data.synth import degrade, geometry, text
from textrec.data.synth.compose import compose
from textrec.data.synth.fonts import FontBook, FontFace, open_font
from textrec.data.synth.profiles import Profile, ProfileMix
from textrec.data.synth.words import Lexicon, WordMix, WordSampler

MAX_TEXT_PX = 1400  # rough bound on the rendered text width: long labels get a smaller font


def stream_id(name: str) -> int:
    """A stable 32-bit stream number per split name, so train, val and each benchmark never share images."""
    return zlib.crc32(name.encode("utf-8"))


@dataclass(frozen=True)
class RenderContext:
    """Everything a worker needs; pickled once per worker process."""

    faces: tuple[FontFace, ...]
    lexicon: Lexicon
    mix: WordMix
    image_format: str = "jpeg"  # "jpeg" | "png"


class SynthSample(NamedTuple):
    image: bytes  # encoded (JPEG or PNG)
    label: str  # what the image shows
    # per character of ``label``: its centre's x as a fraction of the image width (0 = left edge, 1 = right;
    # a clipped crop may put a character outside [0, 1]). Training-only supervision, see lmdb_io.
    char_x: tuple[float, ...]


class Renderer:
    def __init__(self, ctx: RenderContext) -> None:
        self.ctx = ctx
        self.book = FontBook(list(ctx.faces))
        self.words = WordSampler(ctx.lexicon, ctx.mix)
        # the benchmark profiles draw their words without the punctuated share: the synthetic suite stays the
        # same images whatever data.synth.mix_punct a profile trains with (a punctuation-only mix has no other)
        plain = replace(ctx.mix, punct=0.0)
        self.plain_words = (WordSampler(ctx.lexicon, plain) if plain.lexicon + plain.random + plain.number > 0
                            else self.words)

    def sample(self, profile: Profile | ProfileMix, seed: int, stream: int, index: int) -> SynthSample:
        if isinstance(profile, ProfileMix):
            profile = profile.pick(seed, stream, index)
        rng = np.random.default_rng([seed, stream, index])
        words = self.words if profile.punct_labels else self.plain_words
        label = words.sample(rng)
        face = self.book.pick_covering(rng, profile.font_categories, label)
        try:
            return self._render(label, face, profile, rng, words)
        except Exception as e:  # add the context needed to reproduce it, then fail
            raise RuntimeError(f"sample {index} (seed {seed}, stream {stream}, profile {profile.name}, "
                               f"label {label!r}, font {face.id}) failed: {e}") from e

    def _render(self, label: str, face: FontFace, profile: Profile, rng: np.random.Generator,
                words: WordSampler) -> SynthSample:
        if face.caps_only:
            label = label.upper()  # the label says what the image shows
        if face.missing:  # no face with every glyph was found: the label says what the image shows
            label = "".join(c for c in label if c not in face.missing) or label.strip(face.missing) or "0"
        lo, hi = profile.out_height  # log-uniform: real crops are mostly small, a few are large
        out_h = min(hi, int(np.exp(rng.uniform(np.log(lo), np.log(hi + 1)))))
        # render near the output scale: no work on pixels that the final resize throws away
        size = int(np.clip(out_h * rng.uniform(0.8, 1.25), *profile.font_px))
        size = max(12, min(size, int(MAX_TEXT_PX / (0.6 * len(label)))))
        font = open_font(face, size, rng, profile.bold_bias)
        spacing = rng.uniform(*profile.char_spacing) * size if rng.random() < profile.p_spacing else 0.0
        curve = 0.0
        if len(label) >= 3 and rng.random() < profile.p_curve:
            curve = rng.uniform(*profile.curve) * rng.choice([-1.0, 1.0])
        word = text.render(label, font, spacing, curve)
        # Small real text is rarely hairline: thicken strokes that would end up thinner than ~1.3-2.2 px
        # in the output (the crop is about 1.3x the ink height).
        scale = out_h / (1.3 * (word.box[3] - word.box[1]))
        needed = rng.uniform(*profile.min_stroke_px) / scale
        width = text.stroke_width(word.mask)
        if width < needed:
            word = text.embolden(word, int(np.ceil((needed - width) / 2)))
        distractors = []
        if rng.random() < profile.p_distractor:
            for _ in range(int(rng.integers(1, 3))):
                other = words.sample(rng)
                dface = face if rng.random() < 0.6 else self.book.pick(rng, profile.font_categories)
                dsize = max(12, int(size * rng.uniform(0.6, 1.2)))
                dsize = min(dsize, int(MAX_TEXT_PX / (0.6 * len(other))))
                distractors.append(text.render_straight(other, open_font(dface, max(dsize, 8), rng)))
        neighbour = None
        if profile.p_side_neighbour > 0 and rng.random() < profile.p_side_neighbour:  # no draw when off
            # same font and size (the same sign); only its first or last letters can show: 6 are plenty
            other = words.sample(rng)
            neighbour = text.render_straight(other[:6] if rng.random() < 0.5 else other[-6:], font)
        scene = compose(word, distractors, profile, rng, neighbour)
        crop, centres = geometry.warp_and_crop(scene, profile, rng)
        # the resize to out_h scales x by out_w / w: a fraction of the width (pixel centres) survives it
        char_x = tuple(round(float(x), 5) for x in (centres[:, 0] + 0.5) / crop.shape[1])
        img = degrade.degrade(crop, out_h, profile, rng)
        quality = int(rng.integers(profile.jpeg_quality[0], profile.jpeg_quality[1] + 1))
        return SynthSample(degrade.encode(img, self.ctx.image_format, quality), label, char_x)

    def iter_samples(self, profile: Profile | ProfileMix, seed: int, stream: int, start: int, stop: int
                     ) -> Iterator[SynthSample]:
        """Samples ``start`` .. ``stop - 1``, one at a time (nothing is accumulated)."""
        for i in range(start, stop):
            yield self.sample(profile, seed, stream, i)
