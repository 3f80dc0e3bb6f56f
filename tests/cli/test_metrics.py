"""``medsr metrics`` on real label maps and images, cross-checked against scipy and skimage."""

from __future__ import annotations

import json
import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy.spatial.distance import directed_hausdorff
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from medsr_viewer.cli.main import main
from medsr_viewer.core.labels import load_label_map, resample_labels, save_label_map_nifti
from medsr_viewer.core.roi import (
    EllipseRoi,
    GridSpec,
    Plane,
    RectangleRoi,
    RulerRoi,
    save_rois,
)
from medsr_viewer.core.volume import Volume


def _run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["metrics", "--json", *args]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return json.loads(out)


@pytest.fixture(scope="module")
def lesion_files(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A crop of the real lesion map, a copy shifted one voxel along x, and one on a 2x grid."""
    folder = tmp_path_factory.mktemp("labels")
    full = load_label_map(data_dir / "labelled/flair_lesion/lesion.nii.gz")
    box = (slice(50, 90), slice(10, 80), slice(10, 60))  # (z, y, x): all three labels, small
    crop_affine = full.volume.affine.copy()
    crop_affine[:3, 3] = full.volume.index_to_world((50, 10, 10))
    ref = type(full)(Volume(np.ascontiguousarray(full.labels[box]), crop_affine), full.table)
    assert ref.present_values() == [1, 2, 3]
    ref_path = save_label_map_nifti(ref, folder / "ref_seg.nii.gz")
    shifted = np.zeros_like(ref.labels)
    shifted[:, :, 1:] = ref.labels[:, :, :-1]
    affine = ref.volume.affine.copy()
    affine[:3, :3] /= 2
    affine[:3, 3] -= ref.volume.affine[:3, :3].sum(axis=1) / 4
    fine = GridSpec(tuple(2 * s for s in ref.labels.shape), affine)
    fine_map = type(ref)(Volume(resample_labels(ref.volume, fine), affine), ref.table, "fine")
    return {
        "ref": ref_path,
        "shifted": save_label_map_nifti(ref.with_labels(shifted), folder / "shifted_seg.nii.gz"),
        "fine": save_label_map_nifti(fine_map, folder / "fine_seg.nii.gz"),
    }


def test_label_maps_dice_iou_hausdorff_per_label(lesion_files: dict[str, Path],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    result = _run_json(capsys, "--ref", str(lesion_files["ref"]),
                       "--test", str(lesion_files["shifted"]))
    assert result["kind"] == "labels" and not result["test_resampled_to_ref_grid"]
    ref = np.asarray(nib.load(lesion_files["ref"]).dataobj)
    test = np.asarray(nib.load(lesion_files["shifted"]).dataobj)
    spacing_xyz = nib.load(lesion_files["ref"]).header.get_zooms()[:3]
    assert [row["value"] for row in result["labels"]] == [1, 2, 3]
    for row in result["labels"]:
        a, b = ref == row["value"], test == row["value"]
        inter = int((a & b).sum())
        assert row["dice"] == pytest.approx(2 * inter / (a.sum() + b.sum()))
        assert row["iou"] == pytest.approx(inter / (a | b).sum())
        assert row["ref_count"] == int(a.sum())
    # Hausdorff of label 1 against scipy on the surface points, in mm
    a, b = ref == 1, test == 1
    from scipy.ndimage import binary_erosion

    def surface_points(mask: np.ndarray) -> np.ndarray:
        padded = np.pad(mask, 1)
        surf = (padded & ~binary_erosion(padded))[1:-1, 1:-1, 1:-1]
        return np.argwhere(surf) * np.asarray(spacing_xyz)

    pa, pb = surface_points(a), surface_points(b)
    expected = max(directed_hausdorff(pa, pb)[0], directed_hausdorff(pb, pa)[0])
    assert result["labels"][0]["hd_max_mm"] == pytest.approx(expected, rel=1e-6)


def test_label_map_on_other_grid_is_resampled_exactly(lesion_files: dict[str, Path],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    result = _run_json(capsys, "--ref", str(lesion_files["ref"]),
                       "--test", str(lesion_files["fine"]), "--label", "2")
    assert result["test_resampled_to_ref_grid"]
    assert [row["value"] for row in result["labels"]] == [2]
    assert result["labels"][0]["dice"] == 1.0 and result["labels"][0]["hd_max_mm"] == 0.0


def test_roi_against_labels_and_text_output(lesion_files: dict[str, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    ref = load_label_map(lesion_files["ref"])
    z = int(np.argmax((ref.labels == 1).sum(axis=(1, 2))))
    ys, xs = np.nonzero(ref.labels[z] == 1)
    plane = Plane.from_slice(ref.volume, 0, z)
    # rectangle exactly covering label 1's bounding box on that slice (1 mm pixels)
    roi = RectangleRoi(plane, u0=xs.min() - 0.5, v0=ys.min() - 0.5, u1=xs.max() + 0.4,
                       v1=ys.max() + 0.4, name="box")
    ruler = RulerRoi(plane, start=(0.0, 0.0), end=(10.0, 0.0), name="Ruler 1")
    save_rois([roi, ruler], tmp_path / "rois.json")
    result = _run_json(capsys, "--ref", str(lesion_files["ref"]), "--test",
                       str(lesion_files["shifted"]), "--label", "1", "--roi",
                       str(tmp_path / "rois.json"))
    assert [e["name"] for e in result["rois"]] == ["box"]  # a ruler encloses no region
    entry = result["rois"][0]
    box = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
    assert entry["voxels"] == box
    vs_ref = next(r for r in entry["labels"] if r["against"] == "ref")
    n_label = int((ref.labels[z] == 1).sum())
    assert vs_ref["dice"] == pytest.approx(2 * n_label / (box + n_label))
    assert main(["metrics", "--ref", str(lesion_files["ref"]), "--test",
                 str(lesion_files["shifted"]), "--roi", str(tmp_path / "rois.json")]) == 0
    text = capsys.readouterr().out
    assert "dice" in text and "ROI box" in text and len(text.splitlines()) >= 6
    save_rois([ruler], tmp_path / "ruler.json")
    assert main(["metrics", "--ref", str(lesion_files["ref"]), "--test",
                 str(lesion_files["shifted"]), "--roi", str(tmp_path / "ruler.json")]) != 0
    assert "no ROIs with an area" in capsys.readouterr().err


@pytest.fixture(scope="module")
def image_files(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real FLAIR crop as reference and a degraded copy as test (both NIfTI)."""
    folder = tmp_path_factory.mktemp("images")
    image = nib.load(data_dir / "labelled/flair_lesion/FLAIR.nii.gz")
    data = np.asarray(image.dataobj, dtype=np.float32)[10:110, 20:140, 60:66]
    rng = np.random.default_rng(5)
    noisy = data + rng.normal(0, 0.03 * data.max(), data.shape).astype(np.float32)
    paths = {}
    for name, arr in (("ref", data), ("test", noisy)):
        paths[name] = folder / f"{name}_image.nii.gz"
        nib.save(nib.Nifti1Image(arr, image.affine), paths[name])
    return paths


def test_images_psnr_ssim_whole_and_in_roi(image_files: dict[str, Path], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    ref = np.asarray(nib.load(image_files["ref"]).dataobj, np.float64).transpose(2, 1, 0)
    test = np.asarray(nib.load(image_files["test"]).dataobj, np.float64).transpose(2, 1, 0)
    data_range = ref.max() - ref.min()
    grid = Volume(ref, np.diag([-1.0, -1.0, 1.0, 1.0]) @ nib.load(image_files["ref"]).affine)
    plane = Plane.from_slice(grid, 0, 3)
    circle = EllipseRoi(plane, cu=50.3, cv=60.2, ru=20, rv=20, name="circle")
    whole_slice = RectangleRoi(plane, u0=-1, v0=-1, u1=200, v1=200, name="all")
    save_rois([circle, whole_slice], tmp_path / "rois.json")
    result = _run_json(capsys, "--ref", str(image_files["ref"]), "--test",
                       str(image_files["test"]), "--roi", str(tmp_path / "rois.json"))
    assert result["kind"] == "images"
    assert result["data_range"] == pytest.approx(data_range)
    assert result["whole"]["psnr_db"] == pytest.approx(
        peak_signal_noise_ratio(ref, test, data_range=data_range))
    expected_ssim = np.mean([
        structural_similarity(ref[k], test[k], data_range=data_range, gaussian_weights=True,
                              sigma=1.5, use_sample_covariance=False)
        for k in range(ref.shape[0])])
    assert result["whole"]["ssim"] == pytest.approx(expected_ssim, rel=1e-6)
    # inside the circle: independent pixel-centre mask on slice 3 (1 mm pixels)
    yy, xx = np.mgrid[0 : ref.shape[1], 0 : ref.shape[2]].astype(float)
    inside = (xx - 50.3) ** 2 + (yy - 60.2) ** 2 <= 400
    roi_row = result["rois"][0]
    assert roi_row["voxels"] == inside.sum()
    mse = np.mean((ref[3][inside] - test[3][inside]) ** 2)
    assert roi_row["psnr_db"] == pytest.approx(10 * math.log10(data_range**2 / mse))
    _, smap = structural_similarity(ref[3], test[3], data_range=data_range,
                                    gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, full=True)
    interior = np.zeros_like(inside)
    interior[5:-5, 5:-5] = True
    assert roi_row["ssim"] == pytest.approx(smap[inside & interior].mean())
    # an ROI covering the whole slice gives the slice's SSIM
    slice_result = _run_json(capsys, "--ref", str(image_files["ref"]), "--test",
                             str(image_files["test"]), "--roi", str(tmp_path / "rois.json"),
                             "--slice", "3")
    assert slice_result["rois"][1]["ssim"] == pytest.approx(slice_result["whole"]["ssim"])
    assert slice_result["whole"]["ssim"] == pytest.approx(structural_similarity(
        ref[3], test[3], data_range=data_range, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False))


def test_identical_images_give_null_psnr_in_json(image_files: dict[str, Path],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    result = _run_json(capsys, "--ref", str(image_files["ref"]), "--test",
                       str(image_files["ref"]))
    assert result["whole"]["psnr_db"] is None and result["whole"]["ssim"] == pytest.approx(1.0)


def test_errors_are_one_line(image_files: dict[str, Path], lesion_files: dict[str, Path],
                             tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metrics", "--ref", str(tmp_path / "nope.nii.gz"), "--test",
                 str(image_files["test"])]) == 2
    err = capsys.readouterr().err
    assert "nope.nii.gz" in err and err.count("\n") == 1
    assert main(["metrics", "--ref", str(image_files["ref"]), "--test",
                 str(lesion_files["ref"]), "--kind", "images"]) == 2
    assert "differs from the reference grid" in capsys.readouterr().err
    assert main(["metrics", "--ref", str(image_files["ref"]), "--test",
                 str(image_files["test"]), "--kind", "labels"]) == 2
    assert "non-integer" in capsys.readouterr().err
    assert main(["metrics", "--ref", str(image_files["ref"]), "--test",
                 str(image_files["test"]), "--kind", "images", "--label", "1"]) == 2
    bad_roi = tmp_path / "bad.json"
    bad_roi.write_text("[")
    assert main(["metrics", "--ref", str(image_files["ref"]), "--test",
                 str(image_files["test"]), "--roi", str(bad_roi)]) == 2
    assert "bad.json" in capsys.readouterr().err


def test_an_sr_output_is_resampled_onto_the_reference_grid(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #15, bug 7: ``medsr metrics --ref FLAIR --test <medsr sr output>`` refused
    "grid differs … resample first". The SR output covers the input's extent on a grid twice
    as fine in plane, so trilinear resampling at the reference voxel centres is exactly the
    2x2 block mean of the SR voxels: an independent check of the numbers."""
    image = nib.load(data_dir / "labelled/flair_lesion/FLAIR.nii.gz")
    crop = image.slicer[20:100, 30:130, 60:66]  # 6 axial slices, affine follows the crop
    ref_path = tmp_path / "FLAIR_crop.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(crop.dataobj, np.float32), crop.affine), ref_path)
    sr_path = tmp_path / "flair_sr2.nii.gz"
    assert main(["sr", str(ref_path), str(sr_path), "--model", "sr-x2", "--device", "cpu",
                 "--axis", "0", "--quiet"]) == 0
    capsys.readouterr()
    ref = np.asarray(nib.load(ref_path).dataobj, np.float64).transpose(2, 1, 0)
    sr = np.asarray(nib.load(sr_path).dataobj, np.float64).transpose(2, 1, 0)
    assert sr.shape == (ref.shape[0], 2 * ref.shape[1], 2 * ref.shape[2])
    on_ref = sr.reshape(ref.shape[0], ref.shape[1], 2, ref.shape[2], 2).mean(axis=(2, 4))

    result = _run_json(capsys, "--ref", str(ref_path), "--test", str(sr_path))
    assert result["test_resampled_to_ref_grid"] and result["covered_fraction"] == 1.0
    assert result["resampling"] == "trilinear, world space"
    data_range = ref.max() - ref.min()
    assert result["whole"]["psnr_db"] == pytest.approx(
        peak_signal_noise_ratio(ref, on_ref, data_range=data_range), abs=1e-3)
    expected_ssim = np.mean([
        structural_similarity(ref[k], on_ref[k], data_range=data_range, gaussian_weights=True,
                              sigma=1.5, use_sample_covariance=False)
        for k in range(ref.shape[0])])
    assert result["whole"]["ssim"] == pytest.approx(expected_ssim, abs=1e-6)
    assert result["whole"]["psnr_db"] > 30  # sr-x2 of the study itself, brought back

    assert main(["metrics", "--ref", str(ref_path), "--test", str(sr_path)]) == 0
    text = capsys.readouterr().out
    assert "resampled onto the reference grid, trilinear, world space" in text

    # a test image that does not overlap the reference in world space is still refused
    far = nib.Nifti1Image(np.asarray(crop.dataobj, np.float32),
                          crop.affine @ np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 500],
                                                  [0, 0, 0, 1]], float))
    nib.save(far, tmp_path / "far.nii.gz")
    assert main(["metrics", "--ref", str(ref_path), "--test", str(tmp_path / "far.nii.gz")]) == 2
    assert "does not overlap" in capsys.readouterr().err


def test_instance_maps_give_map_ap_rand_and_vi(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Issue #16: ``medsr metrics --instances``: 3 objects, one of them moved."""
    ref = np.zeros((100, 40, 3), np.int16)  # stored (x, y, z): a stack of 3 images
    for k in range(3):
        ref[5 + 30 * k:15 + 30 * k, 5:15, :] = k + 1
    test = ref.copy()
    test[:, :, :] = 0
    for k in range(3):
        shift = 2 if k == 0 else 0  # object 1 moved 2 px: IoU 2/3
        test[5 + 30 * k + shift:15 + 30 * k + shift, 5:15, :] = k + 1
    for name, data in (("ref_instances.nii.gz", ref), ("test_instances.nii.gz", test)):
        nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / name)
    result = _run_json(capsys, "--instances", "--per-slice", "--ref",
                       str(tmp_path / "ref_instances.nii.gz"), "--test",
                       str(tmp_path / "test_instances.nii.gz"))
    assert result["kind"] == "instances" and len(result["slices"]) == 3
    assert result["n_ref"] == result["n_test"] == 9
    # Per slice: two perfect objects and one at IoU 2/3: TP 3 at 0.50-0.65 (precision 1),
    # else TP 2, FP 1, FN 1 (2/4): the mean over the ten thresholds is 0.4 + 0.6 · 0.5.
    expected = 0.4 * 1.0 + 0.6 * 0.5
    assert result["dsb_map"] == pytest.approx(expected)
    assert result["ap50"] == 1.0
    assert main(["metrics", "--instances", "--ref", str(tmp_path / "ref_instances.nii.gz"),
                 "--test", str(tmp_path / "test_instances.nii.gz")]) == 0
    text = capsys.readouterr().out
    assert "DSB mAP@[.5:.95]" in text and "IoU > 0.50: TP 3  FP 0  FN 0" in text
    assert main(["metrics", "--per-slice", "--ref", str(tmp_path / "ref_instances.nii.gz"),
                 "--test", str(tmp_path / "test_instances.nii.gz")]) != 0
