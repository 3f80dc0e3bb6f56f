"""Decoding the pixel data of one DICOM file into float32 grayscale planes.

Uncompressed little-endian grayscale data is read straight from the file at the offset found
during discovery (no second header parse); everything else (JPEG, JPEG-LS, JPEG 2000, RLE,
big endian, colour) goes through pydicom's pixel-data handlers (pylibjpeg and its plugins).
Colour planes (PALETTE COLOR after its palette is applied) are reduced to luminance. A Modality
LUT Sequence is applied here; rescale slope/intercept and MONOCHROME1 inversion are applied
later, per plane, by the volume builder.

Decoders may fail in any way on corrupt data, including Rust panics (pyo3 ``PanicException``,
a :class:`BaseException`): every such failure becomes a :class:`PixelDecodeError`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pydicom
from pydicom.pixels import apply_color_lut, apply_modality_lut

from medsr_viewer.core.io.colour import is_gray_rgb, rgb_to_luminance
from medsr_viewer.core.io.dicom_headers import DicomFileHeader
from medsr_viewer.core.io.errors import describe_exception, is_fatal


class PixelDecodeError(Exception):
    """The pixel data of a file could not be decoded; ``str(exc)`` says why."""


def _raw_dtype(header: DicomFileHeader) -> np.dtype:
    """numpy dtype of native little-endian stored values."""
    kind = "i" if header.pixel_representation == 1 else "u"
    return np.dtype(f"<{kind}{header.bits_allocated // 8}")


def _read_raw(header: DicomFileHeader, frames: Sequence[int]) -> np.ndarray:
    """Stored values of ``frames`` read directly from an uncompressed file."""
    assert header.pixel_offset is not None
    first, last = min(frames), max(frames)
    count = (last - first + 1) * header.rows * header.cols
    offset = header.pixel_offset + first * header.frame_bytes
    data = np.fromfile(header.path, dtype=_raw_dtype(header), count=count, offset=offset)
    if data.size != count:
        raise PixelDecodeError(f"pixel data truncated ({data.size} of {count} values)")
    planes = data.reshape(last - first + 1, header.rows, header.cols)
    return planes[[f - first for f in frames]]


def _decode_with_pydicom(header: DicomFileHeader) -> tuple[np.ndarray, bool]:
    """All frames via pydicom, as ``(frames, rows, cols)`` grayscale; flag when colour dropped."""
    ds = pydicom.dcmread(header.path)
    if header.n_frames > 1 or "NumberOfFrames" in ds:
        ds.NumberOfFrames = header.n_frames  # corrected from the pixel data length if needed
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
            return array[..., 0], False
        return rgb_to_luminance(array), True
    if array.ndim == 2:
        array = array[np.newaxis]
    return array, False


def decode_planes(header: DicomFileHeader, frames: Sequence[int]) -> tuple[np.ndarray, bool]:
    """Decode ``frames`` of one file as float32 ``(len(frames), rows, cols)`` stored values.

    Returns the planes and whether colour was converted to luminance.

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
            return _read_raw(header, frames).astype(np.float32), False
        planes, colour = _decode_with_pydicom(header)
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
    return planes[list(frames)].astype(np.float32), colour
