"""Keyword detection for mobile-originated (MO) messages: opt-out, opt-in and help.

Pure functions over plain data: :func:`classify_mo` takes the decoded message text and a
:class:`Keywords` configuration and returns a :class:`Match` or ``None``. No IO, no clock.

Normalisation
    The text is split on whitespace into tokens. Each token is put through Unicode NFKC (so
    full-width letters, U+FF33 U+FF34 ..., and ligatures count) and case-folded; dash characters
    (U+2010 hyphen, U+2013 en dash, U+2212 minus ...) become ``-``; leading and trailing
    punctuation, symbols, emoji, variation selectors and control/format characters are stripped,
    as are combining marks left at the start of a token with no letter to sit on. A token left
    without any letter or digit (``"!!!"``, ``"🙏"``, ``"-"``) is not a word and is skipped.
    Characters *inside* a token are kept, so ``"don't"``, ``"don't-stop"``, ``"nonstop"`` and
    ``"stopwatch"`` never equal ``stop``.
    Configured keywords go through the same normalisation, so a keyword may be given in any case.

Positions (the choice made here)
    * **Opt-out** keywords count when they start at the first or the second word: ``"STOP"``,
      ``"stop please"``, ``"please stop"`` and ``"Opt out please"`` revoke consent;
      ``"I will stop by later"`` does not. This is the UK practice recorded in the product seed and
      errs on the side of honouring a revocation (FCC 47 CFR 64.1200 counts any reasonable wording).
    * **Opt-in** and **help** keywords (and the conditional opt-in words such as ``YES``) count only
      as the *first* word: ``"START"``, ``"start please"``, ``"Help!"``, ``"info?"``. Starting a
      subscription by accident is worse than missing one, and ``"yes"`` in second position is far
      too common in ordinary replies.
    * If an opt-out keyword is among the first two words, it wins over any opt-in or help keyword
      (``"START STOP"``, ``"help stop"`` are opt-outs): the safe reading.
    * A keyword at the first word wins over one at the second; at one position the longest
      phrase wins.

Phrases
    A keyword may be several words (``"OPT OUT"``). Its words must follow each other as tokens.
    A phrase and its hyphenated spelling are treated as the same keyword: configuring only
    ``"OPT OUT"`` also matches ``"opt-out"``, and the reverse. When both spellings are configured,
    :attr:`Match.keyword` reports the one the subscriber actually typed.

Languages
    :data:`KEYWORD_SETS` holds the built-in opt-out, opt-in and help words of each language (en, fr,
    es, de); an account picks the languages it recognises (``Keywords.from_lists(languages=...)``),
    and :attr:`Match.language` says which language's word the subscriber used, so the reply can be
    in that language. A keyword configured explicitly has no language (``""``).

Cost
    Only the first few tokens are examined (at most one plus the longest phrase), and they are
    produced lazily, so a long ordinary message costs about as much as a short one.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

__all__ = ["DEFAULT_KEYWORDS", "KEYWORD_SETS", "STOP_ALL", "Intent", "Keywords", "Match", "classify_mo"]


class Intent(enum.StrEnum):
    """What a keyword asks for."""

    #: Revoke consent: stop all messages to this number.
    OPT_OUT = "opt_out"
    #: Give (or restore) consent.
    OPT_IN = "opt_in"
    #: Ask for help; answered whether or not the number is subscribed (CTIA).
    HELP = "help"


@dataclass(frozen=True, slots=True)
class Match:
    """A keyword found in an MO message."""

    intent: Intent
    #: The keyword as configured, canonical upper case (``"STOP"``, ``"OPT OUT"``).
    keyword: str
    #: True when the keyword came from :attr:`Keywords.opt_in_if_opted_out`: it re-subscribes a
    #: number only if that number is currently opted out, and means nothing otherwise.
    conditional: bool = False
    #: The language of the built-in set the keyword came from (``"fr"``), ``""`` if configured.
    #: Not compared: the same keyword is the same match, whichever set supplied it.
    language: str = field(default="", compare=False)


#: The built-in words per language: {language: {list name: keywords}}. Accented and unaccented
#: spellings are both listed (normalisation keeps accents: ``ARRÊT`` and ``ARRET`` differ).
KEYWORD_SETS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "opt_out": (
            "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT",
            "OPT OUT", "OPT-OUT",
        ),
        "opt_in": ("START", "UNSTOP"),
        "help": ("HELP", "INFO"),
    },
    "fr": {
        "opt_out": ("ARRET", "ARRÊT", "DESABONNER", "DÉSABONNER", "DESINSCRIRE", "DÉSINSCRIRE"),
        "opt_in": ("DEMARRER", "DÉMARRER"),
        "help": ("AIDE",),
    },
    "es": {
        "opt_out": ("BAJA", "PARAR", "CANCELAR", "DETENER"),
        "opt_in": ("ALTA", "COMENZAR"),
        "help": ("AYUDA",),
    },
    "de": {
        "opt_out": ("STOPP", "ABMELDEN", "ABBESTELLEN"),
        "opt_in": ("ANMELDEN",),
        "help": ("HILFE",),
    },
}  # fmt: skip

#: Words that re-subscribe only a number currently opted out (all languages).
_OPT_IN_IF_OPTED_OUT = ("YES",)

#: The keyword that opts a number out of every scope (see gateway/optout/deliver.py), not only the
#: scope of the account it was sent to.
STOP_ALL = "STOPALL"


# --------------------------------------------------------------------------------------------
# Normalisation


# Every ASCII character that is neither a letter nor a digit (punctuation, symbols, controls).
_ASCII_STRIP = "".join(chr(c) for c in range(128) if not chr(c).isalnum())
_DASHES = {
    ord(c): "-"
    for c in (
        "\u2010\u2011\u2012\u2013\u2014\u2015"  # hyphen .. horizontal bar
        "\u2043\u2212\u2e3a\u2e3b\ufe58\ufe63\uff0d"  # hyphen bullet, minus, dashes, small/wide
    )
}


def _is_word_char(ch: str) -> bool:
    """Letters, digits and combining marks belong to a word; everything else is trimmed."""
    if ch.isalnum():
        return True
    cat = unicodedata.category(ch)
    if cat in ("Mn", "Mc"):
        o = ord(ch)
        # Variation selectors (emoji presentation etc.) are not part of any word.
        return not (0xFE00 <= o <= 0xFE0F or 0xE0100 <= o <= 0xE01EF)
    return False


def _trim(token: str) -> str:
    """Strip leading/trailing non-word characters; return "" if no letter or digit remains.

    Leading combining marks are stripped too: they have no base letter (NFKC turns U+00A8 into a
    space plus U+0308, for instance). Trailing ones belong to the letter before them.
    """
    if token.isascii():
        return token.strip(_ASCII_STRIP)
    start, end = 0, len(token)
    while start < end and not token[start].isalnum():
        start += 1
    while end > start and not _is_word_char(token[end - 1]):
        end -= 1
    return token[start:end].translate(_DASHES)


def _norm_token(raw: str) -> Iterator[str]:
    """Normalise one whitespace-delimited raw token into zero or more words."""
    if raw.isascii():
        word = raw.lower().strip(_ASCII_STRIP)
        if word:
            yield word
        return
    # NFKC can turn a compatibility character into a space plus a combining mark (U+00A8 ...),
    # so split again after normalising.
    for piece in unicodedata.normalize("NFKC", raw).casefold().split():
        word = _trim(piece)
        if word:
            yield word


def _first_words(text: str, n: int) -> list[str]:
    """The first ``n`` normalised words of ``text`` (fewer if it has fewer).

    ``str.split`` with a limit is used so that a long message is never scanned beyond the tokens
    needed; tokens made only of punctuation or emoji are skipped without counting.
    """
    words: list[str] = []
    rest = text
    while True:
        need = n - len(words)
        parts = rest.split(None, need)
        for raw in parts[:need]:
            words.extend(_norm_token(raw))
        if len(words) >= n:
            return words[:n]
        if len(parts) <= need:
            return words
        rest = parts[need]


def _canonical(keyword: object, list_name: str) -> tuple[str, tuple[str, ...]]:
    """Validate one configured keyword: return (canonical upper-case form, normalised words)."""
    if not isinstance(keyword, str):
        raise TypeError(f"{list_name}: keywords must be strings, got {keyword!r}")
    pieces = unicodedata.normalize("NFKC", keyword).split()
    words = tuple(w for p in pieces for w in _norm_token(p))
    if not words:
        raise ValueError(f"{list_name}: keyword {keyword!r} contains no letters or digits")
    shown = " ".join(w for w in map(_trim, pieces) if w)
    return shown.upper(), words


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True, slots=True)
class _Entry:
    words: tuple[str, ...]
    match: Match


@dataclass(frozen=True, slots=True, eq=False)
class _Index:
    """Precompiled lookup: first word -> candidate phrases, longest first."""

    opt_out: dict[str, tuple[_Entry, ...]]
    first_only: dict[str, tuple[_Entry, ...]]
    #: Tokens needed to decide: second position plus the longest phrase.
    horizon: int


def _variants(words: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Equivalent spellings of a phrase: "opt out" <-> "opt-out"."""
    out: list[tuple[str, ...]] = []
    if len(words) > 1:
        out.append(("-".join(words),))
    if len(words) == 1 and "-" in words[0]:
        parts = tuple(p for p in words[0].split("-") if p)
        if len(parts) > 1:
            out.append(parts)
    return out


def _build_index(
    groups: Sequence[tuple[str, Intent, bool, tuple[str, ...]]], language_of: dict[str, str]
) -> _Index:
    exact: dict[tuple[str, ...], tuple[str, Match]] = {}
    for list_name, intent, conditional, keywords in groups:
        for kw in keywords:
            _, words = _canonical(kw, list_name)
            prev = exact.get(words)
            if prev is not None:
                if prev[0] == list_name:
                    continue  # the same keyword twice in one list: harmless
                raise ValueError(f"keyword {kw!r} is configured both in {prev[0]} and in {list_name}")
            exact[words] = (list_name, Match(intent, kw, conditional, language_of.get(kw, "")))
    table: dict[tuple[str, ...], Match] = {w: m for w, (_, m) in exact.items()}
    for words, (_, match) in exact.items():
        for variant in _variants(words):
            table.setdefault(variant, match)  # an exact spelling always wins over a variant

    opt_out: dict[str, list[_Entry]] = {}
    first_only: dict[str, list[_Entry]] = {}
    for words, match in table.items():
        target = opt_out if match.intent is Intent.OPT_OUT else first_only
        target.setdefault(words[0], []).append(_Entry(words, match))
    longest = max((len(w) for w in table), default=1)

    def freeze(d: dict[str, list[_Entry]]) -> dict[str, tuple[_Entry, ...]]:
        return {k: tuple(sorted(v, key=lambda e: -len(e.words))) for k, v in d.items()}

    return _Index(freeze(opt_out), freeze(first_only), 1 + longest)


def _as_tuple(name: str, value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError(f"{name} must be a sequence of strings, not a single string")
    return tuple(_canonical(kw, name)[0] for kw in value)


@dataclass(frozen=True, slots=True)
class Keywords:
    """Keyword lists of one account. Entries may be phrases; they are stored canonical upper case.

    Constructing a ``Keywords`` validates it (each entry must be a string with at least one letter
    or digit; one keyword may not appear in two lists) and precompiles the lookup table, so build
    it once per account at configuration time, e.g. with :meth:`from_lists`.
    """

    opt_out: tuple[str, ...] = (
        "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT",
        "OPT OUT", "OPT-OUT",
    )  # fmt: skip
    opt_in: tuple[str, ...] = ("START", "UNSTOP")
    help: tuple[str, ...] = ("HELP", "INFO")
    #: Words that only re-subscribe a number that is currently opted out (``Match.conditional``).
    opt_in_if_opted_out: tuple[str, ...] = _OPT_IN_IF_OPTED_OUT
    #: (keyword, language) for the built-in words in use: what :attr:`Match.language` reports.
    languages: tuple[tuple[str, str], ...] = tuple(
        (kw, "en") for name in ("opt_out", "opt_in", "help") for kw in KEYWORD_SETS["en"][name]
    )
    _index: _Index = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        lists = {
            "opt_out": self.opt_out,
            "opt_in": self.opt_in,
            "help": self.help,
            "opt_in_if_opted_out": self.opt_in_if_opted_out,
        }
        for name, value in lists.items():
            object.__setattr__(self, name, _as_tuple(name, value))
        index = _build_index(
            [
                ("opt_out", Intent.OPT_OUT, False, self.opt_out),
                ("opt_in", Intent.OPT_IN, False, self.opt_in),
                ("help", Intent.HELP, False, self.help),
                ("opt_in_if_opted_out", Intent.OPT_IN, True, self.opt_in_if_opted_out),
            ],
            {_canonical(kw, "languages")[0]: language for kw, language in self.languages},
        )
        object.__setattr__(self, "_index", index)

    @classmethod
    def from_lists(
        cls,
        opt_out: Iterable[str] | None = None,
        opt_in: Iterable[str] | None = None,
        help: Iterable[str] | None = None,
        opt_in_if_opted_out: Iterable[str] | None = None,
        languages: Sequence[str] = ("en",),
    ) -> Keywords:
        """Per-account overrides; ``None`` keeps the default list (the built-in words of every one of
        ``languages``), an empty list disables it.

        A keyword given explicitly in one list is removed from the *default* lists, so
        ``from_lists(opt_in=["START", "YES"])`` makes YES an unconditional opt-in instead of
        clashing with the default ``opt_in_if_opted_out=("YES",)``. A keyword given in two
        explicit lists is an error.

        Raises :class:`ValueError` for an entry without letters or digits or a keyword listed under
        two intents, :class:`TypeError` for a non-string entry (or a bare string as a list).
        """
        given = {
            "opt_out": opt_out,
            "opt_in": opt_in,
            "help": help,
            "opt_in_if_opted_out": opt_in_if_opted_out,
        }
        explicit = {k: _as_tuple(k, v) for k, v in given.items() if v is not None}
        claimed = {_canonical(kw, k)[1] for k, kws in explicit.items() for kw in kws}
        unknown = [language for language in languages if language not in KEYWORD_SETS]
        if unknown:
            raise ValueError(f"unknown keyword language(s) {unknown} (known: {', '.join(KEYWORD_SETS)})")
        lists: dict[str, tuple[str, ...]] = {}
        tagged: list[tuple[str, str]] = []
        for name in given:
            if name in explicit:
                lists[name] = explicit[name]
                continue
            if name == "opt_in_if_opted_out":
                default: tuple[str, ...] = _OPT_IN_IF_OPTED_OUT
                lists[name] = tuple(kw for kw in default if _canonical(kw, name)[1] not in claimed)
                continue
            words: list[str] = []
            for language in languages:
                for kw in KEYWORD_SETS[language][name]:
                    if _canonical(kw, name)[1] not in claimed:
                        words.append(kw)
                        tagged.append((kw, language))
            lists[name] = tuple(words)
        return cls(
            opt_out=lists["opt_out"],
            opt_in=lists["opt_in"],
            help=lists["help"],
            opt_in_if_opted_out=lists["opt_in_if_opted_out"],
            languages=tuple(tagged),
        )


DEFAULT_KEYWORDS = Keywords()


# --------------------------------------------------------------------------------------------
# Classification


def _match_at(words: list[str], pos: int, table: dict[str, tuple[_Entry, ...]]) -> _Entry | None:
    if pos >= len(words):
        return None
    candidates = table.get(words[pos])
    if candidates is None:
        return None
    for entry in candidates:  # longest first
        n = len(entry.words)
        if n == 1 or tuple(words[pos : pos + n]) == entry.words:
            return entry
    return None


def classify_mo(text: str, keywords: Keywords = DEFAULT_KEYWORDS) -> Match | None:
    """Classify an MO message: the opt-out/opt-in/help keyword it carries, or ``None``.

    See the module docstring for the normalisation and the word-position rules.
    """
    index = keywords._index
    words = _first_words(text, index.horizon)
    if not words:
        return None
    for pos in (0, 1):
        entry = _match_at(words, pos, index.opt_out)
        if entry is not None:
            return entry.match
    entry = _match_at(words, 0, index.first_only)
    return entry.match if entry is not None else None
