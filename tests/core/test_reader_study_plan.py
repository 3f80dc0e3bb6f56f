"""Blinded reader study plans (issue #14): reproducible randomisation, answers, the CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from medsr_viewer.core.reader_study import (
    CSV_COLUMNS,
    EQUAL,
    LEFT,
    RIGHT,
    Method,
    ReaderStudy,
    around,
    evenly_spaced,
    load_json,
    make_trials,
)

MODEL_A = Method("conv-x2", "a" * 64, "/models/conv-x2.pt")
BICUBIC = Method.baseline("bicubic")


def _plan(seed: int = 7, slices: tuple[int, ...] = (3, 10, 17, 24)) -> ReaderStudy:
    return ReaderStudy("Dr Reader", "t1_crop", "axial", 30, slices, (MODEL_A, BICUBIC), seed,
                       scale=2, window=(0.0, 100.0))


def test_the_seed_fixes_order_and_sides_and_other_seeds_differ() -> None:
    first, again = _plan(seed=7).trials, _plan(seed=7).trials
    assert first == again
    others = {_plan(seed=s).trials for s in range(8)}
    assert len(others) > 1
    # every slice appears once per pair, numbered 1..n
    assert sorted(t.slice_index for t in first) == [3, 10, 17, 24]
    assert [t.number for t in first] == [1, 2, 3, 4]


def test_both_orders_occur_balanced() -> None:
    for seed in range(20):
        trials = _plan(seed=seed).trials
        swapped = sum(t.left == 1 for t in trials)
        assert swapped == 2, seed  # half of 4 show the pair swapped
        assert {(t.left, t.right) for t in trials} == {(0, 1), (1, 0)}
    odd = make_trials([1, 2, 3], 2, seed=3)
    assert {(t.left, t.right) for t in odd} == {(0, 1), (1, 0)}
    assert sum(t.left == 1 for t in odd) in (1, 2)


def test_three_methods_show_every_pair_on_every_slice() -> None:
    trials = make_trials([0, 5], 3, seed=1)
    assert len(trials) == 6
    pairs = sorted((t.slice_index, tuple(sorted((t.left, t.right)))) for t in trials)
    assert pairs == [(0, (0, 1)), (0, (0, 2)), (0, (1, 2)), (5, (0, 1)), (5, (0, 2)),
                     (5, (1, 2))]


def test_slice_lists() -> None:
    assert evenly_spaced(3, 120) == [20, 60, 100]
    assert evenly_spaced(1, 7) == [3]
    assert evenly_spaced(50, 6) == [0, 1, 2, 3, 4, 5]
    assert around(1, 2, 10) == [0, 1, 2, 3]
    assert around(9, 1, 10) == [8, 9]
    with pytest.raises(ValueError):
        around(10, 1, 10)


def test_bad_plans_are_refused() -> None:
    with pytest.raises(ValueError, match="reader"):
        ReaderStudy("  ", "s", "axial", 10, (1,), (MODEL_A, BICUBIC), 0)
    with pytest.raises(ValueError, match="same method"):
        ReaderStudy("r", "s", "axial", 10, (1,), (MODEL_A, MODEL_A), 0)
    with pytest.raises(ValueError, match="outside"):
        ReaderStudy("r", "s", "axial", 10, (10,), (MODEL_A, BICUBIC), 0)
    with pytest.raises(ValueError, match="two methods"):
        ReaderStudy("r", "s", "axial", 10, (1,), (MODEL_A,), 0)


def test_scores_map_to_the_preferred_method() -> None:
    plan = _plan()
    t1, t2, t3, t4 = plan.trials
    plan.pick(t1, LEFT, 1.5, when="2024-01-02T03:04:05+00:00")
    plan.score(t2, 5, 2.0)
    plan.score(t3, 3, 0.5)
    plan.score(t4, 2, 4.25)
    assert plan.preferred(t1) == plan.left(t1)
    assert plan.preferred(t2) == plan.right(t2)
    assert plan.answers[t2.number].choice == RIGHT
    assert plan.preferred(t3) is None and plan.answers[t3.number].choice == EQUAL
    assert plan.preferred(t4) == plan.left(t4)
    assert plan.complete and plan.next_unanswered() is None
    with pytest.raises(ValueError):
        plan.score(t1, 6, 1.0)
    with pytest.raises(ValueError):
        plan.pick(t1, "up", 1.0)


def test_csv_names_the_hidden_identities(tmp_path: Path) -> None:
    plan = _plan()
    t1, t2, t3, _t4 = plan.trials
    plan.pick(t1, RIGHT, 1.25, when="2024-01-02T03:04:05+01:00")
    plan.score(t2, 1, 3.0)
    plan.score(t3, 3, 0.75)
    written = plan.write_csv(tmp_path / "out" / "results.csv")
    with written.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        rows = list(reader)
    assert len(rows) == 3  # the unanswered trial is not written
    first = rows[0]
    assert first["reader"] == "Dr Reader" and first["study"] == "t1_crop"
    assert first["time"] == "2024-01-02T03:04:05+01:00"
    assert first["plane"] == "axial" and first["slice"] == str(t1.slice_index + 1)
    assert first["trial"] == "1" and first["choice"] == RIGHT and first["score"] == ""
    assert first["left_method"] == plan.left(t1).name
    assert first["right_method"] == plan.right(t1).name
    assert {first["left_identity"], first["right_identity"]} == {"a" * 64, "bicubic"}
    assert first["preferred_method"] == plan.right(t1).name
    assert first["seconds"] == "1.250" and first["seed"] == "7"
    assert rows[1]["score"] == "1" and rows[1]["preferred_method"] == plan.left(t2).name
    assert rows[2]["choice"] == EQUAL and rows[2]["preferred_method"] == ""
    # the model file's folder is not written (only its name and hash)
    assert "/models" not in written.read_text(encoding="utf-8")


def test_half_done_study_resumes_from_json(tmp_path: Path) -> None:
    plan = _plan(seed=11)
    plan.score(plan.trials[0], 4, 2.5, when="2024-05-06T07:08:09+00:00")
    path = plan.save_json(tmp_path / "study.json")
    resumed = load_json(path)
    assert resumed.trials == plan.trials and resumed.methods == plan.methods
    assert resumed.answers == plan.answers and resumed.window == (0.0, 100.0)
    assert resumed.next_unanswered() == 1
    assert resumed.csv_text() == plan.csv_text()
    with pytest.raises(ValueError):
        ReaderStudy.from_dict({"format": "other"})
