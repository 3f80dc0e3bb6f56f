"""``python -m medsr_viewer.cli`` behaves as the ``medsr`` command, errors included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_module_entry_reports_bad_input_in_one_line(tmp_path: Path) -> None:
    """A missing study gives exit status 2 and one stderr line naming it, no traceback."""
    missing = tmp_path / "no-such-study.nii.gz"
    result = subprocess.run(
        [sys.executable, "-m", "medsr_viewer.cli", "info", str(missing)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(missing) in lines[0]
    assert "Traceback" not in result.stderr
