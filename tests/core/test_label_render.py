"""Label layer drawing (fill/outline/both, compositing) and layer storage, on real labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsr_viewer.core.labels import (
    LabelEntry,
    LabelLayer,
    LabelMap,
    LabelMapError,
    LabelTable,
    OverlayStyle,
    composite,
    load_label_file,
    load_label_map,
    lut_array,
    outline_mask,
    render_labels,
    save_label_layer,
    store_label_map,
    study_input_files,
    upsample_labels,
)
from medsr_viewer.core.labels.render import outline_alpha_factor
from medsr_viewer.core.volume import Volume


@pytest.fixture(scope="module")
def lesion(data_dir: Path) -> LabelMap:
    """The real FLAIR lesion labels (values 0-3)."""
    return load_label_map(data_dir / "labelled" / "flair_lesion" / "lesion.nii.gz")


def lesion_slice(lesion: LabelMap) -> np.ndarray:
    """The axial slice holding the most labelled voxels."""
    counts = (lesion.labels > 0).sum(axis=(1, 2))
    return lesion.labels[int(np.argmax(counts))]


def test_outline_is_the_one_pixel_boundary_of_each_region() -> None:
    labels = np.zeros((7, 8), np.uint8)
    labels[1:6, 1:4] = 1  # a 5x3 block
    labels[1:6, 4:7] = 2  # touching block of another label
    edge = outline_mask(labels)
    # Interior pixels of a 5x3 block are its middle column without the top/bottom rows.
    assert not edge[2:5, 2].any() and not edge[2:5, 5].any()
    assert edge[1, 1:7].all() and edge[5, 1:7].all()
    assert edge[1:6, 3].all() and edge[1:6, 4].all()  # both sides of the shared border
    assert not edge[labels == 0].any()
    # A region touching the image edge is closed along the edge.
    assert outline_mask(np.ones((3, 3), np.uint8)).sum() == 8


def test_render_styles_on_real_labels(lesion: LabelMap) -> None:
    labels = lesion_slice(lesion)
    lut = lut_array(lesion.table, int(labels.max()))
    fill = render_labels(labels, lut, 0.4, OverlayStyle.FILL)
    outline = render_labels(labels, lut, 0.4, OverlayStyle.OUTLINE)
    both = render_labels(labels, lut, 0.4, "both")
    edge = outline_mask(labels)
    assert edge.any() and (labels > 0).sum() > edge.sum()
    assert np.all(fill[labels > 0, 3] == round(255 * 0.4))
    assert np.all(fill[labels == 0] == 0)
    assert np.all(outline[edge, 3] == round(255 * outline_alpha_factor(0.4)))
    assert np.all(outline[~edge] == 0)
    assert np.array_equal(both[edge], outline[edge])
    assert np.array_equal(both[~edge], fill[~edge])
    for value in np.unique(labels[labels > 0]):
        assert np.all(fill[labels == value, :3] == lesion.table.entry(int(value)).color)
    # A hidden label disappears from every style.
    table = lesion.table.copy()
    hidden = int(labels[edge][0])
    table.update(hidden, visible=False)
    lut2 = lut_array(table, int(labels.max()))
    assert np.all(render_labels(labels, lut2, 0.4, "both")[labels == hidden] == 0)


def test_composite_puts_later_layers_on_top() -> None:
    red = np.zeros((2, 2, 4), np.uint8)
    red[..., 0], red[..., 3] = 255, 255
    blue = np.zeros((2, 2, 4), np.uint8)
    blue[0, 0] = (0, 0, 255, 128)
    out = composite([red, blue])
    assert out is not None
    assert tuple(out[1, 1]) == (255, 0, 0, 255)
    assert tuple(out[0, 0]) == (127, 0, 128, 255)
    assert composite([blue]) is blue and composite([]) is None


def test_upsampled_labels_keep_the_world_layout(lesion: LabelMap) -> None:
    labels = lesion_slice(lesion)
    fine = upsample_labels(labels, 3)
    assert fine.shape == (labels.shape[0] * 3, labels.shape[1] * 3)
    assert np.array_equal(fine[1::3, 1::3], labels)
    # The outline on the fine grid is thinner: fewer original-pixel areas covered.
    assert outline_mask(fine).sum() < outline_mask(labels).sum() * 9


def test_layer_lut_follows_table_edits(lesion: LabelMap) -> None:
    layer = LabelLayer(LabelMap(lesion.volume, lesion.table.copy(), "lesion"), "lesion")
    assert layer.present_values() == [1, 2, 3]
    labels = lesion_slice(lesion)
    value = int(labels[labels > 0][0])
    layer.update_label(value, color=(1, 2, 3), name="renamed")
    rgba = layer.render(labels)
    assert np.all(rgba[labels == value, :3] == (1, 2, 3))
    assert layer.table.name(value) == "renamed"


def test_store_label_map_is_content_addressed(tmp_path: Path, lesion: LabelMap) -> None:
    small = LabelMap(lesion.volume.with_voxels(np.ascontiguousarray(lesion.labels[60:70])),
                     LabelTable([LabelEntry(1, "lesion one", (9, 8, 7))]), "seg model/run")
    first = store_label_map(small, tmp_path / "store")
    stamp = first.stat().st_mtime_ns
    again = store_label_map(small, tmp_path / "store")
    assert again == first and again.stat().st_mtime_ns == stamp
    assert first.name.startswith("seg_model_run-") and first.name.endswith(".nii.gz")
    reread = load_label_file(first)
    assert np.array_equal(reread.labels, small.labels)
    assert np.allclose(reread.volume.affine, small.volume.affine)
    changed = small.with_labels(np.where(small.labels == 1, 0, small.labels).astype(np.uint8))
    other = store_label_map(changed, tmp_path / "store")
    assert other != first and first.is_file()


def test_save_refuses_the_study_input_and_unknown_types(tmp_path: Path, data_dir: Path,
                                                        lesion: LabelMap) -> None:
    flair = data_dir / "labelled" / "flair_lesion" / "FLAIR.nii.gz"
    study = Volume(np.zeros(lesion.labels.shape, np.float32), lesion.volume.affine,
                   metadata={"source": str(flair), "format": "NIfTI"})
    assert study_input_files(study) == [flair.resolve()]
    before = flair.stat().st_mtime_ns
    with pytest.raises(LabelMapError, match="input files"):
        save_label_layer(lesion, flair, study)
    with pytest.raises(LabelMapError, match="loaded from"):
        save_label_layer(lesion, lesion.source, study)  # type: ignore[arg-type]
    assert flair.stat().st_mtime_ns == before
    with pytest.raises(LabelMapError, match="unknown label file type"):
        save_label_layer(lesion, tmp_path / "x.png", study)
    with pytest.raises(LabelMapError, match="not a DICOM study"):
        save_label_layer(lesion, tmp_path / "x.dcm", study)
    out = save_label_layer(lesion, tmp_path / "out.nii.gz", study)
    assert np.array_equal(load_label_file(out).labels, lesion.labels)
    assert (tmp_path / "out.label").is_file()


def test_load_label_file_names_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(b"\0" * 10)
    with pytest.raises(LabelMapError, match="broken.dcm"):
        load_label_file(bad)
    with pytest.raises(LabelMapError, match="missing.nii.gz"):
        load_label_file(tmp_path / "missing.nii.gz")
