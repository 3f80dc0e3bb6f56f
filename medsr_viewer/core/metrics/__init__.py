"""Qt-free measurement: image quality (PSNR/SSIM), overlap (Dice/IoU/Hausdorff), ROI statistics.

Import from the submodules (``image_quality``, ``overlap``, ``roi_stats``).
"""
