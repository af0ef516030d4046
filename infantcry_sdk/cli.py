"""The ``infantcry`` command: predict files, play a file through a stream, describe a model.

Exit codes: 0 ok, 2 bad input (unreadable/unsupported audio, bad arguments), 3 bad model.
Errors print one line to stderr, never a stack trace. A reader that closes the output early
(``infantcry predict *.wav | head -1``) ends the command quietly with exit 0.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import NoReturn, Sequence

from . import __version__
from .audio import read_file
from .classifier import CryClassifier, CryPrediction
from .errors import AudioError, ModelError

EXIT_OK, EXIT_BAD_INPUT, EXIT_BAD_MODEL = 0, 2, 3


#: Longest ``--chunk-ms``: one hour.
MAX_CHUNK_MS = 3_600_000.0


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2), in the form every other CLI error takes."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"infantcry: bad argument: {message} (see {self.prog} --help)\n")


def _chunk_ms(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--chunk-ms must be a number, not {text!r}") from None
    if not (math.isfinite(value) and 0.0 < value <= MAX_CHUNK_MS):
        raise argparse.ArgumentTypeError(f"--chunk-ms must be in (0, {MAX_CHUNK_MS:.0f}], not {text}")
    return value


def _threads(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--threads must be an integer, not {text!r}") from None
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"--threads must be in 1..256, not {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="infantcry", description="On-device infant cry detection.")
    parser.add_argument("--version", action="version", version=f"infantcry {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="score audio files (a table, or one JSON object per file)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--model", help="model path (.onnx or .ort); default: the bundled model")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--threads", type=_threads, default=1, help="onnxruntime threads (default 1)")

    s = sub.add_parser("stream", help="play a file through CryStream in chunks and print events")
    s.add_argument("file", metavar="FILE")
    s.add_argument("--chunk-ms", type=_chunk_ms, default=100.0, help="chunk length in ms (default 100)")
    s.add_argument("--model", help="model path (.onnx or .ort); default: the bundled model")
    s.add_argument("--json", action="store_true", help="one JSON object per event")

    i = sub.add_parser("info", help="labels, thresholds, sizes and metadata of a model")
    i.add_argument("model", nargs="?", metavar="MODEL", help="model path; default: the bundled model")
    i.add_argument("--json", action="store_true")
    return parser


def _row(path: str, p: CryPrediction) -> str:
    verdict = "cry" if p.is_cry else "-"
    cause = p.cause or "-"
    return f"{path}\t{verdict}\t{p.cry_probability:.3f}\t{cause}\t{p.duration_s:.2f}"


def _predict(args: argparse.Namespace) -> int:
    clf = CryClassifier.load(args.model, threads=args.threads)
    code = EXIT_OK
    if not args.json:
        print("file\tcry\tp_cry\tcause\tseconds")
    for path in args.files:
        try:
            p = clf.predict(path)
        except AudioError as exc:
            print(f"infantcry: {path}: {exc}", file=sys.stderr)
            code = EXIT_BAD_INPUT
            continue
        print(json.dumps({"file": path, **p.to_dict()}) if args.json else _row(path, p), flush=True)
    return code


def _stream(args: argparse.Namespace) -> int:
    clf = CryClassifier.load(args.model)
    samples, rate = read_file(args.file)
    stream = clf.stream(sample_rate=rate)
    chunk = max(1, int(round(rate * args.chunk_ms / 1000.0)))

    def show(events: list) -> None:
        for e in events:
            if args.json:
                print(json.dumps(e.to_dict()), flush=True)
            else:
                cause = f" cause={e.cause}" if e.cause else ""
                delay = f" delay={e.delay_s:.2f}s" if e.delay_s is not None else ""
                print(f"{e.time_s:9.3f}s  {e.kind:<5}  p={e.cry_probability:.3f}{cause}{delay}", flush=True)

    for i in range(0, samples.shape[0], chunk):
        show(stream.push(samples[i : i + chunk]))
    show(stream.flush())
    return EXIT_OK


def _info(args: argparse.Namespace) -> int:
    info = CryClassifier.load(args.model).info()
    if args.json:
        print(json.dumps(info, indent=2))
        return EXIT_OK
    for key in (
        "path", "file_bytes", "model_version", "schema_version", "sample_rate", "labels",
        "detection_threshold", "cause_min_confidence", "window_seconds", "hop_seconds", "min_samples",
        "stream_on_threshold", "stream_off_threshold", "stream_smoothing_windows", "stream_min_on_windows",
        "stream_min_off_windows", "cause_status", "cause_status_reason",
    ):
        print(f"{key:22} {info[key]}")
    grid = info["window_grid"]  # what the stream waits for after a window is its detection delay floor
    print(f"{'context':22} {grid['context_before']} samples before each window, {grid['context_after']} after")
    for arg in info["inputs"] + info["outputs"]:
        print(f"{'graph':22} {arg['name']} {arg['type']} {arg['shape']}")
    print(f"{'training_summary':22} {info['training_summary']}")
    return EXIT_OK


def _quiet_broken_pipe() -> int:
    """The reader went away: send what is left of stdout to /dev/null (so the interpreter's final
    flush does not fail again) and exit quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``infantcry`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    handler = {"predict": _predict, "stream": _stream, "info": _info}[args.command]
    try:
        return handler(args)
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except AudioError as exc:
        print(f"infantcry: bad input: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ModelError as exc:
        print(f"infantcry: bad model: {exc}", file=sys.stderr)
        return EXIT_BAD_MODEL
    except ValueError as exc:  # option values such as --threads 0
        print(f"infantcry: bad argument: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
