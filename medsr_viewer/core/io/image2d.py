"""Ordinary 2-D images (PNG, TIFF, JPEG, BMP) via Pillow, as single-slice volumes.

Such files carry no patient geometry, so the volume gets unit spacing and an identity
orientation. Multi-page TIFF stacks (same size on every page) become one slice per page.
Colour images keep their colour (:attr:`Volume.rgb`) beside the luminance in the voxels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from medsr_viewer.core.io.colour import colour_note, is_gray_rgb, rgb_to_luminance
from medsr_viewer.core.io.errors import LoadError, describe_exception, is_fatal
from medsr_viewer.core.io.voxel_checks import replace_non_finite
from medsr_viewer.core.volume import Volume

#: File-name endings handled by :func:`load_image2d`.
IMAGE2D_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")

#: Largest number of pixels accepted (guards against decompression bombs).
MAX_PIXELS = 1 << 30


def _page_to_gray(page: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """One Pillow frame as a 2-D float32 array (luminance for colour), plus its ``uint8``
    ``(rows, cols, 3)`` colour (``None`` when it is grayscale)."""
    mode = page.mode
    if mode in ("1", "L", "I", "F") or mode.startswith("I;16"):
        return np.asarray(page).astype(np.float32), None
    if mode == "LA":
        return np.asarray(page)[..., 0].astype(np.float32), None
    if mode == "P":
        page = page.convert("RGBA" if "transparency" in page.info else "RGB")
    elif mode not in ("RGB", "RGBA"):
        page = page.convert("RGB")
    rgb = np.asarray(page)[..., :3]
    if is_gray_rgb(rgb):
        return rgb[..., 0].astype(np.float32), None
    return rgb_to_luminance(rgb), np.ascontiguousarray(rgb, dtype=np.uint8)


def load_image2d(path: str | Path) -> Volume:
    """Load a PNG/TIFF/JPEG/BMP image as a float32 volume with unit spacing.

    Colour images keep their colour in :attr:`Volume.rgb` (shown as it is) and hold its
    luminance in the voxels, with a warning saying so; a multi-page TIFF whose pages all
    share one size becomes a stack (one slice per page).

    Raises
    ------
    LoadError
        The file is missing, not an image Pillow can read, or corrupt.
    """
    path = Path(path)
    if not path.is_file():
        raise LoadError(path, "not found")
    warnings: list[str] = []
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                raise LoadError(path, f"image too large ({image.width}x{image.height})")
            source_mode = image.mode
            pages: list[np.ndarray] = []
            colours: list[np.ndarray | None] = []
            for page in ImageSequence.Iterator(image):
                gray, colour = _page_to_gray(page)
                if pages and gray.shape != pages[0].shape:
                    warnings.append(
                        f"pages of different sizes: showing the first {len(pages)} of "
                        f"{getattr(image, 'n_frames', '?')} pages"
                    )
                    break
                pages.append(gray)
                colours.append(colour)
    except LoadError:
        raise
    except UnidentifiedImageError as exc:
        raise LoadError(path, "not a supported image format") from exc
    except Image.DecompressionBombError as exc:
        raise LoadError(path, f"image too large ({exc})") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise LoadError(path, f"corrupt or truncated image ({exc})") from exc
    except BaseException as exc:  # decoders may fail in any way on corrupt data
        if is_fatal(exc):
            raise
        raise LoadError(path, f"corrupt image ({describe_exception(exc)})") from exc
    if not pages or pages[0].size == 0:
        raise LoadError(path, "no image data")
    rgb = None
    if any(c is not None for c in colours):
        warnings.append(colour_note(source_mode))
        rgb = np.stack([c if c is not None else np.repeat(
            np.clip(p, 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
            for p, c in zip(pages, colours, strict=True)])
    voxels = np.ascontiguousarray(np.stack(pages, axis=0), dtype=np.float32)
    voxels, finite_warning = replace_non_finite(voxels)
    if finite_warning:
        warnings.append(finite_warning)
    if voxels.shape[0] > 1:
        warnings.append(f"{voxels.shape[0]} pages stacked as slices with unit spacing")
    return Volume.from_spacing(
        voxels,
        (1.0, 1.0, 1.0),
        modality="OT",
        name=path.stem,
        metadata={
            "source": str(path),
            "format": "image",
            "source_mode": source_mode,
            "slice_axis": 0,
        },
        warnings=tuple(warnings),
        rgb=rgb,
    )
