"""Where keys are in TOML text: a key path -> 1-based line index.

tomllib returns values without positions, so this module scans the (already valid) text once
and records the line of every table header, every `key =` and every element of an array or
inline table, under the same key path the parsed data has:

- the n-th `[[job_queue]]` header is `('job_queue', n)`; `('job_queue',)` is its first header;
- `[job_definition.container_properties]` belongs to the latest `[[job_definition]]`;
- inline tables and arrays, on one line or several, record each key and element.

A heuristic by design: it never raises, and `line_of` falls back to the nearest enclosing
key that was found (the table header for a missing key).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from contextlib import suppress

KeyPath = tuple[str | int, ...]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_PLAIN = re.compile(r'[^"\\]+')  # a run of a basic string with no quote or backslash
_ML_PLAIN = {'"""': re.compile(r'[^"\\]+'), "'''": re.compile(r"[^']+")}
_SIMPLE_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


class LineIndex:
    """Lines of the keys of one TOML document."""

    def __init__(self, text: str) -> None:
        # Scanned on the first question: a valid config never asks (the scan costs as much
        # as tomllib's own parse: 0.09 s for a 2,000-job file).
        self._text = text
        self._found: dict[KeyPath, int] | None = None

    @property
    def _lines(self) -> dict[KeyPath, int]:
        if self._found is None:
            scanner = _Scanner(self._text)
            # Keep what was found before the text stopped making sense.
            with suppress(_Stop, IndexError, ValueError, RecursionError):
                scanner.document()
            self._found = scanner.found
        return self._found

    def line_of(self, path: KeyPath) -> int | None:
        """The line of `path`, or of its nearest enclosing key that was found."""
        lines = self._lines
        for end in range(len(path), 0, -1):
            line = lines.get(path[:end])
            if line is not None:
                return line
        return None

    def exact(self, path: KeyPath) -> int | None:
        return self._lines.get(path)


class _Stop(Exception):
    pass


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.newlines = [k for k, c in enumerate(text) if c == "\n"]
        self.found: dict[KeyPath, int] = {}
        self.arrays: dict[KeyPath, int] = {}  # array-of-tables path -> latest index
        self.current: KeyPath = ()

    # ---------------------------------------------------------------- helpers

    def line(self) -> int:
        return bisect_left(self.newlines, self.i) + 1

    def record(self, path: KeyPath, line: int) -> None:
        for end in range(1, len(path) + 1):
            self.found.setdefault(path[:end], line)

    def peek(self, token: str) -> bool:
        return self.s.startswith(token, self.i)

    def expect(self, token: str) -> None:
        if not self.peek(token):
            raise _Stop
        self.i += len(token)

    def skip_blank(self, newlines: bool) -> None:
        """Skip spaces and tabs (and newlines and comments when `newlines`)."""
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.i += 1
            elif newlines and c == "#":
                end = s.find("\n", self.i)
                self.i = len(s) if end < 0 else end
            else:
                return

    # ---------------------------------------------------------------- grammar

    def document(self) -> None:
        while True:
            self.skip_blank(newlines=True)
            if self.i >= len(self.s):
                return
            start, line = self.i, self.line()
            if self.peek("[["):
                self.i += 2
                self.header(self.key(), line, is_array=True)
                self.expect("]]")
            elif self.peek("["):
                self.i += 1
                self.header(self.key(), line, is_array=False)
                self.expect("]")
            else:
                parts = self.key()
                self.expect("=")
                path = self.current + parts
                self.record(path, line)
                self.skip_blank(newlines=False)
                self.value(path)
            if self.i == start:
                raise _Stop

    def header(self, parts: tuple[str, ...], line: int, *, is_array: bool) -> None:
        path: KeyPath = ()
        for k, part in enumerate(parts):
            path += (part,)
            if is_array and k == len(parts) - 1:
                index = self.arrays.get(path, -1) + 1
                self.arrays[path] = index
                self.record(path, line)
                path += (index,)
            elif path in self.arrays:
                path += (self.arrays[path],)
        self.record(path, line)
        self.current = path

    def key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self.skip_blank(newlines=False)
            if self.peek('"'):
                parts.append(self.basic_string())
            elif self.peek("'"):
                end = self.s.index("'", self.i + 1)
                parts.append(self.s[self.i + 1 : end])
                self.i = end + 1
            else:
                start = self.i
                while self.i < len(self.s) and self.s[self.i] in _BARE:
                    self.i += 1
                if self.i == start:
                    raise _Stop
                parts.append(self.s[start : self.i])
            self.skip_blank(newlines=False)
            if not self.peek("."):
                return tuple(parts)
            self.i += 1

    def basic_string(self) -> str:
        """A one-line "..." string at the cursor, decoded well enough for keys."""
        self.i += 1
        out: list[str] = []
        s = self.s
        while s[self.i] != '"':
            if s[self.i] == "\\":
                nxt = s[self.i + 1]
                if nxt in "uU":
                    width = 4 if nxt == "u" else 8
                    out.append(chr(int(s[self.i + 2 : self.i + 2 + width], 16)))
                    self.i += 2 + width
                    continue
                out.append(_SIMPLE_ESCAPES.get(nxt, nxt))
                self.i += 2
                continue
            run = _PLAIN.match(s, self.i)
            if run is None:  # only at the end of the text: the string never closes
                raise _Stop
            out.append(run.group())
            self.i = run.end()
        self.i += 1
        return "".join(out)

    def value(self, path: KeyPath) -> None:
        s = self.s
        if self.peek('"""') or self.peek("'''"):
            quote = s[self.i : self.i + 3]
            self.i += 3
            plain = _ML_PLAIN[quote]
            while not self.peek(quote):
                if s[self.i] == "\\" and quote == '"""':
                    self.i += 2
                    continue
                run = plain.match(s, self.i)  # None: a lone quote character
                self.i = run.end() if run is not None else self.i + 1
            self.i += 3
            while self.i < len(s) and s[self.i] == quote[0]:  # up to two quotes end the body
                self.i += 1
        elif self.peek('"'):
            self.basic_string()
        elif self.peek("'"):
            self.i = s.index("'", self.i + 1) + 1
        elif self.peek("["):
            self.array(path)
        elif self.peek("{"):
            self.inline_table(path)
        else:
            start = self.i
            while self.i < len(s) and s[self.i] not in ",]}\n#":
                self.i += 1
            if self.i == start:
                raise _Stop

    def array(self, path: KeyPath) -> None:
        self.i += 1
        index = 0
        while True:
            self.skip_blank(newlines=True)
            if self.peek("]"):
                self.i += 1
                return
            self.record((*path, index), self.line())
            self.value((*path, index))
            self.skip_blank(newlines=True)
            if self.peek(","):
                self.i += 1
                index += 1
            else:
                self.expect("]")
                return

    def inline_table(self, path: KeyPath) -> None:
        self.i += 1
        while True:
            self.skip_blank(newlines=True)
            if self.peek("}"):
                self.i += 1
                return
            line = self.line()
            parts = self.key()
            self.expect("=")
            self.record(path + parts, line)
            self.skip_blank(newlines=False)
            self.value(path + parts)
            self.skip_blank(newlines=True)
            if self.peek(","):
                self.i += 1
            else:
                self.expect("}")
                return
