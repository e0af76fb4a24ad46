from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import pytest

from textrec.tracking.images import (
    ImageInputError,
    ImageLimits,
    decode_checked,
    images_from_input,
    preprocess_items,
    to_image_bytes,
)


def _png(h: int, w: int) -> bytes:
    import cv2

    img = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    return cv2.imencode(".png", img)[1].tobytes()


def test_bytes_base64_data_uri_and_opted_in_path_give_the_same_bytes(tmp_path):
    png = _png(20, 60)
    f = tmp_path / "word.png"
    f.write_bytes(png)
    b64 = base64.b64encode(png).decode()
    lim = ImageLimits(allow_paths=True)
    for item in (png, bytearray(png), b64, f"data:image/png;base64,{b64}", str(f), b64[:40] + "\n" + b64[40:]):
        assert to_image_bytes(item, lim) == png


def test_paths_are_not_read_by_default(tmp_path):
    """Issue 10: "/etc/passwd" was read and answered "cannot decode image (1294 bytes)", which told any
    client that the file exists and its size. Now a path is just a string that is not base64, whether the
    file exists or not."""
    f = tmp_path / "word.png"
    f.write_bytes(_png(20, 60))
    assert ImageLimits().allow_paths is False
    with pytest.raises(ImageInputError, match="not valid base64") as e:
        to_image_bytes(str(f), ImageLimits())
    assert "file paths are not read" in str(e.value)
    messages = set()
    for path in ("/etc/passwd", "/etc/passwx", "/etc/hostname", "/etc/hostnamx"):
        with pytest.raises(ImageInputError) as e:
            to_image_bytes(path, ImageLimits())
        messages.add(str(e.value).replace(str(len(path)), "N"))
    assert len(messages) == 1 and "cannot decode" not in messages.pop()


def test_paths_read_only_when_allowed(tmp_path):
    with pytest.raises(ImageInputError, match="neither a readable file nor valid base64"):
        to_image_bytes(str(tmp_path / "missing.png"), ImageLimits(allow_paths=True))


@pytest.mark.parametrize("item, message", [
    (b"", "empty image"),
    ("", "empty image"),
    (None, "got NoneType"),
    (3.5, "got float"),
    ("data:image/png,abc", "data URI"),
])
def test_bad_items(item, message):
    with pytest.raises(ImageInputError, match=message):
        to_image_bytes(item, ImageLimits())


def test_byte_limit_is_checked_before_base64_decoding():
    png = _png(40, 120)
    b64 = base64.b64encode(png).decode()
    with pytest.raises(ImageInputError, match=f"about {len(b64) // 4 * 3} bytes is larger than the limit"):
        to_image_bytes(b64, ImageLimits(max_bytes=len(png) // 2))
    with pytest.raises(ImageInputError, match=f"{len(png)} bytes, more than the limit"):
        to_image_bytes(base64.b64encode(png).decode(), ImageLimits(max_bytes=len(png) - 1))
    assert to_image_bytes(png, ImageLimits(max_bytes=len(png))) == png


def test_pixel_limit_and_corrupt_images():
    png = _png(100, 300)
    with pytest.raises(ImageInputError, match="100 pixels is larger than the limit|300x100 pixels"):
        decode_checked(png, ImageLimits(max_pixels=299 * 100))
    assert decode_checked(png, ImageLimits(max_pixels=300 * 100)).shape == (100, 300, 3)
    with pytest.raises(ImageInputError, match="cannot decode"):
        decode_checked(png[: len(png) // 3], ImageLimits())  # truncated
    with pytest.raises(ImageInputError, match="cannot decode"):
        decode_checked(b"GIF89a not really", ImageLimits())


def test_input_containers():
    png = _png(20, 60)
    assert images_from_input(pd.DataFrame({"image": [png, png]})) == [png, png]
    assert images_from_input(pd.DataFrame({"whatever": [png]})) == [png]
    assert images_from_input({"image": np.array(["a", "b"])}) == ["a", "b"]
    assert images_from_input(["a"]) == ["a"] and images_from_input("a") == ["a"]
    with pytest.raises(ImageInputError, match="expected a column 'image'"):
        images_from_input(pd.DataFrame({"a": [1], "b": [2]}))


def test_a_missing_image_field_is_named_without_echoing_the_request():
    b64 = base64.b64encode(_png(20, 60)).decode()
    with pytest.raises(ImageInputError, match="no field 'image' in the request") as e:
        images_from_input(pd.DataFrame())  # what the served model gets when the signature dropped "img"
    assert b64[:20] not in str(e.value)
    with pytest.raises(ImageInputError, match="expected the key 'image'") as e:
        images_from_input({"img": [b64], b64: [b64]})  # even a field name is cut short
    assert b64 not in str(e.value) and len(str(e.value)) < 200


def test_preprocess_items_matches_the_kit_inputs(parity_rows, parity_kit):
    """Serving preprocessing == PaddleOCR's eval preprocessing, bit for bit, whatever the input form."""
    want = np.load(parity_kit / "inputs_mv3.npy")  # [24, 3, 32, 100]
    items = [p.read_bytes() if i % 3 == 0 else base64.b64encode(p.read_bytes()).decode() if i % 3 == 1 else str(p)
             for i, (p, _) in enumerate(parity_rows)]
    got = preprocess_items(items, ImageLimits(allow_paths=True))
    assert got.shape == want.shape and np.array_equal(got, want)


def test_preprocess_items_names_the_bad_row_and_counts(parity_rows):
    good = parity_rows[0][0].read_bytes()
    with pytest.raises(ImageInputError, match="image 2: cannot decode"):
        preprocess_items([good, good, b"\x89PNG broken", good], ImageLimits())
    with pytest.raises(ImageInputError, match="no images"):
        preprocess_items([], ImageLimits())
    with pytest.raises(ImageInputError, match="3 images in one request"):
        preprocess_items([good] * 3, ImageLimits(max_images=2))
