"""Zoom geometry of a pane (core.pane_zoom) and the overlay's text (core.pane_info)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.pane_info import (
    OverlayOptions,
    is_acquired_plane,
    location_text,
    patient_lines,
    series_text,
    slice_location,
    view_text,
)
from medsr_viewer.core.pane_zoom import length_text, round_length, zoom_factor, zoom_rect
from medsr_viewer.core.volume import Volume


def test_zoom_rect_and_zoom_factor_agree() -> None:
    rect = zoom_rect((100.0, 50.0), (800.0, 400.0), 0.5, 2.0)
    assert rect == pytest.approx((0.0, 0.0, 200.0, 100.0))  # 0.25 mm per screen pixel
    assert zoom_factor(rect[2], 800.0, 0.5) == pytest.approx(2.0)
    one = zoom_rect((10.0, 10.0), (512.0, 256.0), 0.41, 1.0)
    assert one[2] == pytest.approx(512 * 0.41) and one[3] == pytest.approx(256 * 0.41)
    assert (one[0] + one[2] / 2, one[1] + one[3] / 2) == pytest.approx((10.0, 10.0))
    assert math.isnan(zoom_factor(0.0, 100.0, 1.0))
    with pytest.raises(ValueError):
        zoom_rect((0.0, 0.0), (0.0, 10.0), 1.0, 1.0)


@pytest.mark.parametrize("width", [0.7, 3.0, 9.9, 14.0, 33.3, 100.0, 218.4, 347.67, 1234.0])
def test_round_length_is_round_and_about_a_fifth_of_the_width(width: float) -> None:
    length = round_length(width)
    mantissa = length / 10 ** math.floor(math.log10(length))
    assert round(mantissa, 9) in (1.0, 2.0, 5.0)
    assert 0.13 <= length / width <= 0.34
    if any(0.15 <= m * 10 ** e / width <= 0.30 for m in (1, 2, 5) for e in range(-2, 5)):
        assert 0.15 <= length / width <= 0.30


def test_round_length_over_many_widths_stays_in_its_band() -> None:
    for width in np.geomspace(0.5, 5000.0, 400):
        assert 0.13 <= round_length(float(width)) / width <= 0.34
    assert math.isnan(round_length(0.0)) and math.isnan(round_length(math.inf))
    assert length_text(50.0) == "50 mm" and length_text(0.5) == "0.5 mm"


def _volume(spacing: tuple[float, float, float] = (2.0, 0.5, 0.5), **metadata: object) -> Volume:
    affine = np.diag([spacing[2], spacing[1], spacing[0], 1.0])  # x, y, z columns
    affine[:3, 3] = (-10.0, -20.0, -30.0)
    return Volume(np.zeros((10, 8, 6), np.float32), affine, name="", metadata=dict(metadata))


def test_slice_location_is_the_slice_centre_on_the_normal() -> None:
    display = DisplayVolume(_volume(slice_axis=0, slice_thickness_mm=2.5, source="/x/t1.nii"))
    assert slice_location(display, Orientation.AXIAL, 0) == pytest.approx(-30.0)
    assert slice_location(display, Orientation.AXIAL, 3) == pytest.approx(-24.0)
    # coronal slices step along P (LPS y), sagittal along L (LPS x)
    assert slice_location(display, Orientation.CORONAL, 2) == pytest.approx(-19.0)
    assert slice_location(display, Orientation.SAGITTAL, 4) == pytest.approx(-8.0)
    assert is_acquired_plane(display, Orientation.AXIAL)
    assert not is_acquired_plane(display, Orientation.CORONAL)
    assert location_text(display, Orientation.AXIAL, 3) == "Loc -24.0 mm\nThk 2.5 mm  Sp 2 mm"
    # a reformatted plane has no acquired thickness: spacing only
    assert location_text(display, Orientation.CORONAL, 2) == "Loc -19.0 mm\nSp 0.5 mm"
    assert series_text(display.volume) == "t1.nii"


def test_view_text_and_options() -> None:
    assert view_text("W 400 L 40", 1.55, Orientation.AXIAL) == "W 400 L 40\nzoom 1.6×\naxial"
    assert view_text("W 1 L 0", 0.25, Orientation.CORONAL) == "W 1 L 0\nzoom 0.25×\ncoronal"
    options = OverlayOptions()
    seen: list[bool] = []
    unsubscribe = options.subscribe(lambda: seen.append(options.state.info))
    assert options.state.info and options.state.scale_bar and options.state.crosshair
    assert not options.state.patient_data  # opt-in only
    options.set(info=False)
    options.set(info=False)  # no change, no event
    unsubscribe()
    options.set(info=True)
    assert seen == [False]


def test_patient_lines_come_from_the_dicom_files_only(data_dir: Path) -> None:
    from medsr_viewer.core.io import load_volume

    volume = load_volume(data_dir / "dicom" / "vs_seg_001_t1")
    assert "VS-SEG-001" not in repr(volume.metadata)  # the volume keeps no patient data
    assert patient_lines(volume) == "VS-SEG-001\nID VS-SEG-001\nStudy 1994-09-04"
    assert patient_lines(_volume()) == ""  # not DICOM: nothing
