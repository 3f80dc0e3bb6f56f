"""What the window is handed rather than reaches for: settings, worker, registry, loader."""
