"""CTC decoding, metrics and per-dataset evaluation."""
