"""Embedded synthetic scene-text dataset: words, fonts, rendering, degradation, parallel LMDB writer."""
