import math

import cv2
import numpy as np
import pytest

from textrec.evaluation.styles import (
    attribute_orders,
    bin_of,
    bin_order,
    case_style,
    label_statistics,
    measure_image,
    punctuation,
    style_bins,
)


@pytest.mark.parametrize(("label", "style"), [
    ("exit", "lower"), ("1st", "lower"), ("EXIT", "upper"), ("A", "upper"), ("CHILDREN'S", "upper"),
    ("Exit", "title"), ("Car Park", "title"), ("O'Neil", "title"), ("It's", "title"), ("Top-up", "title"),
    ("iPhone", "mixed"), ("McDonald", "mixed"),
    ("$4.00", "no_letters"), ("", "no_letters"),
])
def test_case_style(label, style):
    assert case_style(label) == style


def test_punctuation_keeps_what_is_neither_alphanumeric_nor_space():
    assert punctuation("$4.00") == "$."
    assert punctuation("Genaxis Theatre") == ""
    assert punctuation("www.tk-hair.com") == ".-."


def test_bins_are_half_open_and_integer_bins_read_inclusively():
    assert [bin_of(v, (16, 24), integer=True) for v in (15, 16, 23, 24)] == ["<16", "16-23", "16-23", ">=24"]
    assert bin_of(5, (5, 6, 8), integer=True) == "5"
    assert [bin_of(v, (0.2, 0.3)) for v in (0.1, 0.2, 0.29, 0.3)] == ["<0.2", "0.2-0.3", "0.2-0.3", ">=0.3"]
    assert bin_of(math.nan, (1.0,)) == "n/a"
    assert bin_order((3, 5, 7), integer=True) == ["<3", "3-4", "5-6", ">=7", "n/a"]


def _word(angle: float = 0.0, blur: int = 0, ink: int = 0, paper: int = 255) -> np.ndarray:
    """A BGR crop [96, 320, 3] of a word drawn in ``ink`` on ``paper``, rotated by ``angle`` degrees
    (counter-clockwise, so the text rises to the right) and box-blurred by ``blur`` px."""
    img = np.full((96, 320, 3), paper, np.uint8)
    cv2.putText(img, "HORIZON", (40, 62), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (ink, ink, ink), 3)
    if angle:
        m = cv2.getRotationMatrix2D((160, 48), angle, 1.0)
        img = cv2.warpAffine(img, m, (320, 96), borderValue=(paper, paper, paper))
    return cv2.blur(img, (blur, blur)) if blur else img


def test_skew_follows_the_rotation_of_the_ink():
    assert abs(measure_image(_word()).skew) < 2
    assert measure_image(_word(angle=10)).skew == pytest.approx(10, abs=2.5)
    assert measure_image(_word(angle=-20)).skew == pytest.approx(-20, abs=2.5)
    # light ink on a dark ground is found as ink too
    assert measure_image(_word(angle=10, ink=230, paper=20)).skew == pytest.approx(10, abs=2.5)


def test_blur_lowers_sharpness_and_faint_ink_lowers_contrast():
    sharp, blurred = measure_image(_word()), measure_image(_word(blur=9))
    assert blurred.sharpness < sharp.sharpness / 4
    assert measure_image(_word(ink=200, paper=230)).contrast < sharp.contrast / 3


def test_style_bins_of_a_crop_and_its_label():
    m = measure_image(_word())
    bins = style_bins(m, " $4.00 ")
    assert bins["height_px"] == ">=64" and bins["orientation"] == "landscape"
    assert bins["case"] == "no_letters" and bins["punctuation"] == "has punctuation"
    assert bins["composition"] == "digits" and bins["length"] == "5-6"
    # 320 / 96 / 5 characters = 0.67 height per character
    assert bins["width_per_char"] == "0.6-0.8"
    for attribute, value in bins.items():
        assert value in attribute_orders()[attribute]


def test_label_statistics():
    stats = label_statistics(["EXIT", "Exit", "exit", "$4.00", "no.1", "It's"])
    assert stats["labels"] == 6
    assert stats["case"]["upper"]["count"] == 1 and stats["case"]["lower"]["count"] == 2
    assert stats["case"]["title"]["count"] == 2 and stats["case"]["no_letters"]["share"] == round(1 / 6, 4)
    assert stats["with_digits"] == round(2 / 6, 4) and stats["digits_only"] == round(1 / 6, 4)
    assert stats["with_punctuation"] == 0.5
    assert stats["punctuation_characters"] == {".": 2, "$": 1, "'": 1}
