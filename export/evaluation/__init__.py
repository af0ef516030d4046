"""Evaluation: metrics, scoring on a split, the report and the model card."""
