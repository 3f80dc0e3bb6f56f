#!/usr/bin/env bash
# Build the one-folder MedSR Viewer app with PyInstaller, then run the frozen executable's
# self-test offscreen (demo study, one sr-x2 slice); exits non-zero if either fails.
#
#   pip install torch==2.13.0 && pip install -e ".[demo,packaging]"
#   packaging/build_frozen.sh
#
# Output: packaging/dist/medsr-viewer/ (run packaging/dist/medsr-viewer/medsr-viewer; copy the
# whole folder to install it). Work files: packaging/build/. Both are git-ignored. The
# self-test runs from a temporary folder with a bare environment (no virtual environment,
# no PYTHONPATH), so it passes only if the bundle holds everything it needs.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python}
DIST="$REPO/packaging/dist"
say() { printf 'build_frozen: %s\n' "$*"; }

if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
    say "PyInstaller is missing: pip install -e \".[demo,packaging]\""
    exit 1
fi
say "PyInstaller $("$PYTHON" -m PyInstaller --version), $("$PYTHON" --version)"
START=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$DIST" --workpath "$REPO/packaging/build" "$REPO/packaging/medsr_viewer.spec"
APP="$DIST/medsr-viewer/medsr-viewer"
[[ -x "$APP" ]] || { say "FAILED: no executable at $APP"; exit 1; }
say "built $APP in $(( $(date +%s) - START )) s ($(du -sh "$DIST/medsr-viewer" | cut -f1))"

RUN=$(mktemp -d "${TMPDIR:-/tmp}/medsr-frozen-check.XXXXXX")
trap 'rm -rf "$RUN"' EXIT
cd "$RUN"
say "QT_QPA_PLATFORM=offscreen $APP --selftest"
env -i HOME="$RUN" PATH=/usr/bin:/bin LANG=C.UTF-8 TMPDIR="$RUN" QT_QPA_PLATFORM=offscreen \
    "$APP" --selftest
say "passed"
