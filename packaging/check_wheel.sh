#!/usr/bin/env bash
# Build the wheel, install it (not editable) into a fresh virtual environment and run the
# installed app's self-test from a folder outside the repository:
#
#   packaging/check_wheel.sh            # PYTHON=python3.12 packaging/check_wheel.sh
#
# Steps: pip wheel (isolated build) -> python -m venv -> pip install torch==2.13.0 (the CPU
# build) -> pip install the wheel with the demo extra (the demo study is nilearn's) ->
# QT_QPA_PLATFORM=offscreen medsr-viewer --selftest in the temporary folder. Exits non-zero
# if any step fails. Set KEEP=1 to keep the temporary folder (its path is printed).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
TORCH=${TORCH:-torch==2.13.0}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/medsr-wheel-check.XXXXXX")
if [[ "${KEEP:-0}" == 1 ]]; then
    echo "check_wheel: keeping $WORK"
else
    trap 'rm -rf "$WORK"' EXIT
fi
say() { printf 'check_wheel: %s\n' "$*"; }

say "building the wheel from $REPO"
"$PYTHON" -m pip wheel --no-deps --quiet --wheel-dir "$WORK/dist" "$REPO"
WHEEL=$(ls "$WORK"/dist/medsr_viewer-*.whl)
say "built $(basename "$WHEEL") ($(du -h "$WHEEL" | cut -f1))"
"$PYTHON" - "$WHEEL" "$REPO" <<'EOF'
import sys, zipfile
from pathlib import Path
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
root = Path(sys.argv[2]) / "resources"
wanted = {"medsr_viewer/_resources/" + p.relative_to(root).as_posix()
          for p in root.rglob("*") if p.is_file() and not any(
              part.startswith(".") or part == "__pycache__" for part in p.relative_to(root).parts)}
missing = sorted(wanted - names)
if missing:
    sys.exit(f"check_wheel: the wheel lacks {missing}")
print(f"check_wheel: the wheel holds all {len(wanted)} files of resources/")
EOF

say "fresh virtual environment in $WORK/venv"
"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install --quiet --upgrade pip
say "pip install $TORCH"
"$VPY" -m pip install --quiet "$TORCH"
say "pip install $(basename "$WHEEL")[demo]"
"$VPY" -m pip install --quiet "$WHEEL[demo]"

mkdir -p "$WORK/run"
cd "$WORK/run"  # outside the repository: nothing can be imported from the checkout
LOCATION=$("$VPY" -c 'import medsr_viewer; print(medsr_viewer.__file__)')
case "$LOCATION" in
    "$REPO"/*) say "FAILED: medsr_viewer imported from the checkout ($LOCATION)"; exit 1 ;;
esac
say "medsr_viewer installed at $(dirname "$LOCATION")"
say "QT_QPA_PLATFORM=offscreen medsr-viewer --selftest"
QT_QPA_PLATFORM=offscreen "$WORK/venv/bin/medsr-viewer" --selftest
say "passed"
