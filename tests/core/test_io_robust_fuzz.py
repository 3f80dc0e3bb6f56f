"""Seeded fuzz of the loader over real files: never a crash, a hang, a memory blow-up or a
silent change of geometry.

Seeds are copies of real data: five slices of the 120-slice Siemens T1 series (a folder),
single files of the dcm2niix conformance corpus in several transfer syntaxes (explicit,
implicit and big endian, RLE, JPEG lossless, JPEG-LS, JPEG 2000, 12-bit signed), and a crop of
the real chris_PD MRI as ``.nii`` and ``.nii.gz``. Each case mutates one copy (header elements:
positions, orientation, spacing, NumberOfFrames, BitsAllocated, Rows/Columns, slope ...;
NIfTI dims, pixdim, datatype, affines, offsets; then maybe truncation or flipped bytes) and
loads it. Every case must

- load with the original's shape and affine (within 1e-3), or
- load with a warning the original does not have, or
- fail with :class:`~medsr_viewer.core.io.LoadError`;

a lone file is its own authority on its geometry, so when a case changed a geometry field of a
single-file seed (position, orientation, spacing, NIfTI affine fields, or bytes in its header)
a new, finite and invertible geometry is accepted too. In the folder of slices no single file
may change the series' geometry without a warning.

never raise anything else, take longer than :data:`CASE_SECONDS`, give non-finite voxels, or
grow the worker's memory beyond :data:`MAX_RSS_BYTES`. The cases run in one worker subprocess
with an address-space limit, ``MEDSR_MAX_VOLUME_BYTES`` lowered, and an alarm per case; a case
that kills or hangs the worker is named from the worker's log.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import pytest

#: Cases per seed target (targets x cases in all; about a minute on two cores).
CASES_PER_TARGET = {"t1_folder": 280, "qa_file": 240, "nifti": 160}
#: Per-case time limit (s).
CASE_SECONDS = 20
#: Peak resident memory allowed for the worker (bytes).
MAX_RSS_BYTES = 1536 << 20
#: Address-space limit of the worker (bytes): a runaway allocation fails instead of swapping.
ADDRESS_SPACE_BYTES = 6 << 30
#: Memory limit given to the loader in the worker.
WORKER_MAX_VOLUME_BYTES = str(256 << 20)
#: Real dcm2niix-corpus files used as single-file seeds.
QA_FILES = (
    "dcm_qa_ts/series_1", "dcm_qa_ts/series_2", "dcm_qa_ts/series_3", "dcm_qa_ts/series_4",
    "dcm_qa_ts/series_5", "dcm_qa_ts/series_7", "dcm_qa_ts/series_9", "dcm_qa_12bit/series_4",
    "dcm_qa_enh/Philips",
)


class CaseTimeout(KeyboardInterrupt):
    """Raised by the per-case alarm; a KeyboardInterrupt so that no loader converts it."""


# ---------------------------------------------------------------------------------------------
# Mutators (run inside the worker)

INTERESTING_NUMBERS = ("0", "-1", "1", "2", "1e39", "-1e39", "4294967295", "2147483647",
                       "NaN", "inf", "-0", "1e-30", "abc", "", "3.5", "1000000")
DICOM_NUMERIC = ("SliceThickness", "SpacingBetweenSlices", "RescaleSlope", "RescaleIntercept",
                 "NumberOfFrames", "InstanceNumber", "WindowCenter", "WindowWidth")
DICOM_US = ("Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
            "SamplesPerPixel", "PlanarConfiguration")
DICOM_VECTORS = {"ImagePositionPatient": 3, "ImageOrientationPatient": 6, "PixelSpacing": 2}
#: Attributes by which a lone file legitimately states its own geometry.
DICOM_GEOMETRY = ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
                  "SliceThickness", "SpacingBetweenSlices")
NIFTI_GEOMETRY = ("dim", "pixdim", "qform_code", "sform_code", "srow_x", "srow_y", "srow_z",
                  "quatern_b", "quatern_c", "quatern_d", "qoffset_x")
#: Byte damage before this offset may hit a lone file's geometry fields.
HEADER_BYTES = {"dicom": 2048, "nifti": 352}
PHOTOMETRICS = ("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR", "RGB", "YBR_FULL", "XYZ")


def _vector(rng: random.Random, current: list[float], count: int) -> list[Any]:
    """A mutated multi-valued numeric attribute."""
    choice = rng.randrange(8)
    if choice == 0:
        return [rng.choice(("NaN", "inf", "1e39", "abc")) for _ in range(count)]
    if choice == 1:
        return [rng.uniform(-1, 1) for _ in range(rng.choice((1, count - 1, count + 1)))]
    if choice == 2:
        return [0.0] * count
    if choice == 3:
        return [-v for v in current]
    if choice == 4:
        return [v * rng.choice((2.0, 0.5, 1000.0, 1e-6)) for v in current]
    if choice == 5:
        return [v + rng.uniform(-50, 50) for v in current]
    if choice == 6:
        values = list(current)
        values[rng.randrange(count)] = rng.choice((1e30, -1e30, 7.0))
        return values
    return [rng.uniform(-1e4, 1e4) for _ in range(count)]


def _set(ds: Any, keyword: str, value: Any) -> None:
    """Set an attribute even to a value pydicom would not write (stored as raw bytes)."""
    import pydicom
    from pydicom.dataelem import DataElement

    if keyword in ds:
        delattr(ds, keyword)  # a raw (OB) element from an earlier mutation cannot be reassigned
    try:
        setattr(ds, keyword, value)
        ds[keyword].value  # noqa: B018 - conversion may fail here
    except (ValueError, TypeError, OverflowError):
        tag = pydicom.datadict.tag_for_keyword(keyword)
        text = "\\".join(str(v) for v in value) if isinstance(value, list) else str(value)
        raw = text.encode("latin-1", "replace")
        ds[tag] = DataElement(tag, "OB", raw + b" " * (len(raw) % 2))


def mutate_dicom(path: Path, rng: random.Random) -> list[str]:
    """Apply 1-3 random header mutations (and maybe byte damage) to a DICOM file."""
    import pydicom

    done: list[str] = []
    ds = pydicom.dcmread(path)
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(6)
        if kind == 0:
            keyword = rng.choice(DICOM_NUMERIC)
            value = rng.choice(INTERESTING_NUMBERS)
            _set(ds, keyword, value)
        elif kind == 1:
            keyword = rng.choice(DICOM_US)
            value = rng.choice((0, 1, 3, 7, 8, 12, 16, 32, 64, 65535, rng.randrange(65536)))
            _set(ds, keyword, value)
        elif kind in (2, 3):
            keyword = rng.choice(list(DICOM_VECTORS))
            current = [float(v) for v in ds.get(keyword, [0.0] * DICOM_VECTORS[keyword])]
            value = _vector(rng, current, DICOM_VECTORS[keyword])
            _set(ds, keyword, value)
        elif kind == 4:
            keyword = rng.choice(DICOM_NUMERIC + DICOM_US + tuple(DICOM_VECTORS))
            value = "<deleted>"
            if keyword in ds:
                delattr(ds, keyword)
        else:
            keyword, value = "PhotometricInterpretation", rng.choice(PHOTOMETRICS)
            _set(ds, keyword, value)
        done.append(f"{keyword}={value!r}")
    ds.save_as(path)
    done += damage_bytes(path, rng)
    return done


def damage_bytes(path: Path, rng: random.Random) -> list[str]:
    """Maybe truncate the file or flip a few of its bytes."""
    roll = rng.random()
    if roll > 0.35:
        return []
    data = bytearray(path.read_bytes())
    if roll < 0.12:
        cut = rng.randrange(1, len(data))
        path.write_bytes(bytes(data[:cut]))
        return [f"truncated to {cut} of {len(data)} bytes"]
    flips = []
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(len(data)) if rng.random() < 0.5 else rng.randrange(min(len(data), 2048))
        data[at] = rng.randrange(256)
        flips.append(at)
    path.write_bytes(bytes(data))
    return [f"bytes changed at {sorted(flips)}"]


def touches_geometry(kind: str, mutations: list[str]) -> bool:
    """Whether a lone file's own geometry statement was among the mutations."""
    fields = DICOM_GEOMETRY if kind == "dicom" else NIFTI_GEOMETRY
    for mutation in mutations:
        if any(mutation.startswith(f) for f in fields) or mutation.startswith("truncated"):
            return True
        if mutation.startswith("bytes changed at "):
            offsets = json.loads(mutation[len("bytes changed at "):])
            if min(offsets) < HEADER_BYTES[kind]:
                return True
    return False


NIFTI_FIELDS = ("dim", "pixdim", "datatype", "bitpix", "vox_offset", "scl_slope", "scl_inter",
                "qform_code", "sform_code", "srow_x", "srow_y", "srow_z", "quatern_b",
                "quatern_c", "quatern_d", "qoffset_x", "intent_code", "sizeof_hdr", "cal_min",
                "cal_max")


def mutate_nifti(path: Path, rng: random.Random) -> list[str]:
    """Mutate header fields of a ``.nii``/``.nii.gz`` (raw, unvalidated), maybe damage bytes."""
    import gzip

    import nibabel as nib
    import numpy as np

    compressed = path.name.endswith(".gz")
    raw = path.read_bytes()
    blob = gzip.decompress(raw) if compressed else raw
    header = nib.Nifti1Header(blob[:348], check=False)
    done = []
    for _ in range(rng.randint(1, 3)):
        field = rng.choice(NIFTI_FIELDS)
        current = np.array(header[field])
        if current.shape:
            value = current.copy()
            index = rng.randrange(value.size)
            value.flat[index] = rng.choice(
                (0, -1, 1, 7, 1024, 32767, -32768, np.nan, np.inf, 1e30, 2.5, 0.001)
                if value.dtype.kind == "f" else (0, -1, 1, 4, 7, 1024, 32767, -32768)
            )
            done.append(f"{field}[{index}]={value.flat[index]!r}")
        else:
            choices: tuple[Any, ...]
            if current.dtype.kind == "f":
                choices = (0.0, -1.0, np.nan, np.inf, 1e39, 1e-30, 3.0, 352.0, 1e9)
            else:
                choices = (0, -1, 1, 2, 4, 16, 32, 128, 1792, 2304, 64, 1024, 348, 540)
            value = np.array(rng.choice(choices)).astype(current.dtype)
            done.append(f"{field}={value!r}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            header[field] = value
    blob = header.binaryblock + blob[348:]
    path.write_bytes(gzip.compress(blob, 1) if compressed else blob)
    done += damage_bytes(path, rng)
    return done


# ---------------------------------------------------------------------------------------------
# Worker


def _geometry(volume: Any) -> dict[str, Any]:
    """Shape, affine and warnings of a volume, JSON-ready."""
    return {"shape": list(volume.shape), "affine": volume.affine.tolist(),
            "warnings": list(volume.warnings)}


def _classify(volume: Any, reference: dict[str, Any], entitled: bool) -> str:
    """"same", "warned", "restated" or a failure description for a mutated seed's volume.

    ``entitled``: the case changed a lone file's own geometry statement, so a new (finite,
    invertible) geometry without a warning is "restated", not a failure.
    """
    import numpy as np

    if not np.isfinite(volume.voxels).all():
        return "FAIL non-finite voxels"
    if not np.isfinite(volume.affine).all():
        return "FAIL non-finite affine"
    same = list(volume.shape) == reference["shape"] and np.allclose(
        volume.affine, reference["affine"], atol=1e-3
    )
    if same:
        return "same"
    if set(volume.warnings) - set(reference["warnings"]):
        return "warned"
    if entitled and abs(np.linalg.det(volume.affine[:3, :3])) > 0:
        return "restated"
    return f"FAIL silent geometry change: shape {list(volume.shape)}, affine {volume.affine.tolist()}"


def _prepare_case(target: dict[str, Any], case_dir: Path, rng: random.Random) -> tuple[Path, list[str]]:
    """Copy the seed into ``case_dir`` and mutate it; returns what to load and the mutations."""
    seed = Path(target["path"])
    if seed.is_dir():
        shutil.copytree(seed, case_dir)
        files = sorted(case_dir.iterdir())
        victims = rng.sample(files, 2 if rng.random() < 0.15 else 1)
        done = []
        for victim in victims:
            done += [f"{victim.name}: {m}" for m in mutate_dicom(victim, rng)]
        return case_dir, done
    case_dir.mkdir()
    copy = case_dir / seed.name
    shutil.copy(seed, copy)
    if target["kind"] == "nifti":
        return copy, mutate_nifti(copy, rng)
    return copy, mutate_dicom(copy, rng)


class _HarnessError(Exception):
    """Preparing a case failed (pydicom refused to write a mutation)."""


def _on_alarm(signum: int, frame: Any) -> None:
    """Per-case alarm handler."""
    raise CaseTimeout(f"case exceeded {CASE_SECONDS} s")


def worker(plan_path: str, log_path: str) -> None:
    """Run the fuzz plan (JSON) and append one JSON line per case event to ``log_path``."""
    warnings.simplefilter("ignore")
    os.environ["MEDSR_MAX_VOLUME_BYTES"] = WORKER_MAX_VOLUME_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))
    import pydicom
    from pydicom import config

    config.settings.reading_validation_mode = config.IGNORE
    config.settings.writing_validation_mode = config.IGNORE
    from medsr_viewer.core.io import LoadError, load_volume

    plan = json.loads(Path(plan_path).read_text())
    work = Path(plan["work"])
    signal.signal(signal.SIGALRM, _on_alarm)
    with open(log_path, "a", encoding="utf-8") as log:
        def emit(**record: Any) -> None:
            log.write(json.dumps(record) + "\n")
            log.flush()

        references = {}
        for name, target in plan["targets"].items():
            references[name] = _geometry(load_volume(target["path"]))
        for case in plan["cases"]:
            target = plan["targets"][case["target"]]
            rng = random.Random(case["seed"])
            case_dir = work / f"case_{case['id']}"
            emit(event="start", id=case["id"], target=case["target"], seed=case["seed"])
            mutations: list[str] = []
            start = time.monotonic()
            signal.alarm(CASE_SECONDS)
            try:
                try:
                    path, mutations = _prepare_case(target, case_dir, rng)
                except Exception as exc:  # the mutator itself failed: not a loader finding
                    raise _HarnessError(repr(exc)) from exc
                entitled = not Path(target["path"]).is_dir() and touches_geometry(
                    target["kind"], mutations
                )
                volume = load_volume(path)
            except _HarnessError as exc:
                outcome = f"harness: {exc}"
            except CaseTimeout as exc:
                outcome = f"FAIL hang: {exc}"
            except LoadError as exc:
                outcome = "error"
                if "memory" in exc.reason and "MEDSR_MAX_VOLUME_BYTES" not in exc.reason:
                    outcome = f"FAIL ran out of memory: {exc}"
            except BaseException as exc:  # any other exception is the bug sought
                if isinstance(exc, (KeyboardInterrupt, SystemExit)) and not isinstance(
                    exc, CaseTimeout
                ):
                    raise
                outcome = "FAIL " + "".join(
                    traceback.format_exception_only(type(exc), exc)
                ).strip() + " | " + traceback.format_exc(limit=-3).replace("\n", " / ")
            else:
                outcome = _classify(volume, references[case["target"]], entitled)
                del volume
            finally:
                signal.alarm(0)
            rss = _peak_rss()
            emit(event="done", id=case["id"], target=case["target"], seed=case["seed"],
                 outcome=outcome, mutations=mutations, seconds=round(time.monotonic() - start, 3),
                 rss=rss)
            shutil.rmtree(case_dir, ignore_errors=True)
        emit(event="finished", pydicom=pydicom.__version__)


def _peak_rss() -> int:
    """This process's peak resident memory (bytes), from its own address space (``VmHWM``).

    ``getrusage``'s ``ru_maxrss`` survives ``exec``: a worker started from a big process (a
    pytest-xdist worker after the GUI tests) would report its parent's size from the start.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---------------------------------------------------------------------------------------------
# The test


def _make_targets(data_dir: Path, seeds: Path) -> dict[str, dict[str, Any]]:
    """Copy the real seed files into ``seeds``."""
    import nibabel as nib
    import numpy as np

    targets: dict[str, dict[str, Any]] = {}
    folder = seeds / "t1"
    folder.mkdir(parents=True)
    for number in range(40, 45):
        shutil.copy(data_dir / "dicom" / "vs_seg_001_t1" / f"1-{number:03d}.dcm", folder)
    for path in folder.iterdir():
        path.chmod(0o644)
    targets["t1_folder"] = {"kind": "dicom", "path": str(folder)}
    for k, name in enumerate(QA_FILES):
        source = next(p for p in sorted((data_dir / "dicom_qa" / "series" / name).iterdir()))
        copy = seeds / f"qa{k}_{source.name}"
        shutil.copy(source, copy)
        copy.chmod(0o644)
        targets[f"qa_file{k}"] = {"kind": "dicom", "path": str(copy)}
    image = nib.load(data_dir / "mri_ct" / "chris_PD.nii.gz")
    crop = np.asarray(image.dataobj)[70:110, 90:140, 15:35].astype(np.int16)
    for suffix in (".nii", ".nii.gz"):
        path = seeds / f"pd{suffix}"
        nib.save(nib.Nifti1Image(crop, image.affine), path)
        targets[f"nifti{suffix}"] = {"kind": "nifti", "path": str(path)}
    return targets


def _plan(targets: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Deterministic cases: CASES_PER_TARGET split over the targets of each group."""
    cases = []
    for group, count in CASES_PER_TARGET.items():
        names = sorted(n for n in targets if n.startswith(group))
        for k in range(count):
            name = names[k % len(names)]
            cases.append({"id": len(cases), "target": name, "seed": 1000 * len(cases) + 17})
    return cases


def test_fuzzed_real_files_load_keep_geometry_warn_or_fail_cleanly(
    data_dir: Path, tmp_path: Path
) -> None:
    """Every mutated real file: same geometry, a warning, or a LoadError; nothing else."""
    if not (data_dir / "dicom_qa" / "series").is_dir():
        pytest.skip("dicom_qa corpus not in the shared data")
    targets = _make_targets(data_dir, tmp_path / "seeds")
    plan = {"work": str(tmp_path / "work"), "targets": targets, "cases": _plan(targets)}
    (tmp_path / "work").mkdir()
    plan_path, log_path = tmp_path / "plan.json", tmp_path / "log.jsonl"
    plan_path.write_text(json.dumps(plan))
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from test_io_robust_fuzz import worker; worker(sys.argv[2], sys.argv[3])"
    )
    total = CASE_SECONDS * 3 + 240
    try:
        process = subprocess.run(
            [sys.executable, "-c", code, str(Path(__file__).parent), str(plan_path),
             str(log_path)],
            capture_output=True, text=True, timeout=total, check=False,
        )
        died = None if process.returncode == 0 else (
            f"worker exit {process.returncode}: {process.stderr[-2000:]}"
        )
    except subprocess.TimeoutExpired:
        died = f"worker killed after {total} s"
    records = [json.loads(line) for line in log_path.read_text().splitlines()] \
        if log_path.exists() else []
    done = {r["id"]: r for r in records if r["event"] == "done"}
    started = [r for r in records if r["event"] == "start" and r["id"] not in done]
    failures = [f"case {r['id']} ({r['target']}, seed {r['seed']}): {r['outcome']}; mutations "
                f"{r['mutations']}" for r in done.values() if r["outcome"].startswith("FAIL")]
    if died:
        culprit = started[-1] if started else None
        failures.append(f"{died}; last case started: {culprit}")
    peak = max((r["rss"] for r in done.values()), default=0)
    if peak > MAX_RSS_BYTES:
        worst = max(done.values(), key=lambda r: r["rss"])
        failures.append(f"worker memory reached {peak >> 20} MiB (first at/after case {worst})")
    assert not failures, "\n".join(failures[:20])
    assert len(done) == len(plan["cases"])
    outcomes = [r["outcome"] for r in done.values()]
    harness = [o for o in outcomes if o.startswith("harness")]
    assert len(harness) <= 0.05 * len(outcomes), harness[:5]
    # The mutations must exercise all three acceptable outcomes.
    assert {"same", "warned", "error"} <= set(outcomes), sorted(set(outcomes))


if __name__ == "__main__":  # pragma: no cover - manual: python test_io_robust_fuzz.py plan log
    worker(sys.argv[1], sys.argv[2])
