"""Which metadata regexes can tell the last k digits of a number apart: a small automaton over digits.

libphonenumber's metadata patterns (``PhoneNumberDesc.national_number_pattern``,
``national_prefix_for_parsing``, ``international_prefix``, ``leading_digits``) use a small part of
regex syntax: literals, ``\\d``, classes of digits, groups, alternation, ``?*+{n,m}`` repeats and a
trailing ``$``. :func:`automaton` parses that subset itself (with no private module of :mod:`re`) into
a nondeterministic automaton over the ten ASCII digits, determinised lazily. Anything else raises
:class:`Unsupported`, and callers then treat the pattern as reading every digit.

Two questions are answered for a ``head`` followed by an unknown tail of ``k`` digits:

* :func:`fullmatch_fixed`: does ``fullmatch(pattern, head + tail)`` give the same answer for all
  ``10**k`` tails? True when, from the states the automaton is in after ``head``, either every k-digit
  string or none reaches the end. :class:`Automaton` answers this for several patterns side by side.
* :func:`stays_in_head`: does ``match(pattern, head + tail)`` (a prefix match, as the national and
  international prefixes are used) never read the tail? True when no path through the pattern is
  still consuming digits at the end of ``head``; the backtracking engine then reads nothing after it.

The answers are about every path through a pattern, not about the order in which an engine tries them,
so they hold for :mod:`re`'s backtracking engine. Automata, their transitions and the answers are
cached, each cache bounded; everything here is safe to call from threads (the memo tables are written
under a lock and only ever hold correct entries).
"""

from __future__ import annotations

import functools
import threading

__all__ = ["Automaton", "Unsupported", "automaton", "fullmatch_fixed", "stays_in_head", "tail_digits"]

DIGITS = "0123456789"
_ALL = frozenset(DIGITS)
#: Outcomes of "fullmatch on every k-digit tail".
_NONE, _EVERY, _MIXED = 0, 1, 2
#: Patterns with more states than this are not analysed (the metadata's largest has a few hundred).
_MAX_STATES = 20000
#: Memoised transitions and outcomes per automaton; all are forgotten when there are more.
MAX_MEMO = 200_000


class Unsupported(ValueError):
    """A pattern construct the analysis does not model (lookarounds, escapes other than ``\\d``...)."""


class _Nfa:
    """States are ints; ``edges[s]`` = (digits, target), ``eps[s]`` = targets, ``end[s]`` = ``$``."""

    def __init__(self) -> None:
        self.edges: list[list[tuple[frozenset[str], int]]] = []
        self.eps: list[list[int]] = []
        self.end: list[list[int]] = []

    def state(self) -> int:
        if len(self.edges) >= _MAX_STATES:
            raise Unsupported("pattern too large")
        self.edges.append([])
        self.eps.append([])
        self.end.append([])
        return len(self.edges) - 1


class _Parser:
    """Recursive descent over the metadata's regex subset, building Thompson fragments (start, end)."""

    def __init__(self, pattern: str, nfa: _Nfa) -> None:
        self.p = pattern
        self.i = 0
        self.nfa = nfa

    def parse(self) -> tuple[int, int]:
        frag = self.alternation()
        if self.i != len(self.p):
            raise Unsupported(f"unexpected {self.p[self.i]!r}")
        return frag

    def peek(self) -> str:
        return self.p[self.i] if self.i < len(self.p) else ""

    def alternation(self) -> tuple[int, int]:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.sequence())
        if len(branches) == 1:
            return branches[0]
        start, end = self.nfa.state(), self.nfa.state()
        for s, e in branches:
            self.nfa.eps[start].append(s)
            self.nfa.eps[e].append(end)
        return start, end

    def sequence(self) -> tuple[int, int]:
        start = end = self.nfa.state()
        while self.peek() not in ("", "|", ")"):
            atom = self.atom_text()
            s, e = self.repeat(atom)
            self.nfa.eps[end].append(s)
            end = e
        return start, end

    def atom_text(self) -> str:
        """The source text of the next atom (built later, once per copy a repeat needs)."""
        begin = self.i
        c = self.peek()
        if c == "(":
            depth = 0
            while self.i < len(self.p):
                ch = self.p[self.i]
                if ch == "\\":
                    self.i += 1
                elif ch == "(":
                    depth += 1
                elif ch == ")":
                    depth -= 1
                    if depth == 0:
                        break
                self.i += 1
            if self.peek() != ")":
                raise Unsupported("unbalanced group")
            self.i += 1
        elif c == "[":
            close = self.p.find("]", self.i + 1)
            if close < 0:
                raise Unsupported("unterminated class")
            self.i = close + 1
        elif c == "\\":
            self.i += 2
        elif c in "*+?{":
            raise Unsupported("repeat without an atom")
        else:
            self.i += 1
        return self.p[begin : self.i]

    def build(self, atom: str) -> tuple[int, int]:
        nfa = self.nfa
        if atom.startswith("("):
            inner = atom[1:-1]
            if inner.startswith("?"):
                if not inner.startswith("?:"):
                    raise Unsupported("group extension")
                inner = inner[2:]
            return _Parser(inner, nfa).parse()
        start, end = nfa.state(), nfa.state()
        if atom == "$":
            nfa.end[start].append(end)
        elif atom == "\\d":
            nfa.edges[start].append((_ALL, end))
        elif atom.startswith("["):
            nfa.edges[start].append((_class(atom[1:-1]), end))
        elif atom.startswith("\\") or atom in (".", "^"):
            raise Unsupported(atom)
        else:  # a literal: a digit, or a character no digit string contains
            nfa.edges[start].append((frozenset(atom) & _ALL, end))
        return start, end

    def repeat(self, atom: str) -> tuple[int, int]:
        lo, hi = self.quantifier()
        if self.peek() == "?":  # lazy: the same language and the same reachable positions
            self.i += 1
        nfa = self.nfa
        start = end = nfa.state()
        for _ in range(lo):
            s, e = self.build(atom)
            nfa.eps[end].append(s)
            end = e
        if hi is None:
            s, e = self.build(atom)
            nfa.eps[end].append(s)
            nfa.eps[e].append(s)
            after = nfa.state()
            nfa.eps[end].append(after)
            nfa.eps[e].append(after)
            return start, after
        finish = nfa.state()
        nfa.eps[end].append(finish)
        for _ in range(hi - lo):
            s, e = self.build(atom)
            nfa.eps[end].append(s)
            nfa.eps[e].append(finish)
            end = e
        return start, finish

    def quantifier(self) -> tuple[int, int | None]:
        c = self.peek()
        if c == "?":
            self.i += 1
            return 0, 1
        if c == "*":
            self.i += 1
            return 0, None
        if c == "+":
            self.i += 1
            return 1, None
        if c != "{":
            return 1, 1
        close = self.p.find("}", self.i)
        body = self.p[self.i + 1 : close] if close > 0 else ""
        lo_text, comma, hi_text = body.partition(",")
        if not lo_text.isdigit() or (hi_text and not hi_text.isdigit()):
            raise Unsupported(f"repeat {{{body}}}")
        self.i = close + 1
        lo = int(lo_text)
        hi = None if comma and not hi_text else int(hi_text or lo_text)
        if hi is not None and hi < lo:
            raise Unsupported("bad repeat")
        return lo, hi


def _class(body: str) -> frozenset[str]:
    if body.startswith("^"):
        raise Unsupported("negated class")
    out: set[str] = set()
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            if body[i + 1 : i + 2] != "d":
                raise Unsupported("escape in class")
            out |= _ALL
            i += 2
        elif i + 2 < len(body) and body[i + 1] == "-":
            out |= {chr(x) for x in range(ord(c), ord(body[i + 2]) + 1)}
            i += 3
        else:
            out.add(c)
            i += 1
    return frozenset(out) & _ALL


class Automaton:
    """The automaton of one or more patterns, run side by side, determinised on demand.

    DFA states are frozensets of NFA states; each pattern keeps its own accepting state, so one run
    over a head answers for all of them (a region's dozen number types at once).
    """

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.nfa = _Nfa()
        starts: set[int] = set()
        self.accepts: list[int] = []
        for pattern in patterns:
            start, accept = _Parser(pattern, self.nfa).parse()
            starts.add(start)
            self.accepts.append(accept)
        self.start = self._closure(starts)
        self._steps: dict[tuple[frozenset[int], str], frozenset[int]] = {}
        self._outcomes: dict[tuple[frozenset[int], int], tuple[int, ...]] = {}
        self._live: dict[frozenset[int], bool] = {}
        self._lock = threading.Lock()  # the memo dicts are filled under it

    def _closure(self, states: set[int], *, at_end: bool = False) -> frozenset[int]:
        """``states`` and what they reach without a digit (through ``$`` too if ``at_end``)."""
        todo = list(states)
        seen = set(states)
        while todo:
            s = todo.pop()
            for t in self.nfa.eps[s] + self.nfa.end[s] if at_end else self.nfa.eps[s]:
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        return frozenset(seen)

    def _forget_if_full(self) -> None:
        if len(self._steps) + len(self._outcomes) + len(self._live) >= MAX_MEMO:
            self._steps.clear()
            self._outcomes.clear()
            self._live.clear()

    def step(self, states: frozenset[int], digit: str) -> frozenset[int]:
        key = (states, digit)
        found = self._steps.get(key)
        if found is None:
            moved = {t for s in states for chars, t in self.nfa.edges[s] if digit in chars}
            found = self._closure(moved)
            with self._lock:
                self._forget_if_full()
                self._steps[key] = found
        return found

    def run(self, head: str) -> frozenset[int]:
        states = self.start
        for digit in head:
            if not states:
                break
            states = self.step(states, digit)
        return states

    def accepts_here(self, states: frozenset[int]) -> tuple[bool, ...]:
        """For each pattern, whether the string may end here."""
        final = self._closure(set(states), at_end=True)
        return tuple(a in final for a in self.accepts)

    def outcome(self, states: frozenset[int], k: int) -> tuple[int, ...]:
        """For each pattern: from ``states``, none, every or only some k-digit strings reach its end."""
        key = (states, k)
        found = self._outcomes.get(key)
        if found is None:
            if k == 0 or not states:
                found = tuple(_EVERY if hit else _NONE for hit in self.accepts_here(states))
            else:
                after = [self.outcome(self.step(states, d), k - 1) for d in DIGITS]
                found = tuple(
                    first if all(o[i] == first for o in after) else _MIXED for i, first in enumerate(after[0])
                )
            with self._lock:
                self._forget_if_full()
                self._outcomes[key] = found
        return found

    def fixed(self, head: str, k: int) -> bool:
        """Whether every pattern's fullmatch of ``head + t`` is the same for all k-digit tails."""
        return _MIXED not in self.outcome(self.run(head), k)

    def reads_past(self, head: str) -> bool:
        """Whether a path of any pattern, after ``head``, can consume another digit."""
        states = self.run(head)
        live = self._live.get(states)
        if live is None:
            live = any(self.step(states, d) for d in DIGITS)
            with self._lock:
                self._forget_if_full()
                self._live[states] = live
        return live


@functools.lru_cache(maxsize=4096)
def automaton(*patterns: str) -> Automaton:
    """The (cached) automaton of metadata patterns; raises :class:`Unsupported`."""
    return Automaton(patterns)


@functools.lru_cache(maxsize=65536)
def fullmatch_fixed(pattern: str, head: str, k: int) -> bool:
    """True if ``fullmatch(pattern, head + t)`` is the same for every k-digit tail ``t``."""
    try:
        return automaton(pattern).fixed(head, k)
    except Unsupported:
        return False


@functools.lru_cache(maxsize=65536)
def stays_in_head(pattern: str, head: str) -> bool:
    """True if no way of matching ``pattern`` at the start of ``head + tail`` reads the tail."""
    try:
        return not automaton(pattern).reads_past(head)
    except Unsupported:
        return False


def tail_digits(pattern: str, limit: int = 16) -> int:
    """Largest k such that ``fullmatch(pattern, s + t)`` never depends on the k-digit tail ``t``,
    whatever ``s`` (0 for unsupported patterns)."""
    try:
        a = automaton(pattern)
    except Unsupported:
        return 0
    reachable = {a.start}
    todo = [a.start]
    while todo:
        states = todo.pop()
        for d in DIGITS:
            nxt = a.step(states, d)
            if nxt and nxt not in reachable:
                reachable.add(nxt)
                todo.append(nxt)
    best = 0
    for k in range(1, limit + 1):
        if any(_MIXED in a.outcome(states, k) for states in reachable):
            break
        best = k
    return best
