"""Config problems: what is wrong, where (file, dotted key, line), and a "did you mean".

A `Problem` is a value; `ConfigError` carries every problem found in one load, so a person
fixes them all in one pass. `Problems` is the collector the loader threads through its checks:
it turns a key path (a tuple of keys and array indexes) into the dotted key and looks up the line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from abatch.model.errors import ClientError, clip

from .lines import KeyPath, LineIndex

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config."""

    file: str
    key: str
    line: int | None
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        text = f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class ConfigError(ClientError):
    """A config with problems; `problems` lists all of them, in file order where known."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class FileMark(str):
    """A key path element naming a file that the following keys live in: `[2](defs/x.json)`."""


def format_key(path: KeyPath) -> str:
    """A key path as a dotted key: ('job_queue', 1, 'name') -> 'job_queue[1].name'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, FileMark):
            out += f"({part})"
        else:
            text = part if _BARE_KEY.match(part) else _quote(part)
            out += f".{text}" if out else text
    return out


def _in_this_file(path: KeyPath) -> KeyPath:
    """Keys inside a referenced file are found at the `file = …` line that names it."""
    for index, part in enumerate(path):
        if isinstance(part, FileMark):
            return (*path[:index], "file")
    return path


def _quote(key: str) -> str:
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else repr(c)[1:-1] for c in escaped) + '"'


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A "did you mean 'x'?" hint when a choice is close to `word`, else None."""
    options = sorted(set(choices))
    lowered = {c.lower(): c for c in options}
    match = lowered.get(word.lower()) or lowered.get(word.lower().replace("-", "_"))
    if match is None:
        close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
        match = close[0] if close else None
    return f"did you mean {match!r}?" if match is not None else None


def name_hint(name: str, names: Iterable[str], table: str) -> str:
    """For a reference to an unknown name: a close name, else the known ones."""
    known = list(names)
    close = did_you_mean(name, known)
    if close is not None:
        return close
    if not known:
        return f"declare it in a [[{table}]] table"
    more = ", …" if len(known) > 8 else ""
    return "known: " + ", ".join(repr(n) for n in known[:8]) + more


def show(value: object, limit: int = 60) -> str:
    """A short, printable rendering of a config value for a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Problems:
    """Collects problems for one config file."""

    def __init__(self, file: str, lines: LineIndex | None = None) -> None:
        self.file = file
        self.lines = lines if lines is not None else LineIndex("")
        self.items: list[Problem] = []

    def add(
        self,
        path: KeyPath,
        message: str,
        hint: str | None = None,
        *,
        line: int | None = None,
    ) -> None:
        found = line if line is not None else self.lines.line_of(_in_this_file(path))
        hint = clip(hint) if hint is not None else None
        self.items.append(Problem(self.file, clip(format_key(path)), found, clip(message), hint))

    def __bool__(self) -> bool:
        return bool(self.items)

    def error(self) -> ConfigError:
        ordered = sorted(
            enumerate(self.items),
            key=lambda pair: (pair[1].line is None, pair[1].line or 0, pair[0]),
        )
        return ConfigError([p for _, p in ordered])
