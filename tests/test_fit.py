"""export.training.fit: the one loop (seeds, best epoch, patience, threads) and the teacher head through it."""
from __future__ import annotations

import numpy as np
import torch

from export.models.teacher import ClipFeatures, TeacherConfig, TeacherHead, TrainItem, predict
from export.training.fit import FitSettings, fit
from export.training.head import train_head


def _linear_problem(n: int = 32, batch: int = 8):
    """A line to fit: ``n`` points in shuffled batches of ``batch``; (batches, loss, optimizer)."""
    x = torch.linspace(-1, 1, n)[:, None]
    y = 3 * x + 0.5

    def batches(rng: np.random.Generator):
        order = torch.as_tensor(rng.permutation(n))
        for s in range(0, n, batch):
            idx = order[s : s + batch]
            yield x[idx], y[idx]

    def loss(model, batch):
        xb, yb = batch
        value = ((model(xb) - yb) ** 2).mean()
        return value, {"mse": float(value.detach())}

    def optimizer(model):
        return torch.optim.SGD(model.parameters(), lr=0.1), None

    return batches, loss, optimizer


def test_fit_is_seeded_keeps_the_best_epoch_and_restores_threads() -> None:
    batches, loss, optimizer = _linear_problem()
    before = torch.get_num_threads()
    settings = FitSettings(epochs=5, patience=5, grad_clip=1.0, seed=3, threads=1, progress=False)
    m1, h1 = fit(lambda: torch.nn.Linear(1, 1), optimizer, batches, loss, None, settings)
    m2, _ = fit(lambda: torch.nn.Linear(1, 1), optimizer, batches, loss, None, settings)
    assert torch.get_num_threads() == before and not m1.training
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert len(h1.epochs) == 5 and h1.epochs[-1].train_loss < h1.epochs[0].train_loss
    assert h1.best_score == max(e.val_score for e in h1.epochs) and "mse" in h1.epochs[0].parts


def test_fit_stops_after_patience_and_restores_the_best_weights() -> None:
    batches, loss, optimizer = _linear_problem()
    scores = iter([0.5, 0.9, 0.1, 0.2, 0.3, 0.4])
    states = []

    def score(model):
        states.append({k: v.clone() for k, v in model.state_dict().items()})
        return next(scores)

    settings = FitSettings(epochs=6, patience=2, grad_clip=1.0, progress=False)
    model, hist = fit(lambda: torch.nn.Linear(1, 1), optimizer, batches, loss, score, settings)
    assert len(hist.epochs) == 4 and hist.best_epoch == 1
    assert all(torch.equal(v, states[1][k]) for k, v in model.state_dict().items())


def _items(n: int, seed: int) -> list[TrainItem]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        cry = i % 2
        emb = rng.normal(0, 1, (3, 1024))
        emb[:, :512] += 2.0 * cry  # a direction (LayerNorm removes a constant offset)
        emb = emb.astype(np.float16)
        feats = ClipFeatures(emb, emb, rng.uniform(0, 1, 3).astype(np.float32), rng.uniform(0, 1, (3, 9)).astype(np.float16))
        out.append(TrainItem(f"c{seed}_{i}", feats, cry, cause=i % 3 if cry else -1, tag=i % 9))
    return out


def test_teacher_head_trains_through_fit_and_separates_cries() -> None:
    config = TeacherConfig(pooling="mean", epochs=8, patience=8, batch_size=8, hidden_dim=16, lr=1e-2)
    train, val = _items(24, 0), _items(8, 1)

    def make():
        return TeacherHead(1024, 3, config)

    def score(out, items):  # separation: mean cry probability of cries minus that of non-cries
        y = np.array([it.is_cry for it in items]) == 1
        return float(out.cry_probability[y].mean() - out.cry_probability[~y].mean())

    h1, hist = train_head(make, train, val, config, score, seed=1, progress=False)
    h2, _ = train_head(make, train, val, config, score, seed=1, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(h1.state_dict().values(), h2.state_dict().values()))
    assert 1 <= len(hist.epochs) <= 8 and hist.best_score > 0.2
    p = predict(h1, val, config).cry_probability
    assert p[1::2].mean() > p[0::2].mean()


def test_fit_with_ema_scores_and_returns_the_moving_average_of_every_step() -> None:
    batches, loss, optimizer = _linear_problem()
    decay = 0.8
    steps: list[dict] = []  # the raw weights after every optimiser step, from a plain run
    scored: list[dict] = []

    def recording_optimizer(model):
        opt, sched = optimizer(model)
        step = opt.step

        def stepped(*args, **kwargs):
            out = step(*args, **kwargs)
            steps.append({k: v.detach().clone() for k, v in model.state_dict().items()})
            return out

        opt.step = stepped
        return opt, sched

    def score(model):
        scored.append({k: v.clone() for k, v in model.state_dict().items()})
        return float(len(scored))  # every epoch better: the last one is kept

    settings = FitSettings(epochs=3, patience=3, grad_clip=1.0, seed=2, threads=1, progress=False, ema_decay=decay)
    model, hist = fit(lambda: torch.nn.Linear(1, 1), recording_optimizer, batches, loss, score, settings)
    assert hist.best_epoch == 2 and len(steps) == 12
    ema = {k: v.clone() for k, v in steps[0].items()}  # AveragedModel copies the first update as is
    for s in steps[1:]:
        ema = {k: decay * ema[k] + (1 - decay) * s[k] for k in ema}
    for k, v in model.state_dict().items():
        assert torch.allclose(v, ema[k], atol=1e-6) and torch.equal(v, scored[-1][k])
        assert not torch.allclose(v, steps[-1][k])  # not the raw weights


def test_fit_rejects_an_ema_decay_outside_the_open_unit_interval() -> None:
    import pytest

    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="ema_decay"):
            FitSettings(epochs=1, patience=1, grad_clip=1.0, ema_decay=bad)
