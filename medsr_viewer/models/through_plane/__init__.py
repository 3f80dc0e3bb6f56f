"""Through-plane super-resolution: training pairs, running on volumes, per-study adaptation."""
