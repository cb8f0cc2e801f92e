"""Sum a py-spy raw (folded) profile by function: where a process spends its time.

    python bench/profile_top.py PROFILE [--top 30] [--match bot/]

Prints each function's inclusive share (it or anything it called was on the
stack) and self share (it was the innermost frame), largest first.
"""

from __future__ import annotations

import argparse
from collections import Counter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--match", default="", help="only functions whose frame contains this")
    args = parser.parse_args()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    with open(args.profile, encoding="utf-8") as file:
        for line in file:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            n = int(count)
            total += n
            frames = stack.split(";")
            for frame in set(frames):
                inclusive[frame] += n
            own[frames[-1]] += n
    print(f"{total} samples")
    print(f"{'incl %':>7}{'self %':>7}  function")
    for frame, n in inclusive.most_common():
        if args.match not in frame:
            continue
        print(f"{100 * n / total:>7.1f}{100 * own[frame] / total:>7.1f}  {frame}")
        args.top -= 1
        if args.top == 0:
            break


if __name__ == "__main__":
    main()
