"""Run folders on disk: their layout, config.json and lock, checkpoints (save, verify, restore) and user errors."""
