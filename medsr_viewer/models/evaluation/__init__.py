"""Evaluation protocols: SR against interpolation baselines, denoising, segmentation overlap."""
