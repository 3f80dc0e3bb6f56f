"""Writing volumes to disk: NIfTI (any volume) and PNG (2-D images), safely.

Every writer

- refuses to overwrite the file the volume was loaded from (``metadata["source"]`` or an
  explicit ``input_path``), whatever ``force`` says,
- refuses to overwrite an existing output unless ``force`` is true,
- writes to a temporary file in the target folder and moves it into place with
  :func:`os.replace`, so a crash never leaves a half-written output.

NIfTI geometry is the exact inverse of the loader (:mod:`medsr_viewer.core.io.nifti`): voxels
``(z, y, x)`` become nibabel's ``(i, j, k) = (x, y, z)`` and the LPS affine becomes RAS by
negating its first two rows. Provenance (model name, weights sha256 ...) goes into the 80-byte
``descrip`` field in short form and, in full JSON, into a NIfTI header extension. The modality
(MR, CT, PT) leads the ``descrip`` (``"MR; sr-x2 v0.1.0 sha256:…"``), which is where the NIfTI
loader finds it, so an output of a DICOM study reopens as MR rather than OT.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from medsr_viewer.core.atomic import atomic_write
from medsr_viewer.core.strict_json import json_safe
from medsr_viewer.core.volume import Volume

#: LPS <-> RAS world conversion (its own inverse).
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
#: NIfTI header extension code for a free-text comment (NIFTI_ECODE_COMMENT).
ECODE_COMMENT = 6
#: NIfTI intent code of label maps (NIFTI_INTENT_LABEL).
INTENT_LABEL = 1002
#: Key of the provenance JSON in PNG text chunks.
PNG_PROVENANCE_KEY = "medsr_provenance"
#: Share of negative pixels above which an image is treated as signed and refused as PNG.
NEGATIVE_SHARE_LIMIT = 0.01
#: Modalities written into the NIfTI ``descrip`` (those the NIfTI loader recognises there).
RECORDED_MODALITIES = ("CT", "MR", "PT")
#: Output suffixes each writer accepts.
NIFTI_SUFFIXES = (".nii", ".nii.gz")
PNG_SUFFIXES = (".png",)


class WriteError(Exception):
    """An output could not (or must not) be written; names the file and the reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def output_format(path: str | os.PathLike[str]) -> str:
    """``"nifti"`` or ``"png"`` from the file name; raises :class:`WriteError` otherwise."""
    name = Path(path).name.lower()
    if name.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if name.endswith(PNG_SUFFIXES):
        return "png"
    raise WriteError(path, "unsupported output type; use .nii, .nii.gz or .png")


def check_output_path(
    path: str | os.PathLike[str],
    force: bool = False,
    input_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Validate an output location before any work is done; returns it as a :class:`Path`.

    Raises
    ------
    WriteError
        The path is the input file, exists without ``force``, is a folder, or its folder
        does not exist.
    """
    target = Path(path)
    if input_path is not None and _same_file(target, Path(input_path)):
        raise WriteError(target, "refusing to overwrite the input file")
    if target.is_dir():
        raise WriteError(target, "is a folder, not a file name")
    if target.exists() and not force:
        raise WriteError(target, "already exists (use --force to overwrite)")
    if not target.parent.is_dir():
        raise WriteError(target, f"folder {target.parent} does not exist")
    return target


def save_nifti(
    volume: Volume,
    path: str | os.PathLike[str],
    description: str = "",
    extra: Mapping[str, Any] | None = None,
    force: bool = False,
    input_path: str | os.PathLike[str] | None = None,
    scaling: tuple[float, float] | None = None,
) -> Path:
    """Write ``volume`` as NIfTI-1 (``.nii`` or ``.nii.gz``), atomically.

    The voxels are written from a transposed view of the volume's array (nibabel streams it
    out in file order), so no copy of the volume is made.

    Parameters
    ----------
    volume
        The volume; ``uint8`` label volumes (modality ``SEG``) get the label intent.
    path
        Output file.
    description
        Short text for the header's ``descrip`` (cut to 80 bytes), e.g. model name + sha256.
    extra
        Full provenance, stored as JSON in a comment header extension.
    force
        Overwrite an existing output (never the input).
    input_path
        The input file, when not recorded in ``volume.metadata["source"]``.
    scaling
        ``(scl_slope, scl_inter)`` when the voxels are stored integers (an
        :class:`~medsr_viewer.core.output_buffer.OutputBuffer`'s): written as they are, with
        this scaling in the header, so readers see ``stored * slope + inter``.

    Returns
    -------
    Path
        The written file.
    """
    target = nifti_target(path, force, input_path or volume.metadata.get("source"))
    if scaling is not None and not np.issubdtype(volume.voxels.dtype, np.integer):
        raise WriteError(target, f"scaling needs integer voxels, not {volume.voxels.dtype}")
    image = nifti_image(volume, description, extra, scaling)
    return write_output(target, lambda tmp: nib.save(image, tmp))


def nifti_target(
    path: str | os.PathLike[str],
    force: bool = False,
    input_path: str | os.PathLike[str] | None = None,
) -> Path:
    """:func:`check_output_path` for a NIfTI output (``.nii`` or ``.nii.gz``)."""
    target = check_output_path(path, force, input_path)
    if output_format(target) != "nifti":
        raise WriteError(target, "not a NIfTI file name (.nii or .nii.gz)")
    return target


def nifti_image(
    volume: Volume,
    description: str = "",
    extra: Mapping[str, Any] | None = None,
    scaling: tuple[float, float] | None = None,
) -> nib.Nifti1Image:
    """The NIfTI-1 image :func:`save_nifti` writes: the voxels as a transposed view (no copy),
    the geometry, ``descrip``, provenance, the label intent or display range, the scaling."""
    image = _nifti_image(volume.voxels.transpose(2, 1, 0), volume, description, extra)
    header = image.header
    if scaling is not None:
        header.set_slope_inter(*scaling)  # set: nibabel writes the integers unscaled
    if volume.modality == "SEG" or volume.metadata.get("labels"):
        header.set_intent(INTENT_LABEL)
    elif volume.window is not None:
        center, width = volume.window
        header["cal_min"], header["cal_max"] = center - width / 2.0, center + width / 2.0
    return image


def write_output(target: Path, write: Callable[[str], object]) -> Path:
    """``write(tmp)`` into a temporary file beside ``target``, then moved into place (see
    :func:`~medsr_viewer.core.atomic.atomic_write`); returns ``target``.

    Raises
    ------
    WriteError
        The file could not be written (``OSError``); ``target`` is untouched.
    """
    _atomic_write(target, "", write)
    return target


def save_nifti_frames(
    frames: Sequence[Volume],
    path: str | os.PathLike[str],
    description: str = "",
    extra: Mapping[str, Any] | None = None,
    force: bool = False,
    input_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Write ``frames`` (same shape and affine) as one 4-D float32 NIfTI, atomically.

    Frame ``t`` of the file is ``frames[t]`` (e.g. interval bounds: lower, upper); geometry,
    ``descrip`` and the provenance extension are those :func:`save_nifti` writes.
    """
    if not frames:
        raise WriteError(Path(path), "no volumes to write")
    first = frames[0]
    for frame in frames[1:]:
        if frame.shape != first.shape or not np.allclose(frame.affine, first.affine):
            raise WriteError(Path(path), "volumes of a 4-D file must share one grid")
    target = check_output_path(path, force, input_path or first.metadata.get("source"))
    if output_format(target) != "nifti":
        raise WriteError(target, "not a NIfTI file name (.nii or .nii.gz)")
    data = np.stack([np.asarray(f.voxels, np.float32) for f in frames])  # (t, z, y, x)
    image = _nifti_image(data.transpose(3, 2, 1, 0), first, description, extra)
    suffix = ".nii.gz" if target.name.lower().endswith(".gz") else ".nii"
    _atomic_write(target, suffix, lambda tmp: nib.save(image, tmp))
    return target


def _nifti_image(
    data: np.ndarray, volume: Volume, description: str, extra: Mapping[str, Any] | None
) -> nib.Nifti1Image:
    """``data`` (stored i, j, k[, t] order) with ``volume``'s RAS geometry in qform and sform,
    mm units, the ``descrip`` and the provenance extension."""
    affine = LPS_TO_RAS @ volume.affine
    image = nib.Nifti1Image(data, affine)
    header = image.header
    header.set_qform(affine, code=1)
    header.set_sform(affine, code=1)
    header.set_xyzt_units(xyz="mm")
    header["descrip"] = nifti_description(description or volume.name, volume.modality)
    if extra:
        text = provenance_json(extra)
        header.extensions.append(nib.nifti1.Nifti1Extension(ECODE_COMMENT, text.encode("utf-8")))
    return image


def nifti_provenance(image: Any) -> dict[str, Any]:
    """The provenance :func:`save_nifti` stored in a NIfTI image's comment extension (``{}``
    when there is none or it is not a JSON object: files from other programs)."""
    extensions = getattr(getattr(image, "header", None), "extensions", None) or []
    for ext in extensions:
        if ext.get_code() != ECODE_COMMENT:
            continue
        try:
            value = json.loads(ext.get_content())
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(value, dict):
            return value
    return {}


def provenance_json(extra: Mapping[str, Any]) -> str:
    """Strict JSON of a provenance mapping: NaN and infinities become ``null`` (plain
    ``json.dumps`` writes ``NaN``, which JSON readers refuse), other objects their ``str``."""
    return json.dumps(json_safe(dict(extra)), sort_keys=True, default=str, allow_nan=False)


def nifti_description(text: str, modality: str) -> str:
    """The ``descrip`` field: ``"<modality>; <text>"`` cut to 80 bytes, so that the loader
    (:func:`medsr_viewer.core.io.nifti.guess_modality`) reads the modality back.

    Modalities the loader cannot name (``OT``, ``SEG``, ...) are not written; a ``text``
    naming another modality (a model called ``ct-denoise`` on an MR) is left out rather than
    let the loader guess wrong.
    """
    from medsr_viewer.core.io.nifti import guess_modality

    clean = _ascii(text, 80)
    if modality not in RECORDED_MODALITIES:
        return clean
    candidate = _ascii(f"{modality}; {text}", 80)
    if guess_modality({"descrip": candidate, "intent_code": 0}) == modality:
        return candidate
    return modality


def save_png(
    volume: Volume,
    path: str | os.PathLike[str],
    dtype: str | None = None,
    extra: Mapping[str, Any] | None = None,
    force: bool = False,
    input_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Write a 2-D ``volume`` (one slice) as a grayscale PNG, atomically.

    Values are rounded and clipped to the output type (so the slight under/overshoot of
    SR ringing at dark or bright edges saturates). ``dtype`` (``"uint8"`` or ``"uint16"``)
    defaults to the source image's type when recorded in the metadata, else ``uint8`` when
    all values fit 0..255 and ``uint16`` otherwise. Genuinely signed data (more than 1% of
    the pixels negative, e.g. CT in HU) is refused: write NIfTI instead. Provenance goes in
    a PNG text chunk.

    Raises
    ------
    WriteError
        The volume is not 2-D, values are negative, or the output is not allowed.
    """
    target = check_output_path(path, force, input_path or volume.metadata.get("source"))
    if output_format(target) != "png":
        raise WriteError(target, "not a PNG file name")
    if volume.shape[0] != 1:
        raise WriteError(
            target, f"PNG holds one 2-D image; this volume has {volume.shape[0]} slices"
        )
    plane = np.asarray(volume.voxels[0], dtype=np.float64)
    finite = plane[np.isfinite(plane)]
    if finite.size and np.count_nonzero(finite < -0.5) > NEGATIVE_SHARE_LIMIT * finite.size:
        raise WriteError(target, "negative values cannot be stored in PNG; write NIfTI instead")
    chosen = dtype or _png_dtype(volume, finite)
    if "instances" in volume.metadata and finite.size and finite.max() > 65535:
        raise WriteError(target, "more than 65535 instance ids do not fit a 16-bit PNG; "
                                 "write NIfTI instead")
    if chosen not in ("uint8", "uint16"):
        raise WriteError(target, f"unsupported PNG sample type {chosen!r}")
    top = 255 if chosen == "uint8" else 65535
    pixels = np.clip(np.rint(np.nan_to_num(plane)), 0, top).astype(chosen)
    image = Image.fromarray(pixels if chosen == "uint8" else pixels.astype(np.uint16))
    info = PngInfo()
    if extra:
        info.add_text(PNG_PROVENANCE_KEY, provenance_json(extra))
    _atomic_write(target, ".png", lambda tmp: image.save(tmp, format="PNG", pnginfo=info))
    return target


def save_volume(
    volume: Volume,
    path: str | os.PathLike[str],
    description: str = "",
    extra: Mapping[str, Any] | None = None,
    force: bool = False,
    input_path: str | os.PathLike[str] | None = None,
    scaling: tuple[float, float] | None = None,
) -> Path:
    """Write ``volume`` as NIfTI or PNG, chosen by the file name (see the two writers);
    ``scaling`` (stored integers' slope and intercept) is for NIfTI only."""
    if output_format(path) == "png":
        if scaling is not None:
            raise WriteError(Path(path), "PNG holds no intensity scaling; write NIfTI instead")
        return save_png(volume, path, extra=extra, force=force, input_path=input_path)
    return save_nifti(volume, path, description, extra, force, input_path, scaling)


def read_nifti_provenance(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The provenance JSON stored by :func:`save_nifti` (empty dict when there is none)."""
    image = nib.load(str(path))
    for ext in image.header.extensions:  # type: ignore[attr-defined]
        if ext.get_code() == ECODE_COMMENT:
            try:
                data = json.loads(ext.get_content().decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                continue
            if isinstance(data, dict):
                return data
    return {}


def _png_dtype(volume: Volume, finite: np.ndarray) -> str:
    if "instances" in volume.metadata:  # an instance map's ids: always 16-bit
        return "uint16"
    source = str(volume.metadata.get("source_mode") or volume.metadata.get("source_dtype") or "")
    fits_uint8 = not finite.size or finite.max() <= 255.5
    if source.startswith("I;16") or source in ("I", "uint16"):
        return "uint16"
    return "uint8" if fits_uint8 else "uint16"


def _ascii(text: str, limit: int) -> str:
    """Printable ASCII cut to ``limit`` bytes (NIfTI text fields are bytes)."""
    clean = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
    return clean[:limit]


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _atomic_write(target: Path, suffix: str, write: Callable[[str], object]) -> None:
    """``write(tmp)`` into a temp file beside ``target``, then move it into place."""
    try:
        atomic_write(target, write)
    except OSError as exc:
        raise WriteError(target, f"could not be written ({exc})") from exc
