"""JSON Lines files, written one line at a time: a decision or a finished set is on disk the moment it is made.

An append is flushed and synced before it returns. A run killed in the middle of an append leaves at most one partial
last line; reading skips it (that set is simply made again) and the next append drops it before it writes, so the
file is whole again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import InputError


def append_jsonl(path, record: dict) -> None:
    path = Path(path)
    line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
    with open(path, "a+b") as f:
        f.seek(0, os.SEEK_END)
        if f.tell():
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":  # a partial line left by a killed writer: drop it (the rest ends at a newline)
                f.seek(0)
                f.truncate(f.read().rfind(b"\n") + 1)
        f.write(line.encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path, strict: bool = False) -> list[tuple[int, dict]]:
    """(line number, record) for every line of `path` (none if it does not exist).

    A line that is not a JSON object is an error naming the file and line, except an unterminated last line when
    `strict` is False (what a killed writer leaves).
    """
    path = Path(path)
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text; it should hold one JSON object per line") from None
    lines = text.split("\n")
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError
        except ValueError:
            if not strict and number == len(lines) and not text.endswith("\n"):
                break
            raise InputError(f"{path}:{number} is not a JSON object: {line[:80]!r}; fix or delete that line") from None
        records.append((number, record))
    return records
