"""The ``infantcry`` command: output shapes and exit codes (0 ok, 2 bad input, 3 bad model)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from export.modelfile.toy import build_foreign_model
from infantcry_sdk import model as model_mod
from infantcry_sdk.cli import main

SR = 16000
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wavs(tmp_path_factory, synth_cry) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli_audio")
    paths = {"cry": d / "cry.wav", "quiet": d / "quiet.flac", "bursts": d / "bursts.wav", "corrupt": d / "bad.wav"}
    sf.write(paths["cry"], synth_cry(SR, 2.0), SR)
    sf.write(paths["quiet"], np.zeros(SR, np.float32), SR, format="FLAC")
    sf.write(paths["bursts"], synth_cry(44100, 9.0, bursts=((1.0, 3.0), (6.0, 7.5))), 44100)
    paths["corrupt"].write_bytes(b"RIFF....WAVEjunk" * 8)
    return paths


def test_predict_table(toy_model_path, wavs, capsys):
    assert main(["predict", str(wavs["cry"]), str(wavs["quiet"]), "--model", str(toy_model_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split("\t")[:3] == ["file", "cry", "p_cry"]
    assert lines[1].split("\t")[1] == "cry" and lines[2].split("\t")[1] == "-"


def test_predict_json(toy_model_path, wavs, capsys):
    assert main(["predict", str(wavs["cry"]), str(wavs["quiet"]), "--model", str(toy_model_path), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["file"] for r in rows] == [str(wavs["cry"]), str(wavs["quiet"])]
    assert rows[0]["is_cry"] is True and rows[1]["is_cry"] is False
    assert set(rows[0]["cause_probabilities"]) == {"hungry", "tired", "discomfort", "belly_pain", "burping"}
    assert rows[0]["cause"] is None and rows[0]["cause_status"] == "unsupported" and rows[0]["cause_status_reason"]


def test_predict_bad_file_continues_and_exits_2(toy_model_path, wavs, tmp_path, capsys):
    code = main(["predict", str(wavs["corrupt"]), str(tmp_path / "missing.wav"), str(wavs["cry"]), "--model", str(toy_model_path), "--json"])
    out = capsys.readouterr()
    assert code == 2
    assert len(out.out.splitlines()) == 1  # the good file is still scored
    assert "cannot decode" in out.err and "not found" in out.err and "Traceback" not in out.err


def test_bad_model_exits_3(wavs, tmp_path, capsys):
    assert main(["predict", str(wavs["cry"]), "--model", str(tmp_path / "none.onnx")]) == 3
    assert main(["info", str(build_foreign_model(tmp_path / "foreign.onnx"))]) == 3
    assert main(["stream", str(wavs["cry"]), "--model", str(tmp_path / "none.onnx")]) == 3
    err = capsys.readouterr().err
    assert err.count("bad model") == 3 and "Traceback" not in err


def test_missing_default_model_exits_3(monkeypatch, wavs, tmp_path, capsys):
    monkeypatch.setattr(model_mod, "default_model_path", lambda: tmp_path / "student_int8.onnx")
    assert main(["predict", str(wavs["cry"])]) == 3
    assert "not installed" in capsys.readouterr().err


def test_stream_prints_events(toy_model_path, wavs, capsys):
    assert main(["stream", str(wavs["bursts"]), "--model", str(toy_model_path), "--chunk-ms", "50"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[1] for line in lines] == ["start", "end", "start", "end"]
    assert main(["stream", str(wavs["bursts"]), "--model", str(toy_model_path), "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["kind"] for e in events] == ["start", "end", "start", "end"]
    assert all(e["time_s"] == e["sample"] / SR for e in events)
    assert all(e["delay_s"] == (e["detected_sample"] - e["sample"]) / SR >= 0 for e in events)


def test_stream_bad_input_exits_2(toy_model_path, wavs, capsys):
    assert main(["stream", str(wavs["corrupt"]), "--model", str(toy_model_path)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_info(toy_model_path, capsys):
    assert main(["info", str(toy_model_path)]) == 0
    out = capsys.readouterr().out
    assert "detection_threshold" in out and "waveform" in out and "toy-1" in out
    assert "0 samples before each window, 0 after" in out  # cut windows: scored alone
    assert main(["info", str(toy_model_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["labels"][0] == "hungry" and info["file_bytes"] == toy_model_path.stat().st_size
    assert info["window_grid"]["context_after"] == 0 and info["context_after_samples"] == info["window_grid"]["window"]


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["predict"])
    assert exc.value.code == 2
    capsys.readouterr()


@pytest.mark.parametrize(
    "args",
    [
        ["predict", "{cry}", "--threads", "0"],
        ["predict", "{cry}", "--threads", "two"],
        ["stream", "{cry}", "--chunk-ms", "inf"],
        ["stream", "{cry}", "--chunk-ms", "1e308"],
        ["stream", "{cry}", "--chunk-ms", "nan"],
        ["stream", "{cry}", "--chunk-ms", "0"],
        ["stream", "{cry}", "--chunk-ms", "-5"],
        ["stream", "{cry}", "--chunk-ms", "abc"],
        ["predict"],
        ["frobnicate"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(toy_model_path, wavs, capsys, args):
    """--chunk-ms inf used to end in an OverflowError traceback (exit 1)."""
    argv = [a.format(cry=wavs["cry"]) for a in args] + (["--model", str(toy_model_path)] if len(args) > 1 else [])
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.count("\n") == 1 and err.startswith("infantcry: bad argument:"), err


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_closed_output_pipe_is_quiet(toy_model_path, wavs, extra):
    """`infantcry predict ... | head -1` used to print a BrokenPipeError traceback and exit 1."""
    files = [str(wavs["cry"])] * 300
    proc = subprocess.Popen(
        [sys.executable, "-m", "infantcry_sdk.cli", "predict", *files, "--model", str(toy_model_path), *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, as head -1 does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and err == "", err


def test_stream_closed_output_pipe_is_quiet(toy_model_path, wavs):
    run = subprocess.run(
        f"{sys.executable} -m infantcry_sdk.cli stream {wavs['cry']} --json --chunk-ms 10 --model {toy_model_path} | head -c 1",
        shell=True, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert run.stdout == "{" and "Traceback" not in run.stderr and "Error" not in run.stderr, run.stderr


def test_console_entry_in_a_subprocess(toy_model_path, wavs):
    """The real process: a good file is scored, the corrupt one gives status 2 and no stack trace."""
    run = subprocess.run(
        [sys.executable, "-m", "infantcry_sdk.cli", "predict", str(wavs["cry"]), str(wavs["corrupt"]), "--model", str(toy_model_path)],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert run.returncode == 2 and "\tcry\t" in run.stdout
    assert "cannot decode" in run.stderr and "Traceback" not in run.stderr
