"""Values made fit for strict JSON, whose numbers cannot be NaN or infinite."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float made ``None``, numpy scalars made Python numbers
    and tuples made lists, recursively (for ``json.dumps(..., allow_nan=False)``)."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
