"""Can Qt open a window here? The xcb platform plugin's system libraries, checked before Qt.

PySide6's wheels bring Qt but not the X11/xcb libraries Qt's ``xcb`` platform plugin links
against. On a bare Debian/Ubuntu machine some are absent (``libxcb-icccm4``,
``libxcb-keysyms1`` ...) and Qt aborts with "Could not load the Qt platform plugin "xcb" ...
This application failed to start", naming none of them. :func:`display_problem` finds out
first, without loading Qt: it loads the plugin with :mod:`ctypes` (about a millisecond: Qt
loads the same libraries right after) and, when that fails, lists every missing library with
``ldd`` and names the Debian packages (:data:`DEBIAN_PACKAGES`) in one ``sudo apt install``
line.

Checked only where Qt would use ``xcb``: on Linux, with ``QT_QPA_PLATFORM`` unset (outside a
Wayland session) or naming ``xcb`` first. ``offscreen``, ``wayland`` and the other platforms
need none of these libraries.

This module imports no Qt (it runs before Qt starts) and is used by ``medsr-viewer`` at start,
by ``medsr-viewer --check-display`` and by the self-test.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Debian/Ubuntu package of each library the xcb plugin (``libqxcb.so`` and
#: ``libQt6XcbQpa.so.6``) and its GL integrations link, from ``ldd`` and ``dpkg -S`` on
#: Debian 12 with PySide6 6.11 (``libxcb-xinerama0`` is no longer linked by Qt 6's plugin).
DEBIAN_PACKAGES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libpng16.so.16": "libpng16-16",
    "libz.so.1": "zlib1g",
    "libzstd.so.1": "libzstd1",
    "libexpat.so.1": "libexpat1",
    "libbrotlidec.so.1": "libbrotli1",
}
_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$", re.MULTILINE)
_DLOPEN_MISSING = re.compile(r"(\S+\.so(?:\.\d+)*): cannot open shared object file")


@dataclass(frozen=True)
class DisplayProblem:
    """Why Qt cannot open a window, and what to do about it.

    Parameters
    ----------
    reason
        One sentence: what is wrong.
    missing
        Shared libraries (sonames) that could not be found, in ``ldd``'s order.
    packages
        Debian/Ubuntu packages providing them (unknown sonames have none).
    """

    reason: str
    missing: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()

    @property
    def apt_command(self) -> str:
        """``sudo apt install ...`` for :attr:`packages` (empty when none are known)."""
        return f"sudo apt install {' '.join(self.packages)}" if self.packages else ""

    def message(self) -> str:
        """The text printed instead of Qt's abort (several lines)."""
        lines = [f"medsr-viewer: {self.reason}"]
        if self.apt_command:
            lines += ["Install them (Debian/Ubuntu) with:", f"    {self.apt_command}"]
        unknown = [s for s in self.missing if s not in DEBIAN_PACKAGES]
        if unknown:
            lines.append("Find the package of " + ", ".join(unknown)
                         + " with: apt-file search <name> (or dnf provides */<name>)")
        lines.append("Without a display: QT_QPA_PLATFORM=offscreen medsr-viewer --selftest")
        return "\n".join(lines)


def missing_libraries(ldd_output: str) -> list[str]:
    """The sonames ``ldd`` reports as ``not found``, each once, in its order."""
    return list(dict.fromkeys(_NOT_FOUND.findall(ldd_output)))


def packages_for(sonames: Sequence[str]) -> list[str]:
    """The Debian packages of ``sonames`` (each once; unknown sonames are left out)."""
    return list(dict.fromkeys(DEBIAN_PACKAGES[s] for s in sonames if s in DEBIAN_PACKAGES))


def xcb_needed(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether Qt would load its ``xcb`` plugin in this environment (see the module doc)."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return chosen.split(";")[0].split(":")[0].strip() == "xcb"
    return not (environ.get("WAYLAND_DISPLAY") or environ.get("XDG_SESSION_TYPE") == "wayland")


def xcb_plugin_path() -> Path | None:
    """PySide6's ``libqxcb.so`` (found without importing PySide6), or ``None``."""
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        plugin = Path(root) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.is_file():
            return plugin
    return None


def _ldd(path: Path) -> str | None:
    """``ldd path``'s output, or ``None`` when ``ldd`` is absent or fails."""
    exe = shutil.which("ldd")
    if exe is None:
        return None
    try:
        result = subprocess.run([exe, str(path)], capture_output=True, text=True, timeout=30,
                                check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout


def plugin_problem(plugin: Path, ldd_output: str | None = None) -> DisplayProblem | None:
    """Whether ``plugin`` loads; if not, the libraries it misses (``ldd``, or the loader's
    error naming the first one when ``ldd`` is absent). ``ldd_output`` is for tests."""
    if ldd_output is None:
        try:
            ctypes.CDLL(str(plugin))
            return None
        except OSError as exc:
            error = str(exc)
        ldd_output = _ldd(plugin) or ""
    else:
        error = ""
    missing = missing_libraries(ldd_output) or _DLOPEN_MISSING.findall(error)
    if not missing:
        if not error:
            return None
        return DisplayProblem(f"the Qt xcb platform plugin {plugin} cannot load: {error}")
    return DisplayProblem(
        "the Qt xcb platform plugin cannot load: missing system libraries "
        + ", ".join(missing), tuple(missing), tuple(packages_for(missing)))


def display_problem(environ: Mapping[str, str] | None = None) -> DisplayProblem | None:
    """What stops Qt from opening a window here, or ``None`` (also when ``xcb`` is not the
    platform Qt would use: see :func:`xcb_needed`)."""
    environ = os.environ if environ is None else environ
    if not xcb_needed(environ):
        return None
    plugin = xcb_plugin_path()
    problem = None if plugin is None else plugin_problem(plugin)
    if problem is not None:
        return problem
    if not environ.get("DISPLAY"):
        return DisplayProblem(
            "no X display to open a window on (DISPLAY is not set): run it in a desktop "
            "session or over ssh -X")
    return None


def check_display_report(environ: Mapping[str, str] | None = None) -> tuple[int, str]:
    """``medsr-viewer --check-display``: exit status and the text to print."""
    environ = os.environ if environ is None else environ
    if not xcb_needed(environ):
        chosen = environ.get("QT_QPA_PLATFORM") or (
            "wayland" if sys.platform.startswith("linux") else sys.platform)
        return 0, f"display: OK (Qt platform {chosen!r}: the xcb libraries are not used)"
    problem = display_problem(environ)
    if problem is not None:
        return 1, problem.message()
    return 0, f"display: OK (the Qt xcb plugin loads; DISPLAY={environ.get('DISPLAY')})"
