"""Decoding the pixel data of one DICOM file into float32 grayscale planes.

Uncompressed little-endian grayscale data is read straight from the file at the offset found
during discovery (no second header parse); everything else (JPEG, JPEG-LS, JPEG 2000, RLE,
big endian, colour) goes through pydicom's pixel-data handlers (pylibjpeg and its plugins).
Colour planes (PALETTE COLOR after its palette is applied) are reduced to luminance for the
intensity volume and also returned as RGB so writers can keep the colour. Siemens mosaics are
untiled here into their slices. A Modality LUT Sequence is applied here; rescale slope/intercept and MONOCHROME1 inversion are applied
later, per plane, by the volume builder.

Decoders may fail in any way on corrupt data, including Rust panics (pyo3 ``PanicException``,
a :class:`BaseException`): every such failure becomes a :class:`PixelDecodeError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pydicom
from pydicom.pixels import apply_color_lut, apply_modality_lut

from medsr_viewer.core.io.colour import is_gray_rgb, rgb_to_luminance
from medsr_viewer.core.io.dicom_headers import DicomFileHeader
from medsr_viewer.core.io.dicom_mosaic import untile
from medsr_viewer.core.io.errors import describe_exception, is_fatal


class PixelDecodeError(Exception):
    """The pixel data of a file could not be decoded; ``str(exc)`` says why."""


@dataclass(frozen=True)
class DecodedPlanes:
    """Decoded planes of one file: float32 intensities and, for colour images, the RGB.

    ``gray`` is ``(n, rows, cols)`` (luminance for colour), ``rgb`` ``(n, rows, cols, 3)``
    with the stored samples (``None`` for grayscale) and ``colour`` true when colour was
    reduced to luminance in ``gray``.
    """

    gray: np.ndarray
    rgb: np.ndarray | None = None

    @property
    def colour(self) -> bool:
        """Whether the planes are colour (``gray`` then holds their luminance)."""
        return self.rgb is not None


def _raw_dtype(header: DicomFileHeader) -> np.dtype:
    """numpy dtype of native little-endian stored values."""
    kind = "i" if header.pixel_representation == 1 else "u"
    return np.dtype(f"<{kind}{header.bits_allocated // 8}")


def _read_raw(header: DicomFileHeader, frames: Sequence[int]) -> np.ndarray:
    """Stored values of ``frames`` read directly from an uncompressed file.

    Bits above BitsStored (overlays, or junk some scanners leave there) are cleared, as
    DICOM requires and pydicom does.
    """
    assert header.pixel_offset is not None
    _, rows, cols = header.stored_shape
    first, last = min(frames), max(frames)
    count = (last - first + 1) * rows * cols
    offset = header.pixel_offset + first * header.frame_bytes
    data = np.fromfile(header.path, dtype=_raw_dtype(header), count=count, offset=offset)
    if data.size != count:
        raise PixelDecodeError(f"pixel data truncated ({data.size} of {count} values)")
    planes = data.reshape(last - first + 1, rows, cols)
    if header.pixel_representation == 0 and header.bits_stored < 8 * data.itemsize:
        planes = planes & np.asarray((1 << header.bits_stored) - 1, dtype=planes.dtype)
    return planes[[f - first for f in frames]]


def _decode_with_pydicom(header: DicomFileHeader) -> tuple[np.ndarray, np.ndarray | None]:
    """All stored frames via pydicom: ``(frames, rows, cols)`` intensities and the RGB."""
    ds = pydicom.dcmread(header.path)
    stored_frames = header.stored_shape[0]
    if "PixelRepresentation" in ds:
        ds.PixelRepresentation = header.pixel_representation  # corrected by discovery
    if stored_frames > 1 or "NumberOfFrames" in ds:
        ds.NumberOfFrames = stored_frames  # corrected from the pixel data length if needed
    array = ds.pixel_array
    photometric = header.photometric.upper()
    if photometric == "PALETTE COLOR":
        array = apply_color_lut(array, ds)
    elif header.modality_lut and header.samples_per_pixel == 1:
        array = apply_modality_lut(array, ds)
    colour = photometric == "PALETTE COLOR" or header.samples_per_pixel > 1
    if colour:
        if array.ndim == 3:
            array = array[np.newaxis]
        if is_gray_rgb(array):
            return array[..., 0], None
        return rgb_to_luminance(array), array[..., :3]
    if array.ndim == 2:
        array = array[np.newaxis]
    return array, None


def _untiled(header: DicomFileHeader, planes: np.ndarray) -> np.ndarray:
    """The slices of a mosaic's stored frame (``planes`` as is for other files)."""
    if header.mosaic is None:
        return planes
    return untile(planes[0], header.mosaic)


def decode_planes(header: DicomFileHeader, frames: Sequence[int]) -> DecodedPlanes:
    """Decode ``frames`` of one file as float32 ``(len(frames), rows, cols)`` stored values.

    ``frames`` index the file's planes (the tiles of a mosaic). Colour images also come
    back as RGB (:attr:`DecodedPlanes.rgb`).

    Raises
    ------
    PixelDecodeError
        Truncated or corrupt pixel data, or a compression no installed plugin can decode.
    """
    if header.truncated_by:
        expected = header.pixel_length or 0
        raise PixelDecodeError(
            f"pixel data truncated ({expected - header.truncated_by} of {expected} bytes)"
        )
    try:
        if header.raw_readable:
            stored = _read_raw(header, [0] if header.mosaic else frames)
            if header.mosaic is None:
                return DecodedPlanes(stored.astype(np.float32))
            return DecodedPlanes(_untiled(header, stored)[list(frames)].astype(np.float32))
        planes, rgb = _decode_with_pydicom(header)
        if header.mosaic is not None:
            planes = _untiled(header, planes)
            rgb = None if rgb is None else untile_rgb(rgb, header)
    except PixelDecodeError:
        raise
    except MemoryError:
        raise
    except BaseException as exc:  # pydicom/plugins raise many types (even Rust panics)
        if is_fatal(exc):
            raise
        raise PixelDecodeError(f"could not decode pixel data ({describe_exception(exc)})") from exc
    if planes.shape[0] <= max(frames) or planes.shape[1:] != (header.rows, header.cols):
        raise PixelDecodeError(
            f"decoded pixel data has shape {planes.shape}, expected "
            f"{header.n_frames}x{header.rows}x{header.cols}"
        )
    chosen = list(frames)
    return DecodedPlanes(planes[chosen].astype(np.float32), None if rgb is None else rgb[chosen])


def untile_rgb(rgb: np.ndarray, header: DicomFileHeader) -> np.ndarray:
    """The RGB slices of a colour mosaic, channel by channel."""
    assert header.mosaic is not None
    return np.stack([untile(rgb[0, ..., c], header.mosaic) for c in range(3)], axis=-1)
