"""torch.distributed for the training stages: one process group per ``torchrun`` launch.

``torchrun`` sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` in each process it starts; with them
(and a world of more than one) :func:`session` creates the process group, otherwise nothing here
creates one and every helper is the identity of a world of one, so a plain ``python -m export`` run
takes the same code path with the same numbers.

Collectives are live only inside :func:`together`, the block every rank runs in lockstep (the
teacher and student stages). Outside it rank 0 works alone (the data, export and report stages) and
the helpers behave as in one process, so a rank-0-only stage can never wait on a collective no other
rank will join. Rank 0 is the writer: only it writes the run folder, the manifest and the caches.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, TypeVar

if TYPE_CHECKING:
    import torch

T = TypeVar("T")
ENV = ("WORLD_SIZE", "RANK", "LOCAL_RANK")
#: How long a collective waits for the other ranks before it fails (so an error on one rank ends the
#: others instead of hanging them): ``$INFANTCRY_DIST_TIMEOUT_S``, default 30 minutes.
TIMEOUT_S = float(os.environ.get("INFANTCRY_DIST_TIMEOUT_S", 1800))

_live = False  # inside together(): collectives run


def launched() -> bool:
    """True in a process started by ``torchrun`` with more than one process in the world."""
    return all(k in os.environ for k in ENV) and int(os.environ["WORLD_SIZE"]) > 1


def backend() -> str:
    """gloo for CPU tensors; with CUDA, NCCL for CUDA tensors in the same group."""
    import torch

    return "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"


@contextmanager
def session() -> Iterator[None]:
    """The process group for this launch (none without torchrun), destroyed on the way out."""
    if not launched():
        yield
        return
    import torch.distributed as dist

    dist.init_process_group(backend(), timeout=timedelta(seconds=TIMEOUT_S))
    try:
        yield
    finally:
        dist.destroy_process_group()


def _group_ready() -> bool:
    dist = sys.modules.get("torch.distributed")  # not imported: no group can exist (keeps data code torch-free)
    return dist is not None and dist.is_available() and dist.is_initialized()


def rank() -> int:
    if not _group_ready():
        return 0
    return sys.modules["torch.distributed"].get_rank()


def world() -> int:
    """Processes taking part in collectives now: the group's size inside :func:`together`, else 1."""
    return sys.modules["torch.distributed"].get_world_size() if _live and _group_ready() else 1


def is_writer() -> bool:
    """Whether this process writes files (rank 0, or the only process)."""
    return rank() == 0


def threads_per_process(threads: int) -> int:
    """``threads`` shared among the processes torchrun started on this machine."""
    return max(1, threads // int(os.environ.get("LOCAL_WORLD_SIZE", 1))) if launched() else threads


@contextmanager
def together() -> Iterator[None]:
    """A block every rank runs in lockstep; ends with a barrier so rank 0's writes are visible after it."""
    global _live
    previous, _live = _live, _group_ready()
    try:
        yield
        barrier()
    finally:
        _live = previous


def barrier() -> None:
    if _group_ready():  # also outside together(): the ranks meet between stages
        sys.modules["torch.distributed"].barrier()


def from_writer(make: Callable[[], T]) -> T:
    """``make()`` evaluated on rank 0 and sent to every rank (each rank takes the same decision)."""
    if world() == 1:
        return make()
    import torch.distributed as dist

    box = [make() if is_writer() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def shard(items: Sequence[T]) -> Sequence[T]:
    """This rank's share of ``items``: every ``world()``-th one from ``rank()`` (DistributedSampler's split)."""
    return items[rank() :: world()] if world() > 1 else items


def unshard(mine: list[T], n: int) -> list[T]:
    """Every rank's :func:`shard` results gathered back into the original order of ``n`` items."""
    w = world()
    if w == 1:
        return mine
    import torch.distributed as dist

    parts: list[Any] = [None] * w
    dist.all_gather_object(parts, mine)
    return [parts[i % w][i // w] for i in range(n)]


def mean(values: Sequence[float]) -> list[float]:
    """The mean over ranks of each value."""
    if world() == 1:
        return list(values)
    import torch
    import torch.distributed as dist

    t = torch.tensor(list(values), dtype=torch.float64)
    dist.all_reduce(t)
    return (t / world()).tolist()


def wrap(model: "torch.nn.Module") -> "torch.nn.Module":
    """``model`` in DistributedDataParallel when ranks train together, else ``model`` itself.

    Unused parameters are expected: a batch share without a cause label leaves the cause head idle.
    """
    if world() == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, find_unused_parameters=True)


def sync_buffers(model: "torch.nn.Module") -> None:
    """Rank 0's buffers (batch-norm statistics) on every rank, so the ranks hold one model."""
    if world() == 1:
        return
    import torch.distributed as dist

    for buf in model.buffers():
        dist.broadcast(buf, src=0)
