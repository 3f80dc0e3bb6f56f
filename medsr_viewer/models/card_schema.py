"""The one JSON Schema every model card is validated against before any field is used.

A card comes from a file the user may not control, so it is checked as a whole before a
:class:`~medsr_viewer.models.card.ModelCard` is built: types, ranges and sizes of every field
the application reads. A card that fails is refused on its own, with the file and the first
problem named, and the rest of the registry keeps working. Validation uses ``jsonschema``
(the reference implementation of JSON Schema) rather than hand-written type checks, so the
rules live in one declarative table that tools outside the project can read too
(:data:`CARD_SCHEMA`).

Unknown top-level keys are allowed (newer cards may carry more), but never used.
"""

from __future__ import annotations

import json
import math
from typing import Any

import jsonschema

#: Largest card JSON accepted, in bytes (the bundled cards are under 20 KiB).
MAX_CARD_BYTES = 1024 * 1024

_TASKS = ["super_resolution", "enhance", "segment", "classify", "through_plane_sr",
          "segment_instances"]
_SHORT = {"type": "string", "maxLength": 200}
_TEXT = {"type": "string", "maxLength": 20000}
_COUNT = {"type": "integer", "minimum": 1, "maximum": 1024}
_NUMBER = {"type": "number"}

#: JSON Schema (draft 2020-12) of a model card.
CARD_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "MedSR Viewer model card",
    "type": "object",
    "required": ["name", "task"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200,
                 "pattern": r"^[^/\\\x00-\x1f]+$"},
        "task": {"enum": _TASKS},
        "version": _SHORT,
        "description": _TEXT,
        "architecture": _SHORT,
        "arch_kwargs": {
            "type": "object",
            "maxProperties": 32,
            "additionalProperties": {"type": ["integer", "number", "boolean", "null"]},
        },
        "scale": {"type": "integer", "minimum": 1, "maximum": 16},
        "in_channels": _COUNT,
        "out_channels": _COUNT,
        "normalisation": {
            "type": "object",
            "properties": {
                "mode": {"enum": ["percentile", "window", "none"]},
                "low": _NUMBER,
                "high": _NUMBER,
                "clip": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
        "modalities": {"type": "array", "items": _SHORT, "maxItems": 64},
        "spacing_range_mm": {
            "anyOf": [
                {"type": "null"},
                {"type": "array", "items": _NUMBER, "minItems": 2, "maxItems": 2},
            ]
        },
        "labels": {
            "type": "array",
            "maxItems": 1024,
            "items": {
                "type": "object",
                "required": ["value", "name"],
                "properties": {
                    "value": {"type": "integer", "minimum": 0, "maximum": 65535},
                    "name": _SHORT,
                    "color": {
                        "type": "array",
                        "items": {"type": "integer", "minimum": 0, "maximum": 255},
                        "minItems": 3,
                        "maxItems": 3,
                    },
                },
            },
        },
        "input_size": {"type": "integer", "minimum": 0, "maximum": 4096},
        "tile_size": {"type": "integer", "minimum": 8, "maximum": 8192},
        "tile_overlap": {"type": "integer", "minimum": 0, "maximum": 4096},
        "tile_timeout_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 86400},
        "fp16": {"type": "boolean"},
        "weights_dtype": {"enum": ["float32", "float16"]},
        "training": {"type": "object"},
        "scores": {"type": "object"},
        "calibration": {
            "type": "object",
            "properties": {
                "spread": {"enum": ["tta-std", "residual", "tta+residual", "tta+noise"]},
                "level": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "alpha": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "factor": {"type": "number", "minimum": 0},
            },
        },
        "execution": {
            "type": "object",
            "properties": {
                "validated_precisions": {
                    "type": "array",
                    "items": {"enum": ["bf16", "fp16"]},
                    "maxItems": 2,
                    "uniqueItems": True,
                },
                "checks": {"type": "object"},
            },
        },
        "instances": {
            "type": "object",
            "properties": {
                "method": {"enum": ["watershed", "components"]},
                "sigma": {"type": "number", "minimum": 0, "maximum": 100},
                "threshold": {"type": "number", "minimum": 0, "maximum": 1},
                "seed_threshold": {"type": "number", "minimum": 0, "maximum": 1},
                "min_seed": {"type": "integer", "minimum": 0},
                "min_size": {"type": "integer", "minimum": 0},
                "core_channel": {"type": "integer", "minimum": 0, "maximum": 1023},
                "object_channels": {"type": "array", "minItems": 1, "maxItems": 64,
                                    "items": {"type": "integer", "minimum": 0,
                                              "maximum": 1023}},
                "object_name": _SHORT,
            },
        },
        "licence": _TEXT,
        "sha256": {"type": "string", "pattern": "^([0-9a-f]{64})?$"},
        "network_data_format": {"type": "object"},
    },
}

_VALIDATOR = jsonschema.Draft202012Validator(CARD_SCHEMA)


class CardSchemaError(ValueError):
    """The card text is not valid JSON, too large, or breaks :data:`CARD_SCHEMA`."""


def _finite_or_none(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None  # "1e999" would parse as inf


def parse_card_json(text: str | bytes) -> dict[str, Any]:
    """Parse card JSON text and validate it; returns the plain dict.

    ``NaN``, ``Infinity`` and overflowing numbers (which Python's ``json`` accepts although
    JSON has no such values) become ``null``: harmless in scores (an infinite Hausdorff
    distance), refused by the schema where a number is needed. Text longer than
    :data:`MAX_CARD_BYTES` is refused.

    Raises
    ------
    CardSchemaError
        Naming the first problem (``field.sub: reason``).
    """
    if len(text) > MAX_CARD_BYTES:
        raise CardSchemaError(
            f"model card is {len(text)} bytes, more than the {MAX_CARD_BYTES} allowed"
        )
    try:
        data = json.loads(text, parse_constant=lambda _name: None, parse_float=_finite_or_none)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CardSchemaError(f"model card is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise CardSchemaError("model card is nested too deeply") from exc
    validate_card_dict(data)
    return data  # type: ignore[no-any-return]


def validate_card_dict(data: Any) -> None:
    """Check a parsed card against :data:`CARD_SCHEMA` (and that its numbers are finite).

    Raises
    ------
    CardSchemaError
        Naming the first problem found, with the path of the offending field.
    """
    if not isinstance(data, dict):
        raise CardSchemaError("model card is not a JSON object")
    errors = sorted(_VALIDATOR.iter_errors(data), key=lambda e: list(map(str, e.path)))
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.path) or "card"
        raise CardSchemaError(f"model card field {where}: {_short(first.message)}")
    bad = _non_finite(data)
    if bad is not None:
        raise CardSchemaError(f"model card field {bad}: not a finite number")


#: Informational blocks that may hold non-finite numbers (written as ``null``).
_FREE_BLOCKS = ("scores", "training", "calibration")


def _non_finite(value: Any, where: str = "") -> str | None:
    """The path of the first non-finite number in ``value`` outside :data:`_FREE_BLOCKS`."""
    if isinstance(value, float) and not math.isfinite(value):
        return where or "card"
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        if not where and key in _FREE_BLOCKS:
            continue
        found = _non_finite(item, f"{where}.{key}" if where else str(key))
        if found is not None:
            return found
    return None


def _short(message: str, limit: int = 160) -> str:
    """A validator message cut to one readable line (it may quote a huge value)."""
    line = message.splitlines()[0] if message else "invalid"
    return line if len(line) <= limit else line[: limit - 1] + "…"
