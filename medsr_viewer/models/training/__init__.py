"""Training: study reading, patch sampling, the shared loop, task set-ups and export."""
