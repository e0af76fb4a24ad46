from __future__ import annotations

import string
from dataclasses import replace

import numpy as np
import pytest

from textrec.charset import Charset
from textrec.data.synth import text
from textrec.data.synth.fonts import FontFace, open_font
from textrec.data.synth.profiles import BENCHMARKS, TRAIN, profile
from textrec.data.synth.sample import RenderContext, Renderer, stream_id
from textrec.preprocess import decode_image, preprocess_bytes


def _face(faces: list[FontFace], family: str) -> FontFace:
    return next(f for f in faces if f.family == family and not f.italic)


def test_text_masks(faces: list[FontFace]) -> None:
    rng = np.random.default_rng(0)
    font = open_font(_face(faces, "DejaVu Sans"), 40, rng)
    straight = text.render("Hello42", font)
    x0, y0, x1, y1 = straight.box
    assert straight.mask[y0:y1, x0:x1].max() == 255 and 25 < y1 - y0 < 45  # cap height of 40-px type
    spaced = text.render("Hello42", font, spacing_px=10.0)
    assert (spaced.box[2] - spaced.box[0]) > (x1 - x0) + 50  # 6 gaps of 10 px
    arc = text.render("Hello42", font, curve=0.4)
    assert (arc.box[3] - arc.box[1]) > 1.5 * (y1 - y0)
    with pytest.raises(ValueError, match="no ink"):
        text.render_straight("   ", font)


def test_samples_decode_with_plausible_sizes_and_labels(ctx: RenderContext) -> None:
    renderer, charset = Renderer(ctx), Charset.from_file()
    lo, hi = TRAIN.out_height
    for i in range(40):
        data, label, _ = renderer.sample(TRAIN, 3, stream_id("test"), i)
        img = decode_image(data)
        h, w, _ = img.shape
        assert lo <= h <= hi and 4 <= w <= 40 * h, (i, img.shape)
        assert img.std() > 3, i  # not a blank image
        assert charset.encode(label).reason is None and set(label) <= set(string.digits + string.ascii_letters)
        assert preprocess_bytes(data).shape == (3, 32, 100)


def test_a_sample_depends_only_on_seed_stream_and_index(ctx: RenderContext) -> None:
    a, b = Renderer(ctx), Renderer(ctx)
    for _ in range(3):
        a.sample(TRAIN, 1, 1, 99)  # state left behind by earlier samples must not matter
    assert a.sample(TRAIN, 1, 1, 7) == b.sample(TRAIN, 1, 1, 7)
    assert a.sample(TRAIN, 1, 1, 7) != a.sample(TRAIN, 1, 2, 7)
    assert a.sample(TRAIN, 1, 1, 7) != a.sample(TRAIN, 2, 1, 7)


def test_caps_only_fonts_get_upper_case_labels(ctx: RenderContext) -> None:
    caps = tuple(f for f in ctx.faces if f.caps_only)
    assert caps
    renderer = Renderer(replace(ctx, faces=caps))
    labels = [renderer.sample(TRAIN, 0, 0, i)[1] for i in range(15)]
    assert all(lab == lab.upper() for lab in labels)


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_benchmark_profiles_render(ctx: RenderContext, name: str) -> None:
    prof = profile(name)
    renderer = Renderer(ctx)
    for i in range(4):
        data, *_ = renderer.sample(prof, 0, stream_id(name), i)
        h = decode_image(data).shape[0]
        assert prof.out_height[0] <= h <= prof.out_height[1]


def test_png_output(ctx: RenderContext) -> None:
    data, *_ = Renderer(replace(ctx, image_format="png")).sample(TRAIN, 0, 0, 0)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(RuntimeError, match="unknown image format"):
        Renderer(replace(ctx, image_format="gif")).sample(TRAIN, 0, 0, 0)
    with pytest.raises(KeyError, match="unknown synthetic profile"):
        profile("synth_nope")


def test_character_centres_fall_on_their_glyphs(faces: list[FontFace]) -> None:
    """Straight and letter-spaced layouts: the mask column at each centre has ink (H and O both have ink
    at their middle column), and with wide spacing the column halfway between two centres has none."""
    font = open_font(_face(faces, "DejaVu Sans"), 40, np.random.default_rng(0))
    for tm in (text.render_straight("HOH", font), text.render_chars("HOH", font, spacing_px=30.0)):
        assert tm.centres.shape == (3, 2)
        xs = tm.centres[:, 0]
        assert np.all(np.diff(xs) > 15)
        for x, y in tm.centres:
            assert tm.mask[:, int(round(x))].max() > 127
            assert tm.box[1] <= y <= tm.box[3]
    spaced = text.render_chars("HOH", font, spacing_px=30.0)
    gaps = (spaced.centres[1:, 0] + spaced.centres[:-1, 0]) / 2
    wide = text.render_chars("HOH", font, spacing_px=60.0)
    assert all(wide.mask[:, int(g)].max() == 0 for g in (wide.centres[1:, 0] + wide.centres[:-1, 0]) / 2)
    assert len(gaps) == 2
    bold = text.embolden(spaced, 3)
    np.testing.assert_allclose(bold.centres, spaced.centres + 3)


def test_samples_carry_one_centre_per_character_in_reading_order(ctx: RenderContext) -> None:
    renderer = Renderer(ctx)
    increasing = 0
    for i in range(40):
        _, label, char_x = renderer.sample(TRAIN, 5, stream_id("centres"), i)
        assert len(char_x) == len(label)
        assert all(-0.2 < x < 1.2 for x in char_x), (label, char_x)  # clipped crops may cut a letter
        increasing += all(b > a for a, b in zip(char_x, char_x[1:], strict=False))
    assert increasing >= 36  # rotations beyond ~45 degrees are rare


def test_punctuated_labels_get_a_font_with_their_glyphs_and_benchmarks_none(ctx: RenderContext) -> None:
    lacking = next(f for f in ctx.faces if "%" in f.missing or "^" in f.missing)
    book = Renderer(replace(ctx, faces=(lacking, *ctx.faces[:40]))).book
    rng = np.random.default_rng(0)
    for _ in range(50):
        face = book.pick_covering(rng, {"sans": 1, "serif": 1, "display": 1, "monospace": 1, "handwriting": 1},
                                  "50%^")
        assert not any(c in face.missing for c in "50%^")
    punct = Renderer(replace(ctx, mix=replace(ctx.mix, punct=3.0)))  # 3/4 of the labels
    assert sum(not punct.sample(TRAIN, 0, 5, i).label.isalnum() for i in range(40)) >= 20
    plain = Renderer(ctx)  # the benchmark profiles draw without the punctuated share: the suite never changes
    for i in range(10):
        assert punct.sample(profile("synth_IC15"), 0, 5, i) == plain.sample(profile("synth_IC15"), 0, 5, i)
