"""The regular expressions of ``LIKE`` and ``UNLIKE``, as the oracle reads them.

The dialect is the subset of Java's syntax that docs/matching.md pins
(**Regular expressions**), matched against the whole value. A pattern is
parsed here and written again in a canonical form that means the same in
Python's ``re``, Rust's ``regex`` and Java: every character other than
``[0-9A-Za-z_]`` escaped as ``\\uXXXX`` or ``\\UXXXXXXXX``, classes spelled
out, groups non-capturing. ``rust/src/matching/pattern.rs`` is the same
parser in Rust: both must refuse or both accept every pattern.
"""

from __future__ import annotations

import re

__all__ = ["MAX_COUNT", "MAX_SIZE", "compile_like", "translate"]

#: The largest count of a ``{n,m}`` repetition.
MAX_COUNT = 1000
#: The most single-character matchers a pattern may stand for once its
#: repetitions are written out (so the Rust engine's size limit is never met).
MAX_SIZE = 1000

_META = frozenset("\\.[]{}()*+?^$|")
_DIGIT = "0-9"
_WORD = "0-9A-Z_a-z"
_SPACE = "\t\n\x0b\x0c\r "
# Java's `.`: anything but a line terminator.
_LINE_ENDS = "\n\r\u0085\u2028\u2029"
_NAMED = {"t": "\t", "n": "\n", "r": "\r", "f": "\x0c"}


class _Refused(Exception):
    """The pattern is outside the dialect."""


def _char(c: str) -> str:
    if c.isascii() and (c.isalnum() or c == "_"):
        return c
    code = ord(c)
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _chars(text: str) -> str:
    """A class body of these characters and ``a-z`` ranges, canonical."""
    out, i = [], 0
    while i < len(text):
        if i + 2 < len(text) and text[i + 1] == "-":
            out.append(f"{_char(text[i])}-{_char(text[i + 2])}")
            i += 3
        else:
            out.append(_char(text[i]))
            i += 1
    return "".join(out)


_CLASS_OF = {"d": _chars(_DIGIT), "w": _chars(_WORD), "s": _chars(_SPACE)}


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.s = pattern
        self.i = 0

    def peek(self) -> str | None:
        return self.s[self.i] if self.i < len(self.s) else None

    def take(self) -> str:
        c = self.peek()
        if c is None:
            raise _Refused("unexpected end")
        self.i += 1
        return c

    def alternation(self) -> tuple[str, int]:
        body, size = self.sequence()
        while self.peek() == "|":
            self.i += 1
            more, more_size = self.sequence()
            body, size = f"{body}|{more}", size + more_size
        return body, size

    def sequence(self) -> tuple[str, int]:
        out, size = [], 0
        while self.peek() not in (None, "|", ")"):
            atom, atom_size = self.atom()
            atom, atom_size = self.quantified(atom, atom_size)
            out.append(atom)
            size += atom_size
        return "".join(out), size

    def atom(self) -> tuple[str, int]:
        c = self.take()
        if c == "(":
            if self.s.startswith("?:", self.i):
                self.i += 2
            elif self.peek() == "?":
                raise _Refused("lookaround, flags and named groups are not in the dialect")
            body, size = self.alternation()
            if self.take() != ")":
                raise _Refused("unclosed group")
            return f"(?:{body})", size
        if c == "[":
            return self.char_class(), 1
        if c == ".":
            return f"[^{_chars(_LINE_ENDS)}]", 1
        if c == "\\":
            return self.escape(in_class=False), 1
        if c in _META:
            raise _Refused(f"{c} must be escaped")
        return _char(c), 1

    def escape(self, in_class: bool) -> str:
        c = self.take()
        if c in _CLASS_OF:
            return _CLASS_OF[c] if in_class else f"[{_CLASS_OF[c]}]"
        if c.lower() in _CLASS_OF and not in_class:
            return f"[^{_CLASS_OF[c.lower()]}]"
        return _char(self.escaped_char(c))

    def escaped_char(self, c: str) -> str:
        if c in _NAMED:
            return _NAMED[c]
        if c in ("x", "u"):
            digits = self.s[self.i : self.i + (2 if c == "x" else 4)]
            if len(digits) != (2 if c == "x" else 4) or not re.fullmatch("[0-9A-Fa-f]+", digits):
                raise _Refused("bad hex escape")
            self.i += len(digits)
            code = int(digits, 16)
            if 0xD800 <= code <= 0xDFFF:
                raise _Refused("surrogate")
            return chr(code)
        if c.isascii() and " " <= c <= "~" and not c.isalnum():
            return c
        raise _Refused(f"\\{c} is not in the dialect")

    def class_char(self) -> str:
        """One character of a class, or a ``\\d``-like escape (as its body)."""
        c = self.take()
        if c == "\\":
            e = self.take()
            if e in _CLASS_OF:
                return _CLASS_OF[e]
            return _char(self.escaped_char(e))
        if c == "[" or (c == "&" and self.peek() == "&"):
            raise _Refused("nested classes and && are not in the dialect")
        if c == "]":
            raise _Refused("empty class")
        if c == "-":
            raise _Refused("- must be escaped but first or last in a class")
        return _char(c)

    def char_class(self) -> str:
        negated = self.peek() == "^"
        if negated:
            self.i += 1
        items = []
        first = True
        while True:
            c = self.peek()
            if c is None:
                raise _Refused("unclosed class")
            if c == "]" and not first:
                self.i += 1
                break
            if c == "-" and (first or self.s.startswith("-]", self.i)):
                self.i += 1
                items.append(_char("-"))
                first = False
                continue
            lo_at = self.i
            lo = self.class_char()
            if self.peek() == "-" and not self.s.startswith("-]", self.i):
                self.i += 1
                hi_at = self.i
                hi = self.class_char()
                lo_c, hi_c = self.single(lo_at), self.single(hi_at)
                if lo_c is None or hi_c is None or lo_c > hi_c:
                    raise _Refused("bad range")
                items.append(f"{lo}-{hi}")
            else:
                items.append(lo)
            first = False
        return f"[{'^' if negated else ''}{''.join(items)}]"

    def single(self, at: int) -> str | None:
        """The one character a class item at ``at`` stands for (None: a ``\\d``-like escape)."""
        saved, self.i = self.i, at
        try:
            c = self.take()
            if c != "\\":
                return c
            e = self.take()
            return None if e in _CLASS_OF else self.escaped_char(e)
        finally:
            self.i = saved

    def quantified(self, atom: str, size: int) -> tuple[str, int]:
        c = self.peek()
        if c in ("*", "+", "?"):
            self.i += 1
            quantifier, times = c, 1
        elif c == "{":
            m = re.compile(r"\{([0-9]{1,4})(,([0-9]{0,4}))?\}").match(self.s, self.i)
            if m is None:
                raise _Refused("{ must be escaped or start a count")
            self.i = m.end()
            low = int(m[1])
            high = low if m[2] is None else (int(m[3]) if m[3] else None)
            if low > MAX_COUNT or (high is not None and (high > MAX_COUNT or high < low)):
                raise _Refused("bad count")
            quantifier = (
                f"{{{low}}}" if m[2] is None else f"{{{low},{'' if high is None else high}}}"
            )
            times = max(low, high or 0, 1)
        else:
            return atom, size
        if self.peek() == "?":
            self.i += 1  # lazy: the same whole matches
        if self.peek() in ("*", "+", "?", "{"):
            raise _Refused("one quantifier per atom (no possessive ones)")
        return f"{atom}{quantifier}", size * times


def translate(pattern: str) -> str | None:
    """The canonical form of a pattern of the dialect, or None if it is outside it.

    A leading ``^`` and a trailing ``$`` are dropped: the match is whole anyway.
    """
    body = pattern[1:] if pattern.startswith("^") else pattern
    if body.endswith("$"):
        before = body[:-1]
        if (len(before) - len(before.rstrip("\\"))) % 2 == 0:  # not an escaped $
            body = before
    parser = _Parser(body)
    try:
        out, size = parser.alternation()
        if parser.i != len(body):
            raise _Refused(") without (")
    except _Refused:
        return None
    return out if size <= MAX_SIZE else None


def compile_like(pattern: str) -> re.Pattern[str] | None:
    """The compiled pattern, to be used with ``fullmatch``; None outside the dialect."""
    translated = translate(pattern)
    if translated is None:
        return None
    try:
        return re.compile(translated)
    except re.error:
        return None
