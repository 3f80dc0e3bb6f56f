"""Writing a NIfTI file slice by slice while the slices are still being computed.

NIfTI stores voxels with x fastest, then y, then z, so the z-planes of a ``(z, y, x)`` volume
are consecutive runs of bytes in the file: a run along axis 0 can write each finished plane
straight after the previous one and never hold the output volume. The header (geometry,
stored type and scaling, provenance) is written first, as :func:`~medsr_viewer.core.writers.
save_nifti` would write it for the whole volume. Each plane is compressed in a background
thread while the next one is computed (at most one plane waits), so writing overlaps the
model instead of following it.

Two things can only be known at the end; both are rare and handled by writing the file again
from what was already written (read back from the file itself): a plane outside the planned
integer range (the output becomes float32, as with
:class:`~medsr_viewer.core.output_buffer.OutputBuffer`), and provenance that changed during
the run (a CUDA run that fell back to the CPU).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import nibabel as nib
import numpy as np
from nibabel.openers import Opener
from nibabel.volumeutils import seek_tell

from medsr_viewer.core.output_buffer import OutputBuffer
from medsr_viewer.core.quantise import Quantisation
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.writers import nifti_image, provenance_json


def planned_volume(volume: Volume, dtype: type | np.dtype | str) -> Volume:
    """``volume`` (an output's geometry and metadata) with zero-memory voxels of ``dtype``:
    a read-only broadcast view that only gives the header its shape and type."""
    return volume.with_voxels(np.broadcast_to(np.zeros((), dtype=dtype), volume.shape))


class NiftiPlaneWriter:
    """The z-planes of one volume, written into a NIfTI file in order as they arrive.

    Parameters
    ----------
    path
        The file to write (an atomic write's temporary file: the caller moves it into place).
    volume
        The output: geometry, modality, window, metadata; its voxels give only the shape
        (see :func:`planned_volume`).
    quantisation
        Store the planes as these integers; ``None`` stores them in ``volume.voxels.dtype``.
    description, extra
        The header's ``descrip`` and the provenance, as for ``save_nifti``.
    """

    def __init__(
        self,
        path: str,
        volume: Volume,
        quantisation: Quantisation | None,
        description: str = "",
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.volume = volume
        self.quantisation = quantisation
        self.description = description
        self.extra = dict(extra or {})
        self.count = 0
        #: Why a planned integer output became float32 (``None`` while it holds).
        self.promoted: str | None = None
        self._buffer: OutputBuffer | None = None  # in memory after a promotion
        self._dtype = np.dtype(quantisation.dtype if quantisation else volume.voxels.dtype)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nifti-writer")
        self._pending: Future[object] | None = None
        self._file: Any = None
        self._offset = self._open()

    def _scaling(self) -> tuple[float, float] | None:
        q = self.quantisation
        return None if q is None else (q.slope, q.inter)

    def _open(self) -> int:
        """Write the header; returns the data offset."""
        # Unscaled data gets slope 1 and intercept 0, as nibabel's own writer gives it.
        image = nifti_image(planned_volume(self.volume, self._dtype), self.description,
                            self.extra, self._scaling() or (1.0, 0.0))
        image.update_header()
        header = image.header
        self._file = Opener(self.path, "wb")
        header.write_to(self._file)
        offset = int(header.get_data_offset())
        seek_tell(self._file, offset, write0=True)
        return offset

    def put(self, index: int, plane: np.ndarray) -> None:
        """Write the finished plane ``index`` (``0, 1, 2 ...`` in order), in real units."""
        shape = self.volume.shape
        if index != self.count or plane.shape != shape[1:]:
            raise ValueError(f"plane {index} {plane.shape} out of order or shape (expected "
                             f"plane {self.count} {shape[1:]})")
        self.count += 1
        if self._buffer is not None:
            self._buffer.put(index, plane)
            return
        q = self.quantisation
        if q is not None:
            low, high = float(np.min(plane)), float(np.max(plane))
            if not q.fits(low, high):
                self._promote(low, high)
                assert self._buffer is not None
                self._buffer.put(index, plane)
                return
        data = np.ascontiguousarray(q.encode(plane) if q is not None else plane, self._dtype)
        self._wait()
        self._pending = self._pool.submit(self._file.write, data.data)

    def _wait(self) -> None:
        """Let the write in flight finish (raising its error, if any)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def _close_file(self) -> None:
        try:
            self._wait()
        finally:
            if self._file is not None:
                file, self._file = self._file, None
                file.close()

    def _read_back(self, count: int) -> np.ndarray:
        """The first ``count`` stored planes, read from the file written so far."""
        self._close_file()
        _, ny, nx = self.volume.shape
        with Opener(self.path, "rb") as file:
            file.seek(self._offset)
            raw = file.read(count * ny * nx * self._dtype.itemsize)
        return np.frombuffer(raw, dtype=self._dtype).reshape(count, ny, nx)

    def _promote(self, low: float, high: float) -> None:
        """Continue in a float32 buffer holding the planes written so far."""
        q = self.quantisation
        assert q is not None
        stored = self._read_back(self.count - 1)
        buffer = OutputBuffer(self.volume.shape, 0, q)
        buffer.array[: len(stored)] = stored
        del stored
        buffer.promote(low, high)
        self.promoted = buffer.promoted
        self.quantisation = None
        self._buffer = buffer

    def finish(self, extra: Mapping[str, Any] | None = None) -> None:
        """Complete the file; ``extra`` is the provenance now (written again if it changed).

        Raises
        ------
        ValueError
            Not every plane was written.
        """
        if self.count != self.volume.shape[0]:
            raise ValueError(f"{self.count} of {self.volume.shape[0]} planes written")
        final = dict(extra) if extra is not None else self.extra
        if self._buffer is None and provenance_json(final) == provenance_json(self.extra):
            self._close_file()
            return
        if self._buffer is None:  # provenance changed: same data, new header
            voxels = self._read_back(self.count).copy()
        else:
            voxels = self._buffer.array
        self._close_file()
        image = nifti_image(self.volume.with_voxels(voxels), self.description, final,
                            self._scaling())
        nib.save(image, self.path)

    def close(self) -> None:
        """Release the file and the writer thread (after :meth:`finish`, or on an error)."""
        try:
            self._close_file()
        finally:
            self._pool.shutdown(wait=True)
