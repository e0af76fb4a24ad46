"""`from textrec import Recognizer`: paths, bytes, arrays (gray, RGB, BGR), batches, the bundled default (its
ONNX file, without paddle) and the bundled files by name, an ONNX model's dictionary, and the CLI on top of it
(`textrec predict` without --model, --json)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import read_predictions
from textrec.charset import Charset
from textrec.cli import main
from textrec.evaluation.metrics import dtrb_normalize
from textrec.inference.recognizer import Recognizer, _decode
from textrec.models import pretrained
from textrec.preprocess import ImageDecodeError, normalize_resize, preprocess_bytes

IMAGE = "images/ic15_word_3.png"  # a colour image: red and blue differ
DTRB = "0123456789abcdefghijklmnopqrstuvwxyz"


def _preprocess(item, bgr: bool) -> np.ndarray:
    """What the Recognizer feeds the model for one landscape image: decoded to BGR, resized [3, 32, 100]."""
    return normalize_resize(_decode(item, bgr))


@pytest.fixture(scope="module")
def rec(parity_kit):
    """The parity kit's (weak) MobileNetV3 checkpoint: its texts per image are in predictions_mv3.tsv, each
    image read as given (PaddleOCR's predict_rec does not turn portrait crops: test_orientation.py)."""
    return Recognizer(parity_kit / "mv3/best_accuracy.pdparams", batch_size=5, rotate_portrait=False)


@pytest.fixture(scope="module")
def expected(parity_kit) -> dict[str, tuple[str, float]]:
    return {name: (text, score) for name, text, score in read_predictions(parity_kit / "predictions_mv3.tsv")}


@pytest.fixture(scope="module")
def kit_onnx(parity_kit, tmp_path_factory) -> Path:
    """The kit's MobileNetV3 checkpoint exported to ONNX (with its dictionary in the metadata)."""
    from textrec.export.bundle import export_bundle

    out = tmp_path_factory.mktemp("kit_onnx")
    return export_bundle(parity_kit / "mv3/best_accuracy.pdparams", out, Charset.from_file(None)).onnx


@pytest.fixture
def bundled_kit(parity_kit, kit_onnx, tmp_path, monkeypatch):
    """The package's bundled location pointed at a bundle of the kit's MobileNetV3: checkpoint, its ONNX
    export and the dictionary file, as `textrec bundle` writes them."""
    shutil.copy(parity_kit / "mv3/best_accuracy.pdparams", tmp_path / "mobilenet_v3.pdparams")
    shutil.copy(kit_onnx, tmp_path / "mobilenet_v3.onnx")
    (tmp_path / "mobilenet_v3.dict.txt").write_text("".join(c + "\n" for c in DTRB))
    monkeypatch.setattr(pretrained, "BUNDLED_DIR", tmp_path)
    return tmp_path


def same(a, b) -> bool:
    """Predictions equal up to float noise: a batch of another size may round the last bits differently."""
    a, b = (a, b) if isinstance(a, list) else ([a], [b])
    return len(a) == len(b) and all(x.text == y.text and abs(x.confidence - y.confidence) < 1e-6
                                    for x, y in zip(a, b, strict=True))


def tiny_onnx(path, metadata: dict[str, str] | None = None):
    """softmax over 37 classes of [N, 3, 32, W] -> [N, W, 37]: a step's most probable class is the last (36)
    where the column is bright, the blank where it is dark, so every image reads as the dictionary's last
    character, repeated. ``metadata``: as an export writes it."""
    import onnx
    from onnx import TensorProto, helper

    nodes = [helper.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=0),  # [N, W]
             helper.make_node("Unsqueeze", ["m", "last"], ["u"]),  # [N, W, 1]
             helper.make_node("Mul", ["u", "w"], ["z"]),  # [N, W, 37]
             helper.make_node("Softmax", ["z"], ["probs"], axis=-1)]
    inits = [helper.make_tensor("axes", TensorProto.INT64, [2], [1, 2]),
             helper.make_tensor("last", TensorProto.INT64, [1], [2]),
             helper.make_tensor("w", TensorProto.FLOAT, [37], [float(i) for i in range(37)])]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                           ["N", 3, 32, "W"])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", "W", 37])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    for k, v in (metadata or {}).items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, path)
    return path


def test_path_bytes_and_arrays_read_the_same(rec, parity_kit, expected) -> None:
    path = parity_kit / IMAGE
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    text, score = expected[IMAGE]
    for pred in (rec(path), rec(str(path)), rec(path.read_bytes()), rec(bgr, bgr=True), rec(bgr[:, :, ::-1])):
        assert pred.text == text and abs(pred.confidence - score) < 1e-5


def test_channel_order_as_declared_gives_the_files_input(parity_kit) -> None:
    """RGB (the default) and BGR (bgr=True) arrays become exactly the model input of the file; a BGR array
    passed as RGB does not (its red and blue are swapped)."""
    data = (parity_kit / IMAGE).read_bytes()
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    want = preprocess_bytes(data)
    assert np.array_equal(_preprocess(rgb, bgr=False), want)
    assert np.array_equal(_preprocess(bgr, bgr=True), want)
    assert not np.array_equal(_preprocess(bgr, bgr=False), want)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    assert np.array_equal(_preprocess(rgba, bgr=False), want)  # alpha dropped


def test_gray_array_reads_like_the_gray_file(rec, parity_kit) -> None:
    gray = cv2.imread(str(parity_kit / IMAGE), cv2.IMREAD_GRAYSCALE)  # [H, W]
    png = cv2.imencode(".png", gray)[1].tobytes()
    assert np.array_equal(_preprocess(gray, bgr=False), preprocess_bytes(png))
    assert np.array_equal(_preprocess(gray[:, :, None], bgr=False), preprocess_bytes(png))
    assert same(rec(gray), rec(png)) and same(rec(gray), rec(gray[:, :, None]))


def test_batch_keeps_order_across_model_calls(rec, parity_kit, parity_rows, expected) -> None:
    """24 images in batches of 5 (the fixture's batch_size), mixing paths, bytes and arrays."""
    items = []
    for i, (path, _) in enumerate(parity_rows):
        items.append([path, path.read_bytes(), cv2.imread(str(path))[:, :, ::-1]][i % 3])
    preds = rec(items)
    assert isinstance(preds, list) and len(preds) == 24
    for (path, _), pred in zip(parity_rows, preds, strict=True):
        text, score = expected[path.relative_to(parity_kit).as_posix()]
        assert pred.text == text and abs(pred.confidence - score) < 1e-5
    assert same(rec(tuple(items[:2])), preds[:2])
    assert rec([]) == []


def test_a_4d_array_is_a_batch(rec, parity_kit) -> None:
    rgb = cv2.imread(str(parity_kit / IMAGE))[:, :, ::-1]
    assert same(rec(np.stack([rgb, rgb])), [rec(rgb)] * 2)


def test_bad_images_raise_naming_the_image(rec, parity_kit, tmp_path) -> None:
    good = parity_kit / IMAGE
    with pytest.raises(ImageDecodeError, match="image 1: cannot decode image"):
        rec([good, b"\x89PNG\r\n\x1a\ntruncated"])
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ImageDecodeError, match="bad.png: cannot decode image"):
        rec(tmp_path / "bad.png")
    with pytest.raises(FileNotFoundError):
        rec(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="uint8"):
        rec(np.zeros((32, 100, 3), np.float32))
    with pytest.raises(ValueError, match="HxW, HxWx3 or HxWx4"):
        rec(np.zeros((32, 100, 2), np.uint8))
    with pytest.raises(ImageDecodeError, match="empty image array"):
        rec(np.zeros((0, 100), np.uint8))
    with pytest.raises(TypeError, match="image 0: expected a file path"):
        rec([3.5])


def test_from_engine_batches_preprocessed_inputs(rec) -> None:
    """What the MLflow pyfunc uses: an engine built elsewhere, inputs already preprocessed."""
    calls = []

    def engine(x):
        calls.append(len(x))
        return rec.engine(x)

    wrapped = Recognizer.from_engine(engine, rec.charset, batch_size=4)
    x = np.stack([_preprocess(np.full((32, 64), v, np.uint8), bgr=False) for v in range(0, 250, 25)])
    assert same(wrapped.predict_inputs(x), rec.predict_inputs(x))
    assert calls == [4, 4, 2]
    with pytest.raises(ValueError, match="batch_size"):
        Recognizer.from_engine(engine, rec.charset, batch_size=0)


def test_default_is_the_bundled_onnx_and_the_checkpoint_is_by_name(bundled_kit, parity_kit, parity_rows,
                                                                   expected) -> None:
    images = [path for path, _ in parity_rows]
    default = Recognizer()
    assert default.model == bundled_kit / "mobilenet_v3.onnx" and default.engine.kind == "onnx"
    assert Recognizer("bundled").model == default.model
    ckpt = Recognizer("bundled:pdparams", tune_runtime=False)
    assert ckpt.model == bundled_kit / "mobilenet_v3.pdparams" and ckpt.engine.kind == "paddle"
    default.rotate_portrait = ckpt.rotate_portrait = False  # as predict_rec read them: each image as given
    a, b = default(images), ckpt(images)
    for path, x, y in zip(images, a, b, strict=True):  # the kit's texts (PaddleOCR's), from either file
        text, score = expected[path.relative_to(parity_kit).as_posix()]
        assert x.text == y.text == text and abs(x.confidence - score) < 1e-4 and abs(y.confidence - score) < 1e-5


def test_bundled_names_that_are_not_there_or_not_names(bundled_kit, tmp_path, monkeypatch) -> None:
    with pytest.raises(pretrained.PretrainedError, match="no INT8 model .* did not pass the quantize gates"):
        Recognizer("bundled:int8")
    with pytest.raises(ValueError, match="'bundled:fp16': unknown bundled model; use bundled"):
        Recognizer("bundled:fp16")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="model not found: bundled"):
        Recognizer(Path("bundled"))  # a Path is a path, never a name
    (bundled_kit / "mobilenet_v3.onnx").unlink()  # a bundle made before ONNX shipped
    with pytest.raises(pretrained.PretrainedError, match="no ONNX model .* use --model bundled:pdparams"):
        Recognizer()


def test_the_bundles_dictionary_file_decodes_its_model(parity_kit, tmp_path, monkeypatch) -> None:
    """The bundle's `<backbone>.dict.txt` is the dictionary of a bundled model: a bundle for another
    dictionary reads with it, no code change. A model file given by path reads with the `<stem>.dict.txt`
    beside it too; without one, with the built-in 0-9a-z."""
    tiny_onnx(tmp_path / "mobilenet_v3.onnx")
    (tmp_path / "mobilenet_v3.dict.txt").write_text("".join(c + "\n" for c in reversed(DTRB)))
    monkeypatch.setattr(pretrained, "BUNDLED_DIR", tmp_path)
    image = parity_kit / IMAGE
    assert set(Recognizer()(image).text) == {"0"}  # class 36: the bundle's last character
    assert set(Recognizer(tmp_path / "mobilenet_v3.onnx")(image).text) == {"0"}  # the dictionary beside it
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "mobilenet_v3.onnx").write_bytes((tmp_path / "mobilenet_v3.onnx").read_bytes())
    assert set(Recognizer(alone / "mobilenet_v3.onnx")(image).text) == {"z"}  # the built-in 0-9a-z
    bundled_dict = tmp_path / "mobilenet_v3.dict.txt"
    assert set(Recognizer(tmp_path / "mobilenet_v3.onnx", dictionary=bundled_dict)(image).text) == {"0"}


def test_an_onnx_export_refuses_another_dictionary(parity_kit, tmp_path, capsys) -> None:
    model = tiny_onnx(tmp_path / "m.onnx", {"textrec.characters": DTRB})
    (tmp_path / "reversed.txt").write_text("".join(c + "\n" for c in reversed(DTRB)))
    assert set(Recognizer(model)(parity_kit / IMAGE).text) == {"z"}  # the built-in dictionary is the exported one
    with pytest.raises(ValueError, match=r"m.onnx was exported for a 36-character dictionary \('0123456789abcdefghijklmnopqrstuvwxyz'\)"
                                         r" but .*reversed.txt has 36"):
        Recognizer(model, dictionary=tmp_path / "reversed.txt")
    assert main(["predict", str(parity_kit / IMAGE), "--model", str(model), "--dict", str(tmp_path / "reversed.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pass the model's own dictionary file" in err


def test_missing_bundled_model_says_what_to_do(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(pretrained, "BUNDLED_DIR", tmp_path)
    with pytest.raises(pretrained.PretrainedError) as e:
        Recognizer()
    msg = str(e.value)
    assert str(tmp_path / "mobilenet_v3.onnx") in msg
    assert "Recognizer('model.onnx'" in msg and "--model" in msg and "textrec bundle" in msg


ONNX_API = """
import sys
import textrec
assert not {"paddle", "onnxruntime", "cv2"} & set(sys.modules), "import textrec is not light"
from textrec import Prediction, Recognizer
rec = Recognizer(sys.argv[2])
one = rec(sys.argv[1])
assert isinstance(one, Prediction), one
two = rec([sys.argv[1], open(sys.argv[1], "rb").read()])
assert [p.text for p in two] == [one.text] * 2, two
assert "paddle" not in sys.modules, "an ONNX prediction imported paddle"
print(one.text)
"""


def test_onnx_model_does_not_import_paddle(parity_kit, tmp_path) -> None:
    model = tiny_onnx(tmp_path / "tiny.onnx")
    proc = subprocess.run([sys.executable, "-c", ONNX_API, str(parity_kit / IMAGE), str(model)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip()  # the tiny model's argmax is the last class at every step: one character


def test_cli_predict_without_model_uses_the_bundled_one(parity_kit, bundled_kit, expected, capsys) -> None:
    assert main(["predict", str(parity_kit / IMAGE)]) == 0
    path, text, score = capsys.readouterr().out.strip().split("\t")
    assert path == str(parity_kit / IMAGE) and text == expected[IMAGE][0]
    assert abs(float(score) - expected[IMAGE][1]) < 1e-4  # ONNX vs PaddleOCR's eager output


def test_cli_evaluate_without_model_uses_the_bundled_one(bundled_kit, parity_rows, tmp_path, capsys) -> None:
    from textrec.data.lmdb_io import LmdbWriter

    with LmdbWriter(tmp_path / "data" / "kit") as w:
        for path, label in parity_rows:
            w.add(path.read_bytes(), label)
    assert main(["evaluate", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "eval.json")]) == 0
    assert json.loads((tmp_path / "eval.json").read_text())["datasets"][0]["accuracy"] == 1 / 24  # as with --model


def test_cli_without_model_or_bundled_one_is_a_clear_error(parity_kit, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(pretrained, "BUNDLED_DIR", tmp_path)
    assert main(["predict", str(parity_kit / IMAGE)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("textrec predict: error: no bundled model") and "--model MODEL" in err


def test_cli_predict_json_one_object_per_image(parity_kit, tmp_path, expected, capsys) -> None:
    shutil.copy(parity_kit / IMAGE, tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    rc = main(["predict", str(tmp_path), "--json", "--model", str(parity_kit / "mv3/best_accuracy.pdparams")])
    out, err = capsys.readouterr()
    assert rc == 1 and "1 of 2 image(s)" in err
    a, b = (json.loads(line) for line in out.splitlines())
    assert a["path"] == str(tmp_path / "a.png") and a["text"] == expected[IMAGE][0]
    assert abs(a["confidence"] - expected[IMAGE][1]) < 1e-5 and set(a) == {"path", "text", "confidence"}
    assert b["path"] == str(tmp_path / "b.png") and b["error"].startswith("cannot decode image")
    assert set(b) == {"path", "error"}


BUNDLED_API = """
import sys
from textrec import Recognizer
rec = Recognizer()
print(repr(rec), rec(sys.argv[1]).text)
assert "paddle" not in sys.modules, "the bundled default imported paddle"
"""


def test_the_real_bundled_model_reads_words(parity_kit, parity_rows, capsys) -> None:
    """The model shipped in the package (real-dev IIIT5K-train 88%, IC15-train 53%) reads at least half of the
    kit's 24 images (8 IIIT5K, 8 IC15, 8 synthetic) with no --model, from its ONNX file without importing
    paddle, and reads what its checkpoint reads."""
    if not (pretrained.BUNDLED_DIR / "mobilenet_v3.onnx").is_file():
        pytest.skip("no bundled ONNX model in this checkout (`textrec bundle` after the pretrain profile)")
    assert main(["predict", str(parity_kit / "images"), "--json"]) == 0
    got = {json.loads(line)["path"]: json.loads(line)["text"] for line in capsys.readouterr().out.splitlines()}
    right = sum(dtrb_normalize(got[str(path)]) == dtrb_normalize(label) for path, label in parity_rows)
    assert right >= 12, f"{right} of 24 read correctly"
    ckpt = Recognizer("bundled:pdparams", tune_runtime=False)([path for path, _ in parity_rows])
    assert [got[str(path)] for path, _ in parity_rows] == [p.text for p in ckpt]

    proc = subprocess.run([sys.executable, "-c", BUNDLED_API, str(parity_rows[0][0])], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == [f"Recognizer('{pretrained.BUNDLED_DIR / 'mobilenet_v3.onnx'}')",
                                   got[str(parity_rows[0][0])]]
