"""The user's config folder, where autosaves, trust decisions and label layers live.

Its own module because both the session code and the atomic writer need it (and the writer
must not import the session).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def config_dir() -> Path:
    """The user config folder (``$MEDSR_CONFIG_DIR`` or the platform's config dir)."""
    env = os.environ.get("MEDSR_CONFIG_DIR")
    return Path(env) if env else Path(platformdirs.user_config_dir("medsr-viewer"))
