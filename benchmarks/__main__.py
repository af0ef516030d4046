"""``python -m benchmarks [...]``: the desktop benchmark; ``python -m benchmarks arm [...]``: the
emulated aarch64 parity and timing run."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["arm"]:
        from .arm import main as arm_main

        return arm_main(argv[1:])
    from .desktop import main as desktop_main

    return desktop_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
