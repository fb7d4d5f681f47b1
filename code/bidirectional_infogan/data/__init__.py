"""Data loaders, one module per data set."""
