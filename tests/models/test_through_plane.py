"""Through-plane SR: the fine grid, plane-by-plane refinement and fusion, adaptation and cancel."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from medsr_viewer.core.slice_profile import fine_positions, interpolate_along
from medsr_viewer.models.architectures import build_architecture
from medsr_viewer.models.through_plane.adapt import iter_adapt, run_adapt
from medsr_viewer.models.through_plane.apply import iter_through_plane, plan_geometry
from medsr_viewer.models.through_plane.pairs import (
    PlaneSource,
    ProfilePrior,
    ThroughPlanePairs,
    degrade_rows,
)


def _drain(gen):  # type: ignore[no-untyped-def]
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def test_geometry_for_integer_non_integer_and_isotropic_factors() -> None:
    shape, spacing = (54, 256, 191), (2.4, 0.86, 0.86)
    g2 = plan_geometry(shape, spacing, 0, 2.0)
    assert g2.output_shape(shape) == (108, 256, 191)
    assert g2.out_spacing_mm == pytest.approx(1.2)
    g = plan_geometry(shape, spacing, 0, 2.5)
    assert g.n_out == 135 and g.factor == pytest.approx(2.5)
    iso = plan_geometry(shape, spacing, 0, None)
    assert iso.n_out == int(54 * 2.4 / 0.86 + 0.5)
    assert iso.out_spacing_mm == pytest.approx(0.86, rel=0.01)
    with pytest.raises(ValueError, match="finer than the pixels"):
        plan_geometry(shape, spacing, 0, 4.0)
    gap = plan_geometry(shape, spacing, 0, 2.0, thickness_mm=1.92)
    assert gap.profile.spacing == 2.0 and gap.profile.thickness == pytest.approx(1.6)
    # A volume with two coarse axes (CT_pitch's y axis as the slice axis): only x is sharp.
    assert plan_geometry((58, 124, 175), (2.4, 1.62, 0.81), 1, 2.0).sharp_axes() == [2]


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_identity_network_reproduces_the_cubic_baseline_on_every_axis(axis: int) -> None:
    # The residual network starts as the identity: the fused output must be exactly the
    # protocol's cubic B-spline, whatever the slice axis (checks planes, transposes, fusion).
    torch.manual_seed(0)
    net = build_architecture("through-plane-resnet", channels=8, blocks=1).eval()
    rng = np.random.default_rng(axis)
    shape = [20, 23, 300]  # 300 columns: several column bands with overlap
    shape[axis] = 6
    volume = rng.random(shape).astype(np.float32)
    spacing = [1.0, 1.0, 1.0]
    spacing[axis] = 3.0
    geometry = plan_geometry(volume.shape, spacing, axis, 3.0)
    gen = iter_through_plane(net, volume, geometry)
    steps = []
    while True:
        try:
            steps.append(next(gen))
        except StopIteration as stop:
            fine = stop.value
            break
    expected = interpolate_along(volume, axis, fine_positions(6, 18), order=3)
    assert fine.shape == expected.shape
    np.testing.assert_allclose(fine, expected, atol=1e-5)
    assert steps[-1].done == steps[-1].total == sum(
        expected.shape[a] for a in range(3) if a != axis)


def test_pairs_degrade_rows_with_the_profile_and_keep_targets_sharp() -> None:
    rng = np.random.default_rng(3)
    volume = rng.random((4, 120, 90)).astype(np.float32)
    sampler = ThroughPlanePairs([PlaneSource("r", volume, 0)], 32, ProfilePrior(), seed=1)
    x, y = sampler.batch(6)
    assert x.shape == (6, 3, 32, 32) and y.shape == (6, 1, 32, 32)
    # Conditioning channels are constant per pair; blurred rows have less row-to-row change.
    assert np.all(x[:, 1].std(axis=(1, 2)) < 1e-6)
    row_change = np.abs(np.diff(x[:, 0], axis=1)).mean()
    assert row_change < np.abs(np.diff(y[:, 0], axis=1)).mean()
    # Column direction untouched by the degradation.
    region = rng.random((40, 16)).astype(np.float32)
    blurred = degrade_rows(region, plan_geometry((10, 8, 8), (4.0, 1, 1), 0, 4.0).profile)
    assert blurred.shape == region.shape


def _study(seed: int = 0) -> tuple[np.ndarray, object]:
    rng = np.random.default_rng(seed)
    # Smooth blobs + edges: something a network can learn to sharpen.
    _z, y, x = np.meshgrid(np.arange(12), np.arange(96), np.arange(96), indexing="ij")
    volume = (np.sin(x / 5.0) * np.cos(y / 7.0) > 0).astype(np.float32)
    volume += 0.05 * rng.standard_normal(volume.shape).astype(np.float32)
    return volume, plan_geometry(volume.shape, (3.0, 1.0, 1.0), 0, 3.0)


def test_stop_event_ends_adaptation_and_keeps_what_it_learnt() -> None:
    volume, geometry = _study()
    net = build_architecture("through-plane-resnet", channels=8, blocks=1)
    stop = threading.Event()
    gen = iter_adapt(net, volume, geometry, minutes=5.0, stop=stop)
    for progress in gen:
        if progress.step == 3:
            stop.set()
            break
    adapted, report = _drain(gen)
    assert report.cancelled and report.steps == 3
    assert adapted is not net  # the caller's module is left unchanged
    # Closing the generator (the viewer superseding a job) stops at once as well.
    gen2 = iter_adapt(net, volume, geometry, minutes=5.0)
    next(gen2)
    gen2.close()
    # No adaptation asked: the module itself comes back, nothing trained.
    same, skipped = run_adapt(net, volume, geometry, minutes=0.0)
    assert same is net and skipped.steps == 0 and skipped.skipped


def test_adaptation_lowers_the_loss_on_a_real_thick_slice_study(data_dir) -> None:  # type: ignore[no-untyped-def]
    # The bundled model, adapted on chris_PD's own axial slices (2.4 mm study, never used in
    # its training) for 20 small steps: the L1 on held-aside pairs of that study drops.
    from medsr_viewer.core.io import load_volume
    from medsr_viewer.models.registry import ModelRegistry
    from medsr_viewer.models.through_plane.study_run import ThroughPlaneProcessor

    torch.manual_seed(0)
    full = load_volume(data_dir / "mri_ct" / "chris_PD.nii.gz")
    volume = full.with_voxels(np.ascontiguousarray(full.voxels[:, 60:200, 30:170]))
    loaded = ModelRegistry().load("sr-through-plane", task="through_plane_sr")
    processor = ThroughPlaneProcessor(loaded, volume, 2.0)
    report = processor.adapt(minutes=5.0, max_steps=20)
    assert report.steps == 20 and not report.cancelled
    assert report.loss_after < report.loss_before
    assert processor.module is not loaded.module  # later runs use the adapted copy
