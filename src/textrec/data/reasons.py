"""Why a sample is not used: one vocabulary for conversion (the manifests' ``status``), training (the
rejection reports) and evaluation (the rejected records). The label reasons are ``Charset.encode``'s; a
record's reason comes from ``textrec.data.records.check_record``.

    from textrec.data.reasons import REASONS, Reason
"""

from __future__ import annotations

from typing import Literal, get_args

from textrec.charset import LabelReason

SourceReason = Literal[
    "unparseable_line",  # a label file's line without an image path and a label (conversion)
    "missing_file",  # the image file a label line names does not exist (conversion)
]
RecordReason = Literal[
    "missing_image",  # an LMDB record without its image-%09d
    "missing_label",  # an LMDB record without its label-%09d
    "label_not_utf8",
    "undecodable",  # image bytes that do not decode (textrec.preprocess.decode_image)
]
ScoreReason = Literal[
    "unscorable",  # evaluation only: a record training uses whose label has no letter or digit, the only
    # characters DTRB's accuracy compares (textrec.evaluation.metrics.dtrb_normalize)
]
Reason = SourceReason | RecordReason | LabelReason | ScoreReason

RECORD_REASONS: tuple[str, ...] = get_args(RecordReason) + get_args(LabelReason)  # what an LMDB record can be
REASONS: tuple[str, ...] = get_args(SourceReason) + RECORD_REASONS + get_args(ScoreReason)  # in report order
