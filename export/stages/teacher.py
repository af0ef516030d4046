"""Stages ``data`` and ``teacher``: the split, the YAMNet teacher, its baselines and ablations.

The teacher is trained once on the training side, its threshold and abstention level are chosen on
the validation side, and it is measured once on the test side. The baselines and the pooling ablation
are trained the same way on the same cached features, so every row of the report is comparable.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from export.evaluation import metrics
from export.audio.augment import Augmenter
from export.data.catalog import (
    TAG_LABELS,
    CatalogInfo,
    Clip,
    Splits,
    WaveformStore,
    background_clips,
    load_catalog,
    make_splits,
    describe,
)
from export.evaluation.evaluate import (
    EvalSet,
    Scores,
    choose_cause_min_confidence,
    choose_detection_threshold,
    evaluate,
    recall_vs_snr,
    selection_score,
)
from export.training.features import FeatureExtractor, extract_cached
from export.pipeline import Run
from export.models.teacher import (
    ClipFeatures,
    TeacherConfig,
    TeacherHead,
    TrainItem,
    parameter_counts,
    predict,
    save_teacher,
    score_waves,
    train_head,
)
from export.models.yamnet import load_yamnet

YAMNET_TFLITE = Path("models/yamnet/yamnet.tflite")


# ------------------------------------------------------------------------------------------ data
@dataclass
class DataContext:
    """The catalog and split every stage after ``data`` works from."""

    clips: list[Clip]
    splits: Splits
    store: WaveformStore
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        self.by_id = {c.clip_id: c for c in self.clips}

    def side(self, name: str) -> list[Clip]:
        return [self.by_id[i] for i in getattr(self.splits, name) if i in self.by_id]

    def waves(self, clips: Sequence[Clip]) -> list[np.ndarray]:
        loaded = self.store.load_many(clips)
        return [loaded[c.clip_id] for c in clips]

    def eval_set(self, clips: Sequence[Clip]) -> EvalSet:
        det = [c for c in clips if c.is_cry is not None]
        index = {lab: i for i, lab in enumerate(self.labels)}
        cau = [c for c in clips if c.cause in index]
        return EvalSet(
            det_ids=[c.clip_id for c in det],
            det_y=np.array([int(c.is_cry) for c in det], dtype=int),
            det_groups=np.array([c.group for c in det]),
            det_durations=np.array([c.duration_s for c in det], dtype=np.float64),
            cause_ids=[c.clip_id for c in cau],
            cause_y=np.array([index[c.cause] for c in cau], dtype=int),
            cause_groups=np.array([c.group for c in cau]),
        )


def _tiny_subset(clips: list[Clip], splits: Splits, per_side: int, seed: int) -> Splits:
    """A few clips per side (cries of several causes, ESC-50 and speech negatives) for CI's smoke run."""
    rng = np.random.default_rng(seed)
    by_id = {c.clip_id: c for c in clips}

    def pick(ids: list[str]) -> list[str]:
        cs = [by_id[i] for i in ids]
        out: list[str] = []
        causes = sorted({c.cause for c in cs if c.cause})
        for cause in causes:  # one of each cause first, so the cause head sees several classes
            out.append(next(c.clip_id for c in cs if c.cause == cause))
        for kind in (lambda c: c.cause is not None, lambda c: c.source == "esc50", lambda c: c.source == "speech"):
            pool = [c.clip_id for c in cs if kind(c) and c.clip_id not in out]
            take = min(len(pool), max(2, per_side // 3))
            out.extend(rng.choice(pool, size=take, replace=False).tolist() if pool else [])
        return sorted(set(out))

    test, train, val = pick(splits.test), pick(splits.train), pick(splits.val)
    dev = sorted(train + val)
    keep = set(dev)
    folds = [([i for i in tr if i in keep], [i for i in va if i in keep]) for tr, va in splits.folds]
    folds = [f for f in folds if f[0] and f[1]]
    if len(folds) < 2:
        folds = [(train, val), (val, train)]
    groups = {i: splits.groups[i] for i in test + dev}
    return Splits(test=test, dev=dev, val=val, train=train, folds=folds, groups=groups, config=splits.config)


def stage_data(run: Run) -> DataContext:
    t0 = time.time()
    cfg = run.config
    info = CatalogInfo()
    clips = load_catalog(run.data_root, include_speech=cfg.data.include_speech, info=info)
    splits = make_splits(clips, cfg.data)
    if cfg.tiny:
        splits = _tiny_subset(clips, splits, cfg.tiny_clips_per_side, cfg.data.seed)
    keep = set(splits.test) | set(splits.dev)
    clips = [c for c in clips if c.clip_id in keep]
    split_path = splits.save(run.path("split.json"))
    data_path = run.write_json("data.json", describe(clips, splits, cfg.data, info))
    run.record("data", [split_path, data_path], time.time() - t0, {"clips": len(clips)})
    return load_data(run)


def load_data(run: Run) -> DataContext:
    """The catalog restricted to the saved split (``split.json``), with a decode cache."""
    splits = Splits.load(run.require("split.json", "data"))
    keep = set(splits.test) | set(splits.dev)
    clips = [c for c in load_catalog(run.data_root, include_speech=run.config.data.include_speech) if c.clip_id in keep]
    if len(clips) != len(keep):
        raise RuntimeError("split.json names clips this data root does not have: rerun the 'data' stage.")
    store = WaveformStore(cache_dir=run.cache_dir / "waveforms")
    return DataContext(clips, splits, store, tuple(run.config.data.cause_labels))


# --------------------------------------------------------------------------------------- teacher
def _items(ctx: DataContext, clips: Sequence[Clip], feats: dict[str, ClipFeatures], use_uncurated: bool) -> list[TrainItem]:
    index = {lab: i for i, lab in enumerate(ctx.labels)}
    tags = {t: i for i, t in enumerate(TAG_LABELS)}
    out = []
    for c in clips:
        if c.is_cry is None and not use_uncurated:
            continue
        out.append(
            TrainItem(
                clip_id=c.clip_id,
                feats=feats[c.clip_id],
                is_cry=-1 if c.is_cry is None else int(c.is_cry),
                cause=index.get(c.cause, -1) if c.cause else -1,
                tag=tags.get(c.tag, -1) if c.tag else -1,
                group=c.group,
            )
        )
    return out


def _frozen_view(items: Sequence[TrainItem]) -> list[TrainItem]:
    """The same items reading the frozen backbone's embeddings (for the baselines and ablation)."""
    return [
        replace(it, feats=ClipFeatures(it.feats.embeddings, it.feats.embeddings, it.feats.cry_scores)) for it in items
    ]


def _scores(out) -> Scores:
    return Scores(out.clip_ids, out.cry_probability, out.cause_probabilities)


def _val_score(ev: EvalSet, labels: Sequence[str]):
    """Early stopping and model selection on validation: :func:`export.evaluation.evaluate.selection_score`."""

    def score(out, _items) -> float:
        s = _scores(out)
        d, c = s.select(ev.det_ids), s.select(ev.cause_ids)
        return selection_score(ev.det_y, d.cry_probability, ev.cause_y, c.cause_probabilities, labels)

    return score


def _make_head(ctx: DataContext, config: TeacherConfig, trainable_blocks=None, in_dim: int = 1024) -> TeacherHead:
    """A fresh head; the backbone blocks it fine-tunes are a copy, so every run starts from YAMNet."""
    blocks = copy.deepcopy(trainable_blocks) if trainable_blocks is not None else None
    return TeacherHead(in_dim, len(ctx.labels), config, blocks)


@dataclass
class TrainedHead:
    head: TeacherHead
    config: TeacherConfig
    threshold: float
    cause_min_confidence: float
    test: dict
    history: list
    val_score: float = float("-inf")


def _fit_and_measure(
    ctx: DataContext, train: list[TrainItem], val: list[TrainItem], test: list[TrainItem], config: TeacherConfig,
    ev_val: EvalSet, ev_test: EvalSet, n_boot: int, trainable_blocks=None, in_dim: int = 1024,
) -> TrainedHead:
    labels = ctx.labels
    head, history = train_head(lambda: _make_head(ctx, config, trainable_blocks, in_dim), train, val, config, _val_score(ev_val, labels))
    val_s, test_s = _scores(predict(head, val, config)), _scores(predict(head, test, config))
    thr = choose_detection_threshold(ev_val, val_s)
    conf = choose_cause_min_confidence(ev_val, val_s)
    vs = _val_score(ev_val, labels)(predict(head, val, config), val)
    return TrainedHead(head, config, thr, conf, evaluate(ev_test, test_s, thr, labels, n_boot, config.seed), history, vs)


def _brief(section: dict) -> dict:
    """The few numbers a table row needs, in the report's nested shape."""
    d, c = section["detection"], section.get("cause") or {}
    return {
        "detection": {k: d[k] for k in ("f1", "recall", "fpr", "auc")},
        "cause": {k: c.get(k) for k in ("balanced_accuracy", "macro_f1", "accuracy")},
    }


def stage_teacher(run: Run, ctx: DataContext) -> dict:
    t0 = time.time()
    cfg = run.config
    tc = cfg.teacher
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(tc.seed)
    use_uncurated = cfg.data.use_uncurated == "aux_tags"

    yamnet = load_yamnet(run.data_root / YAMNET_TFLITE, cache_dir=run.cache_dir)
    extractor = FeatureExtractor(
        yamnet, hop_frames=tc.hop_frames, trainable_blocks=tc.fine_tune_blocks, cache_dir=run.cache_dir, threads=cfg.threads
    )
    train_c, val_c, test_c = ctx.side("train"), ctx.side("val"), ctx.side("test")
    everything = test_c + ctx.side("dev")
    feats = extract_cached(extractor, [c.clip_id for c in everything], ctx.waves(everything), run.cache_dir, "clips")

    # Noisy copies of the training cries (backgrounds from the training side only).
    noise = ctx.waves(background_clips(ctx.clips, [c.clip_id for c in train_c]))
    aug = Augmenter(noise, seed=tc.seed)
    rng = np.random.default_rng(tc.seed)
    cries = [c for c in train_c if c.is_cry]
    aug_clips, aug_waves = [], []
    for k in range(tc.augment_copies):
        for c, w in zip(cries, ctx.waves(cries)):
            aug_clips.append(replace(c, clip_id=f"{c.clip_id}#aug{k}"))
            aug_waves.append(aug(w, rng))
    feats.update(extract_cached(extractor, [c.clip_id for c in aug_clips], aug_waves, run.cache_dir, f"aug-s{tc.seed}"))

    train = _items(ctx, train_c + aug_clips, feats, use_uncurated)
    val, test = _items(ctx, val_c, feats, False), _items(ctx, test_c, feats, False)
    ev_val, ev_test = ctx.eval_set(val_c), ctx.eval_set(test_c)
    tail = extractor.tail if tc.fine_tune_blocks > 0 else None

    # Pooling ablation: the teacher's recipe on frozen embeddings, one pooling at a time. With
    # pooling "auto" the teacher takes the pooling with the best VALIDATION score (never test).
    ftrain, fval, ftest = _frozen_view(train), _frozen_view(val), _frozen_view(test)
    frozen_cfg = replace(tc, fine_tune_blocks=0)
    ablation, ablation_heads = {}, {}
    for pooling in cfg.pooling_ablation:
        r = _fit_and_measure(ctx, ftrain, fval, ftest, replace(frozen_cfg, pooling=pooling), ev_val, ev_test, cfg.n_boot)
        ablation[pooling] = {**_brief(r.test), "val_score": r.val_score}
        ablation_heads[pooling] = r
    pooling = tc.pooling
    if pooling == "auto":
        pooling = max(ablation_heads, key=lambda k: ablation_heads[k].val_score)
    tc = replace(tc, pooling=pooling)

    # The teacher (reusing the ablation's head when nothing else differs).
    if tc.fine_tune_blocks == 0 and pooling in ablation_heads:
        main = ablation_heads[pooling]
    else:
        main = _fit_and_measure(ctx, train, val, test, tc, ev_val, ev_test, cfg.n_boot, tail)

    # Weak labels: uncurated training-side uploads the teacher hears as crying become extra positives,
    # their parent's tag a down-weighted cause label; kept only if the VALIDATION score improves.
    weak_info: dict = {"weight": tc.weak_label_weight}
    if tc.weak_label_weight > 0:
        index = {lab: i for i, lab in enumerate(ctx.labels)}
        unc = [c for c in train_c if c.is_cry is None]
        unc_items = _items(ctx, unc, feats, True)
        p = predict(main.head, unc_items, tc).cry_probability if unc_items else np.zeros(0)
        weak = [
            replace(it, is_cry=1, cause=index.get(c.tag, -1), weight=tc.weak_label_weight)
            for it, c, pi in zip(unc_items, unc, p) if pi >= main.threshold
        ]
        weak_ids = {it.clip_id for it in weak}
        base = [it for it in train if it.clip_id not in weak_ids]
        weak_info.update({"candidates": len(unc_items), "accepted": len(weak),
                          "with_cause": sum(it.cause >= 0 for it in weak), "val_score_before": main.val_score})
        if weak:
            second = _fit_and_measure(ctx, base + weak, val, test, tc, ev_val, ev_test, cfg.n_boot, tail)
            weak_info["val_score_after"] = second.val_score
            weak_info["kept"] = bool(second.val_score > main.val_score)
            weak_info["test_without"] = _brief(main.test)
            weak_info["test_with"] = _brief(second.test)
            if weak_info["kept"]:
                main, train = second, base + weak

    # Recall vs SNR: test cries into test-side backgrounds.
    test_cries = [c for c in test_c if c.is_cry]
    test_noise = ctx.waves(background_clips(ctx.clips, [c.clip_id for c in test_c]))

    main.test["detection"]["recall_vs_snr"] = recall_vs_snr(
        lambda waves: score_waves(extractor, main.head, tc, waves).cry_probability,
        ctx.waves(test_cries), test_noise, main.threshold, seed=tc.seed,
    )

    # Baselines on the frozen embeddings.
    majority = int(np.bincount([it.cause for it in train if it.cause >= 0], minlength=len(ctx.labels)).argmax())
    onehot = np.tile(np.eye(len(ctx.labels))[majority], (len(test), 1))
    ids = [it.clip_id for it in test]
    base_major = evaluate(ev_test, Scores(ids, np.ones(len(test)), onehot), 0.5, ctx.labels, cfg.n_boot, tc.seed)
    zs = lambda items: np.array([float(it.feats.cry_scores.max()) for it in items])  # noqa: E731
    val_zs = Scores([it.clip_id for it in val], zs(val), np.full((len(val), len(ctx.labels)), 1 / len(ctx.labels)))
    zs_thr = choose_detection_threshold(ev_val, val_zs)
    test_zs = Scores(ids, zs(test), np.full((len(test), len(ctx.labels)), 1 / len(ctx.labels)))
    base_zero = {"detection": evaluate(ev_test, test_zs, zs_thr, ctx.labels, cfg.n_boot)["detection"], "cause": None,
                 "note": "max over patches of YAMNet's 'Baby cry, infant cry' and 'Crying, sobbing' scores; no cause output"}
    probe_cfg = replace(frozen_cfg, pooling="mean", hidden_dim=0, tag_loss_weight=0.0, dropout=0.0)
    probe = _fit_and_measure(ctx, ftrain, fval, ftest, probe_cfg, ev_val, ev_test, cfg.n_boot)
    baselines = {
        "majority": {**base_major, "note": f"always '{ctx.labels[majority]}'; detection: always 'cry'"},
        "yamnet_zero_shot": base_zero,
        "yamnet_linear_probe": {**probe.test, "note": "mean-pooled frozen YAMNet embeddings, linear heads"},
    }

    # Grouped cross-validation over the development side (threshold-free figures + F1 at the teacher's threshold).
    cv = []
    if cfg.cross_validation:
        dev_items = {it.clip_id: it for it in train + val if it.weight == 1.0}  # no weak labels: no leakage
        aug_of = {}
        for it in train:
            if "#aug" in it.clip_id:
                aug_of.setdefault(it.clip_id.split("#aug")[0], []).append(it)
        for fold_train, fold_val in ctx.splits.folds:
            tr = [dev_items[i] for i in fold_train if i in dev_items]
            tr += [a for i in fold_train for a in aug_of.get(i, [])]
            va = [dev_items[i] for i in fold_val if i in dev_items]
            ev = ctx.eval_set([ctx.by_id[i] for i in fold_val])
            head, _ = train_head(lambda: _make_head(ctx, tc, tail), tr, [], tc, _val_score(ev, ctx.labels), progress=False)
            res = evaluate(ev, _scores(predict(head, va, tc)), main.threshold, ctx.labels, 0)
            cv.append(_brief(res))
    cv_summary = metrics.summarize_folds(cv) if cv else {}

    # Teacher outputs on every development clip: the distillation targets.
    dev_out = predict(main.head, train + val, tc)
    test_out = predict(main.head, test, tc)
    logits_path = run.path("teacher_logits.npz")
    np.savez(
        logits_path,
        clip_ids=np.array(dev_out.clip_ids + test_out.clip_ids),
        cry_logit=np.concatenate([dev_out.cry_logit, test_out.cry_logit]).astype(np.float32),
        cause_logits=np.concatenate([dev_out.cause_logits, test_out.cause_logits]).astype(np.float32),
    )
    params = parameter_counts(yamnet, main.head, tail)["total"]
    teacher_path = save_teacher(run.path("teacher.pt"), main.head, tc, ctx.labels, main.threshold, main.cause_min_confidence)
    section = {
        "teacher": {
            "backbone": "YAMNet (AudioSet), int8 weights dequantized from yamnet.tflite",
            "pooling": tc.pooling, "fine_tune_blocks": tc.fine_tune_blocks,
            "parameters": params,
            "fp32_bytes": 4 * params,
            "threshold": main.threshold, "cause_min_confidence": main.cause_min_confidence,
            "epochs_trained": len(main.history),
            "best_epoch": int(max(main.history, key=lambda h: h["val_score"])["epoch"]) if main.history else None,
            "train_items": len(train), "augmented_copies": len(aug_clips),
            "uncurated_used_for_tags": sum(it.is_cry == -1 for it in train),
            "pooling_chosen_on": "validation selection score (export.evaluation.evaluate.selection_score)" if run.config.teacher.pooling == "auto" else "config",
            "weak_labels": weak_info,
        },
        "detection": main.test["detection"],
        "cause": main.test["cause"],
        "baselines": baselines,
        "pooling_ablation": ablation,
        "cv": {"n_folds": len(cv), **cv_summary, "folds": cv,
               "note": "grouped folds over the development side; fixed epochs; F1 at the teacher's threshold"},
        "thresholds": {"detection_threshold": main.threshold, "cause_min_confidence": main.cause_min_confidence,
                       "chosen_on": "validation side of the development split"},
    }
    report_path = run.write_json("teacher_report.json", section)
    run.record("teacher", [teacher_path, logits_path, report_path], time.time() - t0,
               {"detection_f1": main.test["detection"]["f1"], "cause_balanced_accuracy": main.test["cause"]["balanced_accuracy"]})
    return section
