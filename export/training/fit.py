"""The one training loop: the teacher head and the student both train through :func:`fit`.

What it owns, so no model trains differently by accident: seeding (torch and the numpy generator the
batches draw from, set before the model is built), deterministic kernels where torch has them, the
torch thread count (restored afterwards), gradient clipping, the per-step learning-rate schedule, the
per-epoch validation score, keeping the best epoch's weights and early stopping after ``patience``
epochs without a better score, and, with ``ema_decay``, an exponential moving average of the weights
(``torch.optim.swa_utils.AveragedModel``, batch-norm buffers included) that is what gets scored, kept
and returned: one epoch's weights depend on the last few hundred batches, so their validation score
jumps from epoch to epoch and the best epoch is partly luck of the seed; the average is smoother.
What it does not own: the batches, the loss and the score, which the caller passes as functions.

Under ``torchrun`` (:mod:`export.training.distributed`) the ranks train one model together: it is
wrapped in ``DistributedDataParallel``, every rank draws the same global batches from ``batches`` (the
same seeded order, crops and augmentation as one process) and keeps every ``world``-th row of each
(DistributedSampler's split), so the number of steps and the learning-rate schedule are those of one
process; each rank's loss is scaled so the averaged gradient is the global batch's. Rank 0 computes
the validation score and sends it, with its batch-norm statistics, to the others: every rank keeps
the same best epoch and stops at the same time.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch import nn

from export.training import distributed


@dataclass
class FitSettings:
    """How the loop runs; each model's config supplies these values."""

    epochs: int
    patience: int  # epochs without a better validation score before stopping
    grad_clip: float
    seed: int = 0
    threads: int | None = None  # torch threads while training (restored afterwards); None: leave as is
    progress: bool = True  # a tqdm bar over the epochs
    label: str = "model"
    ema_decay: float | None = None  # None: score and keep the raw weights; else their EMA, updated every step

    def __post_init__(self) -> None:
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie in (0, 1), got {self.ema_decay}")


@dataclass
class EpochLog:
    epoch: int
    train_loss: float
    parts: dict[str, float]  # mean of each loss term over the epoch
    val_score: float
    seconds: float


@dataclass
class FitHistory:
    epochs: list[EpochLog] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float = -math.inf
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


#: One optimisation step's loss and its named parts (floats, for the log).
LossFn = Callable[[nn.Module, Any], tuple[torch.Tensor, dict[str, float]]]


def fit(
    make_model: Callable[[], nn.Module],
    make_optimizer: Callable[[nn.Module], tuple[torch.optim.Optimizer, Any]],
    batches: Callable[[np.random.Generator], Iterable[Any]],
    loss: LossFn,
    score: Callable[[nn.Module], float] | None,
    settings: FitSettings,
) -> tuple[nn.Module, FitHistory]:
    """Train ``make_model()``; return it with the best epoch's weights (eval mode) and the history.

    ``make_optimizer(model)`` gives the optimizer and a per-step scheduler (or None);
    ``batches(rng)`` yields one epoch's batches; ``loss(model, batch)`` the loss to minimise;
    ``score(model)`` the validation score (higher is better; None: minus the epoch's training loss).
    """
    previous_threads = torch.get_num_threads()
    previous_deterministic = torch.are_deterministic_algorithms_enabled()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        torch.manual_seed(settings.seed)
        rng = np.random.default_rng(settings.seed)
        model = make_model()
        if distributed.world() > 1 and distributed.rank() > 0:
            torch.manual_seed(settings.seed + distributed.rank())  # one init (DDP sends rank 0's), own dropout
        opt, sched = make_optimizer(model)
        return _loop(model, opt, sched, batches, loss, score, settings, rng)
    finally:
        torch.set_num_threads(previous_threads)
        torch.use_deterministic_algorithms(previous_deterministic)


def _loop(model, opt, sched, batches, loss, score, settings: FitSettings, rng) -> tuple[nn.Module, FitHistory]:
    from tqdm.auto import tqdm

    trained = distributed.wrap(model)  # ``model`` itself in one process
    average = _averaged(model, settings.ema_decay)
    kept = average.module if average is not None else model  # what is scored, kept and returned
    start = time.perf_counter()
    history = FitHistory()
    best_state = copy.deepcopy(kept.state_dict())
    bar = tqdm(range(settings.epochs), desc=settings.label, disable=not (settings.progress and distributed.is_writer()), leave=False)
    for epoch in bar:
        t0 = time.perf_counter()
        mean_loss, parts = _epoch(trained, opt, sched, batches(rng), loss, settings.grad_clip, average)
        distributed.sync_buffers(model)
        if average is not None:
            distributed.sync_buffers(kept)
        val = distributed.from_writer(lambda: float(score(kept))) if score is not None else -mean_loss
        model.train()
        history.epochs.append(EpochLog(epoch, mean_loss, parts, val, time.perf_counter() - t0))
        bar.set_postfix(loss=f"{mean_loss:.4f}", val=f"{val:.4f}")
        if val > history.best_score:
            history.best_score, history.best_epoch = val, epoch
            best_state = copy.deepcopy(kept.state_dict())
        elif epoch - history.best_epoch >= settings.patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    history.seconds = time.perf_counter() - start
    return model, history


def _averaged(model: nn.Module, decay: float | None):
    """The EMA of ``model``'s weights and buffers (None without a decay)."""
    if decay is None:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def _epoch(model, opt, sched, batches: Iterable[Any], loss: LossFn, grad_clip: float,
           average=None) -> tuple[float, dict[str, float]]:
    """One pass over ``batches``: the mean loss and the mean of each loss part (``average``: an
    ``AveragedModel`` updated after every step)."""
    model.train()
    total, steps, sums = 0.0, 0, {}
    for batch in batches:
        batch, share = _share(batch)
        value, parts = loss(model, batch)
        if share != 1.0:
            value, parts = value * share, {k: v * share for k, v in parts.items()}
        opt.zero_grad(set_to_none=True)
        value.backward()
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        if sched is not None:
            sched.step()
        if average is not None:
            average.update_parameters(getattr(model, "module", model))
        total += float(value.detach())
        steps += 1
        for key, v in parts.items():
            sums[key] = sums.get(key, 0.0) + v
    keys = sorted(sums)
    total, *part_sums = distributed.mean([total, *(sums[k] for k in keys)])
    steps = max(steps, 1)
    return total / steps, {k: v / steps for k, v in zip(keys, part_sums)}


def _share(batch: Any) -> tuple[Any, float]:
    """This rank's rows of a global batch, and the loss factor ``rows here * world / rows`` that makes
    the ranks' averaged gradient the whole batch's; a rank left without rows gets one at factor 0."""
    w = distributed.world()
    if w == 1:
        return batch, 1.0
    n = _rows(batch)
    mine = list(range(distributed.rank(), n, w))
    share = len(mine) * w / n
    if not mine:
        mine, share = [0], 0.0
    return _take(batch, torch.tensor(mine), n), share


def _rows(batch: Any) -> int:
    if isinstance(batch, torch.Tensor):
        return len(batch)
    values = batch.values() if isinstance(batch, dict) else batch
    return next(_rows(v) for v in values if isinstance(v, (torch.Tensor, dict, list, tuple)))


def _take(batch: Any, rows: torch.Tensor, n: int) -> Any:
    """``rows`` of every tensor in ``batch`` (nested dicts, lists, tuples) whose first dimension is ``n``."""
    if isinstance(batch, torch.Tensor):
        return batch[rows] if batch.dim() > 0 and len(batch) == n else batch
    if isinstance(batch, dict):
        return {k: _take(v, rows, n) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_take(v, rows, n) for v in batch)
    return batch
