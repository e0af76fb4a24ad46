import cv2
import numpy as np
import pytest

from textrec.preprocess import ImageDecodeError, preprocess_batch, preprocess_bytes, resized_width


def test_reproduces_paddleocr_inputs_exactly(parity_kit, parity_rows):
    x = preprocess_batch([p.read_bytes() for p, _ in parity_rows])
    ref = np.load(parity_kit / "inputs_mv3.npy")
    assert x.shape == (24, 3, 32, 100) and x.dtype == np.float32
    assert np.array_equal(x, ref)


def test_resized_width_rule():
    assert resized_width(32, 100) == 100
    assert resized_width(10, 30) == 96  # exact integer
    assert resized_width(456, 2836) == 100  # wide images are squeezed
    assert resized_width(100, 30) == 10  # ceil(9.6)


def test_padding_is_zero_in_normalised_space_and_bgr_order():
    img = np.zeros((32, 32, 3), np.uint8)
    img[..., 2] = 255  # red in BGR
    x = preprocess_bytes(cv2.imencode(".png", img)[1].tobytes())
    assert np.all(x[2, :, :32] == 1.0) and np.all(x[0, :, :32] == -1.0)  # channel order B, G, R
    assert np.all(x[:, :, 32:] == 0.0)


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\0" * 20])
def test_corrupt_bytes_raise_clear_error(data):
    with pytest.raises(ImageDecodeError):
        preprocess_bytes(data)
