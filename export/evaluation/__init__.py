"""Evaluation: metrics, the tests a shipped model must pass, and the report."""
