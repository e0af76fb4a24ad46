"""Data: LMDB I/O in the DTRB layout, datasets, synthetic rendering, downloads, conversion, validation."""
