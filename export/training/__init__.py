"""Training: the one fit loop, distillation losses and targets, and the cached backbone feature pass."""
