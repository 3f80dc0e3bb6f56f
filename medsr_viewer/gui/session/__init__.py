"""Session save/open, autosave and the recovery bar."""
