"""Training augmentation (data/augment.py): each transform, determinism in (seed, epoch, index), character
centres kept true, the dataset itself (validation, evaluation) untouched, unknown names refused at load."""

from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest

from tests.training.wordimages import render_word
from textrec.charset import Charset
from textrec.config import ConfigError, parse_params
from textrec.config.train import AugmentConfig, AugmentName
from textrec.data.augment import TRANSFORMS, Augmenter, EpochView, crop, perspective
from textrec.data.dataset import LmdbTextDataset
from textrec.data.lmdb_io import LmdbWriter
from textrec.preprocess import decode_image, resized_width

ALL = tuple(AugmentConfig(name, 1.0) for name in TRANSFORMS)


@pytest.fixture(scope="module")
def word() -> np.ndarray:
    png = render_word("street", np.random.default_rng(5))
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)


def test_every_name_the_config_allows_has_a_transform():
    import typing

    assert set(typing.get_args(AugmentName)) == set(TRANSFORMS)


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_each_transform_changes_the_image_and_keeps_its_kind(name, word):
    cx = np.linspace(0.1, 0.9, 6, dtype=np.float32)
    out, out_cx = TRANSFORMS[name](word, cx, np.random.default_rng(3))
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3 and min(out.shape[:2]) >= 2
    assert out.shape != word.shape or not np.array_equal(out, word)
    assert out_cx is not None and out_cx.shape == cx.shape and np.all(np.diff(out_cx) > 0)  # order kept
    again, _ = TRANSFORMS[name](word, cx, np.random.default_rng(3))
    assert np.array_equal(out, again)  # a function of its generator only


def test_same_seed_epoch_index_same_image_else_different(word):
    aug = Augmenter(ALL, seed=7)
    a, ca = aug(word, None, epoch=0, index=3)
    b, cb = aug(word, None, epoch=0, index=3)
    assert np.array_equal(a, b) and ca is cb is None
    others = (aug(word, None, 1, 3)[0], aug(word, None, 0, 4)[0], Augmenter(ALL, seed=8)(word, None, 0, 3)[0])
    for other in others:  # another epoch, another sample, another seed
        assert a.shape != other.shape or not np.array_equal(a, other)
    # nothing with p 0; a transform's draws do not depend on the transforms listed before it
    assert np.array_equal(Augmenter((AugmentConfig("blur", 0.0),), 7)(word, None, 0, 3)[0], word)
    only = Augmenter((AugmentConfig("noise", 0.0), AugmentConfig("jpeg", 1.0)), 7)(word, None, 0, 3)[0]
    other = Augmenter((AugmentConfig("blur", 0.0), AugmentConfig("jpeg", 1.0)), 7)(word, None, 0, 3)[0]
    assert np.array_equal(only, other)


def test_geometric_transforms_move_the_character_centres_with_the_glyphs():
    # a black image with white columns at the centres: where the columns land is where the centres must
    img = np.zeros((32, 200, 3), np.uint8)
    cx = np.array([0.2, 0.5, 0.8], np.float32)
    for x in (cx * 200).astype(int):
        img[:, x - 1:x + 2] = 255
    for fn in (crop, perspective):
        for seed in range(5):
            out, out_cx = fn(img, cx, np.random.default_rng(seed))
            row = out[out.shape[0] // 2, :, 0].astype(float)
            for c in out_cx:
                x = int(round(c * out.shape[1]))
                assert row[max(x - 2, 0):x + 3].max() > 128, (fn.__name__, seed, c)


def _db(tmp_path):
    rng = np.random.default_rng(4)
    with LmdbWriter(tmp_path / "db") as w:
        for word in ("alpha", "beta", "gamma"):
            w.add(render_word(word, rng), word, tuple(np.linspace(0.15, 0.85, len(word))))
    return LmdbTextDataset(tmp_path / "db", Charset.from_file())


def test_epoch_view_augments_training_items_and_leaves_the_dataset_alone(tmp_path):
    ds = _db(tmp_path)
    plain = [ds[i] for i in range(len(ds))]
    aug = Augmenter((AugmentConfig("crop", 1.0), AugmentConfig("contrast", 1.0)), seed=1)
    view0, view1 = EpochView(ds, aug, 0), EpochView(ds, aug, 1)
    assert len(view0) == len(ds)
    for i in range(len(ds)):
        x, ids, n, pos = view0[i]
        assert x.shape == plain[i][0].shape and not np.array_equal(x, plain[i][0])
        assert np.array_equal(ids, plain[i][1]) and n == plain[i][2]  # labels untouched
        assert np.array_equal(x, view0[i][0]) and not np.array_equal(x, view1[i][0])
        assert np.isfinite(pos[:n]).all() and not np.allclose(pos[:n], plain[i][3][:n])  # moved by the crop
        assert np.array_equal(ds[i][0], plain[i][0])  # what validation and evaluation read
    # the same centres as the crop computes, in fractions of the padded input
    img_bytes, _, centres = ds._read(0)
    out, mapped = aug(decode_image(img_bytes), centres, 0, 0)
    frac = resized_width(*out.shape[:2]) / 100
    np.testing.assert_allclose(view0[0][3][:5], mapped * frac, rtol=1e-6)
    clone = pickle.loads(pickle.dumps(view0))  # DataLoader workers get a copy
    assert np.array_equal(clone[1][0], view0[1][0])
    ds.close()
    clone.dataset.close()


def test_augment_is_a_typed_list_and_unknown_names_fail_at_load():
    p = parse_params({"train": {"mobilenet_v3": {"augment": [{"name": "blur", "p": 0.3}, {"name": "crop"}]}}})
    assert p.train.mobilenet_v3.augment == (AugmentConfig("blur", 0.3), AugmentConfig("crop", 0.5))
    assert parse_params({}).train.mobilenet_v3.augment == ()
    for bad, message in [
        ([{"name": "blurr", "p": 0.3}], r"params.train.mobilenet_v3.augment\[0\].name: 'blurr' is not one"),
        ([{"name": "blur", "p": 1.5}], r"augment\[0\].p: 1.5 is out of range"),
        ([{"p": 0.5}], "missing required key 'name'"),
        ([{"name": "blur"}, {"name": "blur"}], "augment lists a transform twice"),
        (True, "expected a list"),  # the old boolean
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_params({"train": {"mobilenet_v3": {"augment": bad}}})
