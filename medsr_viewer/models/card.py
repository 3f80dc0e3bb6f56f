"""Model cards: the JSON that travels inside every model archive and says how to use it.

A model is data, not a code path: the card carries everything the GUI and CLI need (task,
scale, channels, intensity normalisation, tile size, labels, provenance and scores). Field
names follow MONAI Bundle's ``network_data_format`` where it fits; :meth:`ModelCard.to_json`
also writes that block so MONAI-aware tools can read the I/O contract.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from medsr_viewer.core.strict_json import json_safe
from medsr_viewer.models.card_schema import CardSchemaError, parse_card_json, validate_card_dict

#: Tasks a card may declare.
TASKS = ("super_resolution", "enhance", "segment", "classify", "through_plane_sr",
         "segment_instances")
#: Intensity normalisation modes (see :class:`Normalisation`).
NORM_MODES = ("percentile", "window", "none")
#: How the weights are stored in the file; float16 halves the file and is cast back on load.
WEIGHT_DTYPES = ("float32", "float16")
#: File name of the card inside a model archive.
CARD_FILENAME = "medsr_card.json"
#: Seconds one tile may take before a run is stopped (a card may set its own).
DEFAULT_TILE_TIMEOUT_S = 120.0


class CardError(ValueError):
    """A model card is missing, malformed or does not fit the request."""


@dataclass(frozen=True)
class Normalisation:
    """How raw voxel values map to model input ``[0, 1]`` and back.

    ``percentile``: ``low``/``high`` are percentiles of the whole volume (e.g. 0.5, 99.5).
    ``window``: ``low``/``high`` are fixed raw values (e.g. a HU window).
    ``none``: values go to the model unchanged.
    """

    mode: str = "percentile"
    low: float = 0.0
    high: float = 100.0
    clip: bool = False


@dataclass(frozen=True)
class Label:
    """One output class of a segmentation model."""

    value: int
    name: str
    color: tuple[int, int, int] = (255, 0, 0)


@dataclass(frozen=True)
class ModelCard:
    """Everything the application needs to know to run and describe a model."""

    name: str
    task: str
    version: str = "0.1.0"
    description: str = ""
    architecture: str = ""
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    scale: int = 1
    in_channels: int = 1
    out_channels: int = 1
    normalisation: Normalisation = field(default_factory=Normalisation)
    modalities: tuple[str, ...] = ()
    spacing_range_mm: tuple[float, float] | None = None
    labels: tuple[Label, ...] = ()
    #: Side of the square model input of a ``classify`` model (slices are resized to it after
    #: the normalisation, see :mod:`medsr_viewer.models.classification`); 0: not fixed.
    input_size: int = 0
    tile_size: int = 256
    tile_overlap: int = 16
    fp16: bool = False
    weights_dtype: str = "float32"
    tile_timeout_s: float = DEFAULT_TILE_TIMEOUT_S
    training: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    #: Execution paths measured on this model (``validated_precisions``: reduced precisions
    #: within 0.02 dB of fp32, see :mod:`medsr_viewer.models.execution`; ``checks``: the
    #: measurements). Empty: fp32 only (and fp16 on CUDA when ``fp16`` is set).
    execution: dict[str, Any] = field(default_factory=dict)
    #: ``segment_instances``: the post-processing of the class probabilities into one id per
    #: object (:class:`medsr_viewer.core.labels.instances.InstanceParams` fields).
    instances: dict[str, Any] = field(default_factory=dict)
    licence: str = ""
    sha256: str = ""

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise CardError(f"unknown task {self.task!r}; expected one of {', '.join(TASKS)}")
        if self.normalisation.mode not in NORM_MODES:
            raise CardError(f"unknown normalisation mode {self.normalisation.mode!r}")
        if self.scale < 1 or (self.task != "super_resolution" and self.scale != 1):
            raise CardError(f"scale {self.scale} does not fit task {self.task!r}")
        if self.weights_dtype not in WEIGHT_DTYPES:
            raise CardError(f"unknown weights_dtype {self.weights_dtype!r}; expected one of "
                            f"{', '.join(WEIGHT_DTYPES)}")
        if self.in_channels < 1 or self.out_channels < 1:
            raise CardError("in_channels and out_channels must be positive")
        if self.tile_size < 8 or not 0 <= self.tile_overlap < self.tile_size // 2:
            raise CardError(f"bad tile size/overlap {self.tile_size}/{self.tile_overlap}")
        if not self.tile_timeout_s > 0:
            raise CardError(f"bad tile_timeout_s {self.tile_timeout_s}")
        if self.task == "classify" and self.labels and (
                sorted(lab.value for lab in self.labels) != list(range(self.out_channels))):
            raise CardError(f"a classify card needs one label per output (values 0.."
                            f"{self.out_channels - 1}), got {len(self.labels)} label(s)")
        norm = self.normalisation
        if norm.mode == "percentile" and not 0.0 <= norm.low < norm.high <= 100.0:
            raise CardError(f"percentile normalisation needs 0 <= low < high <= 100, "
                            f"got {norm.low} .. {norm.high}")
        if norm.mode == "window" and not norm.low < norm.high:
            raise CardError(f"window normalisation needs low < high, got {norm.low} .. {norm.high}")

    def interval_factor(self, level: float) -> tuple[str, float] | None:
        """``(spread name, factor)`` of the card's calibrated intervals at ``level`` (e.g. 0.9),
        or ``None`` when the model was not calibrated for that level."""
        block = self.calibration
        if not block or abs(float(block.get("level", -1)) - level) > 1e-6:
            return None
        return str(block["spread"]), float(block["factor"])

    @property
    def class_names(self) -> tuple[str, ...]:
        """Names of a ``classify`` model's outputs in output order (``class i`` when unnamed)."""
        names = {lab.value: lab.name for lab in self.labels}
        return tuple(names.get(i, f"class {i}") for i in range(self.out_channels))

    @property
    def validated_precisions(self) -> tuple[str, ...]:
        """Reduced precisions (``bf16``, ``fp16``) this model was validated in."""
        return tuple(str(p) for p in self.execution.get("validated_precisions", ()))

    @property
    def perceptual(self) -> bool:
        """Whether the model was trained adversarially (sharper, may invent detail)."""
        return str(self.training.get("variant", "")).startswith("perceptual")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form of the card, with a MONAI-style ``network_data_format`` block."""
        data = asdict(self)
        data["network_data_format"] = {
            "inputs": {
                "image": {
                    "type": "image",
                    "num_channels": self.in_channels,
                    "dtype": "float32",
                    "value_range": [0, 1] if self.normalisation.mode != "none" else [],
                    "is_patch_data": True,
                }
            },
            "outputs": {
                "pred": {
                    "type": ("probabilities" if self.task.startswith("segment")
                             or self.task == "classify" else "image"),
                    "num_channels": self.out_channels,
                    "dtype": "float32",
                    "scale": self.scale,
                    "channel_def": {str(lab.value): lab.name for lab in self.labels},
                }
            },
        }
        return data

    def to_json(self) -> str:
        """Serialise to indented, valid JSON (non-finite scores are written as ``null``)."""
        return json.dumps(json_safe(self.to_dict()), indent=2, sort_keys=True, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        """Parse a card dict after validating it against the card schema.

        Raises
        ------
        CardError
            Naming the first problem (see :mod:`medsr_viewer.models.card_schema`).
        """
        try:
            validate_card_dict(data)
        except CardSchemaError as exc:
            raise CardError(str(exc)) from exc
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        try:
            if "normalisation" in kwargs:
                kwargs["normalisation"] = Normalisation(**kwargs["normalisation"])
            if "labels" in kwargs:
                kwargs["labels"] = tuple(
                    Label(int(x["value"]), str(x["name"]), tuple(x.get("color", (255, 0, 0))))
                    for x in kwargs["labels"]
                )
            if kwargs.get("spacing_range_mm") is not None:
                kwargs["spacing_range_mm"] = tuple(kwargs["spacing_range_mm"])
            kwargs["modalities"] = tuple(kwargs.get("modalities", ()))
            legacy = kwargs.get("training", {}).get("arch_kwargs")
            if "arch_kwargs" not in kwargs and isinstance(legacy, dict):
                kwargs["arch_kwargs"] = dict(legacy)  # cards written before the field existed
            return cls(**kwargs)
        except CardError:
            raise
        except (TypeError, KeyError, ValueError) as exc:
            raise CardError(f"malformed model card: {exc}") from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelCard:
        """Parse card JSON; raises :class:`CardError` on invalid JSON, size or fields."""
        try:
            data = parse_card_json(text)
        except CardSchemaError as exc:
            raise CardError(str(exc)) from exc
        return cls.from_dict(data)
