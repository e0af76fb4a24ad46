"""The files that pass between the stages, one frozen dataclass each: its path (from ``PathsConfig``), its
fields, ``write()``/``read()`` with a schema version (``_file.Artifact``) and the metric names derived from
it (``metrics``). The stages write through them; tracking, the report, the model card and the test kits read
through them."""

from textrec.artifacts._file import Artifact, ArtifactError, ArtifactMissing, from_json, to_json
from textrec.artifacts.bench import BenchResult, LoadAverage, MachineRecord
from textrec.artifacts.data import (
           ConvertedLmdb,
           PrepareSummary,
           RenderedSplit,
           SynthSummary,
           ValidationSummary,
)
from textrec.artifacts.evaluation import (
    CalibrationBlock,
    CalibrationMeasure,
    CalibrationReport,
    EvalResult,
    StartRecord,
    WorstExample,
    forgetting,
)
from textrec.artifacts.export import BenchAccuracy, ExportParity, QuantizeSummary, Timing
from textrec.artifacts.train import TrainSummary

__all__ = ["Artifact", "ArtifactError", "ArtifactMissing", "BenchAccuracy", "BenchResult",
           "CalibrationBlock", "CalibrationMeasure", "CalibrationReport", "ConvertedLmdb", "EvalResult",
           "ExportParity", "LoadAverage", "MachineRecord", "PrepareSummary", "QuantizeSummary",
           "RenderedSplit", "StartRecord", "SynthSummary", "Timing", "TrainSummary", "ValidationSummary",
           "WorstExample", "forgetting", "from_json", "to_json"]
