from pathlib import Path

import pytest

from textrec.charset import Charset, CharsetError


def test_default_dictionary_has_36_chars_and_blank_at_zero():
    cs = Charset.from_file()
    assert cs.characters == tuple("0123456789abcdefghijklmnopqrstuvwxyz")
    assert cs.num_classes == 37
    assert cs.table()[0] == "blank" and cs.table()[1] == "0" and cs.table()[36] == "z"
    assert cs.lowercase is True


def test_encode_lowercases_and_drops_unknown_like_dtrb():
    cs = Charset.from_file()
    r = cs.encode("CHILDREN'S")
    assert r.text == "childrens" and r.reason is None
    assert r.ids == tuple(cs.characters.index(c) + 1 for c in "childrens")
    assert cs.encode("$500").text == "500"
    assert cs.decode_ids([0, *cs.encode("Genaxis Theatre").ids, 0]) == "genaxistheatre"


def test_encode_rejects_empty_and_too_long():
    cs = Charset.from_file()
    assert cs.encode("?!").reason == "empty"
    assert cs.encode("").reason == "empty"
    assert cs.encode("a" * 25).reason is None
    # PaddleOCR judges the length on the raw label, before dropping characters
    assert cs.encode("a" * 26).reason == "too_long"
    assert cs.encode("-" * 30).reason == "too_long"


def test_switches_for_case_sensitive_dictionaries(tmp_path: Path):
    d = tmp_path / "dict.txt"
    d.write_text("a\nb\nA\nB\n")
    cs = Charset.from_file(d)
    assert cs.lowercase is False  # a dictionary with upper case keeps case
    assert cs.encode("aB").ids == (1, 4)
    strict = Charset.from_file(d, drop_unknown=False)
    assert strict.encode("abc").reason == "unknown_chars"
    assert Charset.from_file(d, lowercase=True).encode("AB").text == "ab"


@pytest.mark.parametrize(("content", "message"), [
    ("a\nb\na\n", "duplicate"),
    ("a\n\nb\n", "empty line"),
    ("a\nab\n", "exactly one character"),
    ("", "empty"),
])
def test_bad_dictionaries_are_rejected(tmp_path: Path, content: str, message: str):
    d = tmp_path / "dict.txt"
    d.write_text(content)
    with pytest.raises(CharsetError, match=message):
        Charset.from_file(d)


def test_crlf_and_bom_dictionary(tmp_path: Path):
    d = tmp_path / "dict.txt"
    d.write_bytes(b"\xef\xbb\xbfx\r\ny\r\n")
    assert Charset.from_file(d).characters == ("x", "y")


def test_builtin_en_dictionary_is_paddleocr_en_dict():
    cs = Charset.from_file("builtin:en")
    # PaddleOCR's ppocr/utils/en_dict.txt: the 95 printable ASCII characters in its order, space last
    assert len(cs.characters) == 95 and set(cs.characters) == {chr(c) for c in range(32, 127)}
    assert cs.characters[:11] == tuple("0123456789:") and cs.characters[-2:] == ("/", " ")
    assert cs.characters.index("A") == 17 and cs.characters.index("a") == 49
    assert cs.lowercase is False and cs.num_classes == 96
    assert cs.encode("NOTHING?").text == "NOTHING?" and cs.encode("$500").text == "$500"


def test_unknown_builtin_and_unreadable_files_are_one_line(tmp_path: Path):
    with pytest.raises(CharsetError, match="unknown built-in dictionary 'builtin:fr'"):
        Charset.from_file("builtin:fr")
    with pytest.raises(CharsetError, match="cannot read the dictionary file"):
        Charset.from_file(tmp_path / "missing.txt")


def test_duplicate_names_the_file_and_both_lines(tmp_path: Path):
    d = tmp_path / "dict.txt"
    d.write_text("a\nb\nc\nb\n")
    with pytest.raises(CharsetError, match=r"dict.txt line 4: duplicate character 'b' \(first on line 2\)"):
        Charset.from_file(d)
