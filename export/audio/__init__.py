"""Audio building blocks: the log-mel front-end and augmentation."""
