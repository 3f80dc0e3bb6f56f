"""SliceView as a building block: a linked pane on a finer (SR) grid lines up in mm."""

from __future__ import annotations

import numpy as np
from gui_helpers import drag, shown_image
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.views.slice_view import SliceView


def _sr_twin(volume: Volume, scale: int) -> Volume:
    """The volume on an in-plane grid ``scale`` times finer covering the same voxel edges."""
    affine = volume.affine.copy()
    for axis in (0, 1):  # x and y voxel axes
        affine[:3, 3] += affine[:3, axis] * (-(scale - 1) / (2 * scale))
        affine[:3, axis] /= scale
    fine = np.repeat(np.repeat(volume.voxels, scale, axis=1), scale, axis=2)
    return volume.with_voxels(fine, affine=affine)


def test_sr_pane_lines_up_with_the_original(qtbot: QtBot) -> None:
    rng = np.random.default_rng(3)
    affine = np.diag([-0.9, -0.9, 2.5, 1.0])  # a RAS-stored study: flipped for display
    affine[:3, 3] = (40.0, 50.0, -30.0)
    original = Volume(voxels=rng.random((6, 20, 24), dtype=np.float32), affine=affine)
    sr = _sr_twin(original, 2)
    left, right = SliceView(Orientation.AXIAL), SliceView(Orientation.AXIAL)
    for view in (left, right):
        qtbot.addWidget(view)
        view.resize(400, 400)
        view.show()
    left.set_display(DisplayVolume(original), slice_index=3)
    right.set_display(DisplayVolume(sr), slice_index=3)
    right.link_view(left)
    assert shown_image(right).shape == (40, 48)
    assert right.pixel_spacing == (0.45, 0.45)
    assert right.image_rect() == left.image_rect()  # same extent in view mm
    # the same view point is the same world point in both panes
    for x, y in [(1.0, 1.0), (10.3, 7.9), (21.0, 17.5)]:
        world_left = DisplayVolume(original).display_to_world(
            Orientation.AXIAL, *left.view_to_display(x, y), 3
        )
        world_right = DisplayVolume(sr).display_to_world(
            Orientation.AXIAL, *right.view_to_display(x, y), 3
        )
        assert np.allclose(world_left, world_right)
    # block-replicated SR: each original pixel covers 2x2 SR pixels at the same place
    assert np.array_equal(shown_image(right)[::2, ::2], shown_image(left))
    # panning/zooming one pane moves the other
    qtbot.wait(20)
    drag(qtbot, left, Qt.MouseButton.LeftButton, QPoint(200, 200), QPoint(60, 30))
    assert np.allclose(left.view_box.viewRange(), right.view_box.viewRange())
    width = np.diff(left.view_box.viewRange()[0])[0]
    drag(qtbot, left, Qt.MouseButton.MiddleButton, QPoint(200, 200), QPoint(0, -40))  # zoom in
    assert np.diff(right.view_box.viewRange()[0])[0] < width * 0.9
    assert left.slice_index == right.slice_index == 3


def test_set_orientation_and_clear(qtbot: QtBot) -> None:
    volume = Volume.from_spacing(np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6))
    view = SliceView(Orientation.AXIAL)
    qtbot.addWidget(view)
    display = DisplayVolume(volume)
    view.set_display(display)
    view.set_orientation(Orientation.SAGITTAL)
    assert view.n_slices == 6 and view.slice_index == 3
    assert np.array_equal(shown_image(view), volume.voxels[::-1, :, 3])
    assert view.set_slice(99) == 5  # clamped
    view.set_display(None)
    assert view.n_slices == 0 and view.edge_labels().top == ""
