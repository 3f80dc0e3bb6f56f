"""Persistent user settings (INI file) and the recent-files list.

Settings live in ``$MEDSR_CONFIG_DIR/settings.ini`` when that variable is set (tests and
portable installs use it), else in the platform's user configuration folder
(``platformdirs.user_config_dir("medsr-viewer")``).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from medsr_viewer.core.config_dir import config_dir

#: Application name used for the configuration folder.
APP_NAME = "medsr-viewer"
#: Number of entries kept in the recent-files menu.
MAX_RECENT = 10
_RECENT_KEY = "recent/paths"


def app_settings() -> QSettings:
    """The application's settings, stored as an INI file in :func:`config_dir`."""
    return QSettings(str(config_dir() / "settings.ini"), QSettings.Format.IniFormat)


class RecentFiles:
    """Most-recently-opened studies (files or folders), newest first, persisted in settings.

    Parameters
    ----------
    settings
        Where the list is stored; :func:`app_settings` when omitted.
    max_entries
        How many paths are kept.
    """

    def __init__(self, settings: QSettings | None = None, max_entries: int = MAX_RECENT) -> None:
        self._settings = settings if settings is not None else app_settings()
        self.max_entries = max_entries

    def paths(self) -> list[str]:
        """The stored paths, newest first (entries whose file has gone are kept: the user
        sees an error naming it when it is chosen, which is clearer than silent removal)."""
        value = self._settings.value(_RECENT_KEY, [])
        if isinstance(value, str):  # QSettings returns a bare string for one entry
            value = [value]
        if not isinstance(value, (list, tuple)):
            return []
        return [str(v) for v in value if str(v)]

    def add(self, path: str | Path) -> None:
        """Put ``path`` at the top of the list (moving it if already present)."""
        text = str(Path(path).resolve())
        entries = [text] + [p for p in self.paths() if p != text]
        self._store(entries[: self.max_entries])

    def remove(self, path: str | Path) -> None:
        """Drop ``path`` from the list."""
        text = str(Path(path).resolve())
        self._store([p for p in self.paths() if p != text])

    def clear(self) -> None:
        """Empty the list."""
        self._store([])

    def _store(self, entries: list[str]) -> None:
        self._settings.setValue(_RECENT_KEY, entries)
        self._settings.sync()
