"""Summarise py-spy raw profiles: `python -m bench.profile_summary reports/bench/profile/*.txt`.

For each file: the functions with the most samples of their own (self) and
including what they call (inclusive), as a share of all samples.
"""

import sys
from collections import Counter
from pathlib import Path

NOISE = ("threading.py", "runpy", "asyncio/runners.py", "uvicorn/main.py", "click/core.py", "<module>")


def summarise(path: Path, top: int = 25) -> str:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        stack, count = line.rsplit(" ", 1)
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    if not total:
        return f"== {path.stem}: no samples"
    lines = [f"== {path.stem}: {total} samples", "-- self"]
    lines += [f"{100 * n / total:5.1f}% {f[:140]}" for f, n in own.most_common(top)]
    lines.append("-- inclusive")
    shown = [(f, n) for f, n in inclusive.most_common(top * 4) if not any(x in f for x in NOISE)]
    lines += [f"{100 * n / total:5.1f}% {f[:140]}" for f, n in shown[: top * 2]]
    return "\n".join(lines)


if __name__ == "__main__":
    print("\n\n".join(summarise(Path(arg)) for arg in sys.argv[1:]))
