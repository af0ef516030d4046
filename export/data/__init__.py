"""The training data: where it lives, the catalog of clips, grouped splits, and the context stages share."""
