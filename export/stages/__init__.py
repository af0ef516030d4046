"""The pipeline's stages, one module each, and the ordered stage table that `python -m export` reads."""
