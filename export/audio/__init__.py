"""Audio building blocks: the in-graph log-mel front-end and waveform augmentation."""
