"""Stepping through the volumes of a 4-D study (core.study): labels, steps, groups, sessions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsr_viewer.core.io import load_study
from medsr_viewer.core.study import Study, VolumeGroup, describe_label, varying_facts
from medsr_viewer.core.volume import Volume

QA = Path("dicom_qa") / "series"


def _volumes(n: int, offset: float = 0.0, shape: tuple[int, int, int] = (3, 4, 5)
             ) -> tuple[Volume, ...]:
    return tuple(Volume(np.full(shape, offset + i, np.float32), np.eye(4)) for i in range(n))


def _study() -> Study:
    """Three magnitude echoes and two phase echoes on one grid."""
    magnitude = VolumeGroup("magnitude", _volumes(3),
                            tuple({"EchoNumber": e, "EchoTime": 0.005 * e} for e in (1, 2, 3)))
    phase = VolumeGroup("phase", _volumes(2, 100.0),
                        tuple({"EchoNumber": e, "EchoTime": 0.005 * e} for e in (1, 2)))
    return Study((magnitude, phase))


def test_step_is_clamped_and_keeps_the_group() -> None:
    study = _study()
    assert study.step(1).shown_index == 1
    assert study.step(1).step(1).step(1).shown_index == 2  # stops at the last volume
    assert study.step(-1) is study  # already at the first
    assert float(study.step(2).shown.voxels[0, 0, 0]) == 2.0
    assert study.step(2).shown_group == 0


def test_show_group_keeps_the_echo_when_it_exists() -> None:
    study = _study().step(1)
    phase = study.show_group(1)
    assert (phase.shown_group, phase.shown_index) == (1, 1)
    assert float(phase.shown.voxels.max()) == 101.0
    assert _study().step(2).show_group(1).shown_index == 0  # phase has no third echo
    with pytest.raises(IndexError):
        study.show_group(2)


def test_view_state_round_trip_and_bad_states() -> None:
    study = _study().show_group(1).step(1)
    state = study.view_state()
    assert state == {"volume": 1, "volume_group": 1, "volume_kind": "phase"}
    again = _study().with_view_state(state)
    assert (again.shown_group, again.shown_index) == (1, 1)
    # the kind wins when groups come in another order
    swapped = Study((_study().groups[1], _study().groups[0]))
    assert swapped.with_view_state(state).shown_group == 0
    with pytest.raises(ValueError, match="no volume 9"):
        _study().with_view_state({"volume": 8, "volume_group": 0})
    with pytest.raises(ValueError, match="no field map"):
        _study().with_view_state({"volume": 0, "volume_kind": "field map"})
    assert _study().with_view_state({}).shown_index == 0
    single = Study.of(Volume(np.zeros((2, 2, 2), np.float32), np.eye(4)))
    assert single.view_state() == {} and not single.is_multi_volume


def test_same_grid() -> None:
    study = _study()
    other = Study((VolumeGroup("x", _volumes(1, shape=(3, 4, 6))),))
    assert study.same_grid(study.show_group(1))
    assert not study.same_grid(other)


def test_labels_show_only_what_tells_the_volumes_apart() -> None:
    dwi = [{"EchoTime": 0.09, "EchoNumber": 1, "DiffusionBValue": 0.0},
           *({"EchoTime": 0.09, "EchoNumber": 1, "DiffusionBValue": 1000.0,
              "DiffusionGradientOrientation": [1.0, 0.0, 0.0], "DiffusionDirectionNumber": d}
             for d in (1, 2))]
    varying = varying_facts(dwi)
    assert "EchoTime" not in varying and "DiffusionBValue" in varying
    assert describe_label(dwi[2], 2, 3, varying) == "b=1000 dir 2 3/3"
    assert describe_label(dwi[0], 0, 3, varying) == "b=0 1/3"
    assert describe_label(dwi[2], 2, 3) == "b=1000 dir 2 echo 1 (TE 90 ms) 3/3"  # all facts
    fmri = [{"EchoTime": 0.03, "EchoNumber": 1, "AcquisitionNumber": n} for n in (1, 2, 3, 4)]
    assert describe_label(fmri[3], 3, 4, varying_facts(fmri)) == "t=4/4"
    cardiac = [{"TriggerDelayTime": t} for t in (0.0, 300.0)]
    assert describe_label(cardiac[1], 1, 2, varying_facts(cardiac)) == "trigger 300 ms 2/2"


@pytest.mark.parametrize(("case", "count", "texts"), [
    ("dcm_qa_decubitus/HFS", 13, {0: "b=0 1/13", 3: "b=1000 dir 3 4/13"}),
    ("dcm_qa_ge/01_Ax_DWI_TENSOR_R2", 7, {6: "b=1000 dir 6 7/7"}),
    ("dcm_qa_mosaic/ep2d_Asc_2", 6, {3: "t=4/6"}),
    ("dcm_qa_ge/SliceTimingMPh", 10, {9: "t=10/10"}),
])
def test_real_series_labels(data_dir: Path, case: str, count: int,
                            texts: dict[int, str]) -> None:
    study = load_study(data_dir / QA / case)
    assert study.n_volumes == count
    for index, text in texts.items():
        assert study.group.label_text(index) == text
        assert study.pick(index).shown_label() == text


def test_locate_finds_the_very_volume_only() -> None:
    study = _study()
    phase_echo_2 = study.groups[1].volumes[1]
    found = study.locate(phase_echo_2)
    assert found is not None and (found.shown_group, found.shown_index) == (1, 1)
    assert study.locate(study.shown) is study
    copy = phase_echo_2.with_voxels(phase_echo_2.voxels.copy())
    assert study.locate(copy) is None
