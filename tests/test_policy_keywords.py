"""Tests for gateway.policy.keywords: table tests plus hypothesis properties."""

from __future__ import annotations

import string
import unicodedata

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway.policy.keywords import DEFAULT_KEYWORDS, Intent, Keywords, Match, classify_mo

OUT = Intent.OPT_OUT
IN = Intent.OPT_IN
HELP = Intent.HELP


# ------------------------------------------------------------------------------------------------
# Table tests


@pytest.mark.parametrize(
    ("text", "intent", "keyword"),
    [
        # Examples from the specification of the feature.
        ("STOP", OUT, "STOP"),
        ("Stop.", OUT, "STOP"),
        ("stop please", OUT, "STOP"),
        ("please stop", OUT, "STOP"),
        ("STOP!!!", OUT, "STOP"),
        ("  stop  ", OUT, "STOP"),
        ("OPT OUT", OUT, "OPT OUT"),
        ("opt-out", OUT, "OPT-OUT"),
        ("Opt out please", OUT, "OPT OUT"),
        ("please opt out", OUT, "OPT OUT"),
        ("START", IN, "START"),
        ("start please", IN, "START"),
        ("Help!", HELP, "HELP"),
        ("info?", HELP, "INFO"),
        # Normalisation: full width, mixed case, emoji, zero-width and odd dashes.
        ("\uff33\uff34\uff2f\uff30", OUT, "STOP"),  # full width STOP
        ("\uff53\uff54\uff4f\uff50 please", OUT, "STOP"),  # full width stop
        ("\uff2f\uff30\uff34\uff0d\uff2f\uff35\uff34", OUT, "OPT-OUT"),  # full width OPT-OUT
        ("sToP", OUT, "STOP"),
        ("UnSuBsCrIbE", OUT, "UNSUBSCRIBE"),
        ("STOP 🙏", OUT, "STOP"),
        ("STOP🙏", OUT, "STOP"),
        ("🙏 stop", OUT, "STOP"),
        ("stop\ufe0f", OUT, "STOP"),
        ("\u200bstop\u200b", OUT, "STOP"),
        ("opt\u2010out", OUT, "OPT-OUT"),
        ("opt \u2013 out", OUT, "OPT OUT"),
        ("\tSTOP\r\n", OUT, "STOP"),
        ('"Stop"', OUT, "STOP"),
        ("...stop...", OUT, "STOP"),
        ("- - stop", OUT, "STOP"),
        ("\u00a8stop", OUT, "STOP"),
        # Opt-out wins over opt-in/help among the first two words; first word wins over second.
        ("START STOP", OUT, "STOP"),
        ("stop start", OUT, "STOP"),
        ("help stop", OUT, "STOP"),
        ("yes stop", OUT, "STOP"),
        ("quit stop", OUT, "QUIT"),
        ("help me stop", HELP, "HELP"),
        ("Yes", IN, "YES"),
        ("yes!", IN, "YES"),
    ],
)
def test_classify_table(text: str, intent: Intent, keyword: str) -> None:
    m = classify_mo(text)
    assert m is not None, text
    assert m.intent is intent
    assert m.keyword == keyword
    assert m.conditional is (keyword == "YES")


@pytest.mark.parametrize(
    "text",
    [
        "Stopwatch for sale",
        "I will stop by later",
        "Don't forget to stop in",
        "nonstop",
        "unstoppable",
        "don't-stop",
        "stop-it",
        "please start",  # opt-in must be the first word
        "I need help",  # help must be the first word
        "ok yes",  # conditional opt-in: first word only
        "what info",
        "optimal outcome",
        "opt",
        "out",
        "a b stop",
        "a b opt out",
        "стоп",  # Cyrillic "stop": not a default keyword
        "СТОП пожалуйста",
        "توقف",  # Arabic "stop"
        "停止",
        "",
        "   ",
        "!!!",
        "🙏🙏",
        "\u200b",
    ],
)
def test_classify_none(text: str) -> None:
    assert classify_mo(text) is None


@pytest.mark.parametrize("keyword", DEFAULT_KEYWORDS.opt_out)
def test_each_default_opt_out(keyword: str) -> None:
    for text in (keyword, keyword.lower(), f"{keyword}.", f"please {keyword.lower()}", f"{keyword} x"):
        assert classify_mo(text) == Match(OUT, keyword, False), text


@pytest.mark.parametrize(
    ("keyword", "intent", "conditional"),
    [(k, IN, False) for k in DEFAULT_KEYWORDS.opt_in]
    + [(k, HELP, False) for k in DEFAULT_KEYWORDS.help]
    + [(k, IN, True) for k in DEFAULT_KEYWORDS.opt_in_if_opted_out],
)
def test_each_default_first_word(keyword: str, intent: Intent, conditional: bool) -> None:
    assert classify_mo(keyword) == Match(intent, keyword, conditional)
    assert classify_mo(f"{keyword.lower()}!! thanks") == Match(intent, keyword, conditional)
    assert classify_mo(f"ok {keyword}") is None


def test_default_lists() -> None:
    d = DEFAULT_KEYWORDS
    assert d.opt_out == (
        "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT",
        "OPT OUT", "OPT-OUT",
    )  # fmt: skip
    assert d.opt_in == ("START", "UNSTOP")
    assert d.help == ("HELP", "INFO")
    assert d.opt_in_if_opted_out == ("YES",)
    assert Keywords() == d
    assert Keywords.from_lists() == d
    assert hash(Keywords.from_lists()) == hash(d)


def test_per_account_override() -> None:
    kw = Keywords.from_lists(opt_out=["end", "Finish", "NONE"])
    assert kw.opt_out == ("END", "FINISH", "NONE")
    assert kw.opt_in == DEFAULT_KEYWORDS.opt_in
    assert classify_mo("finish", kw) == Match(OUT, "FINISH")
    assert classify_mo("None.", kw) == Match(OUT, "NONE")
    assert classify_mo("please END", kw) == Match(OUT, "END")
    assert classify_mo("STOP", kw) is None  # replaced, not extended
    assert classify_mo("START", kw) == Match(IN, "START")
    assert classify_mo("yes", kw) == Match(IN, "YES", conditional=True)


def test_override_non_latin_and_phrases() -> None:
    kw = Keywords.from_lists(opt_out=["СТОП", "Opt Out", "stop all"])
    assert classify_mo("стоп", kw) == Match(OUT, "СТОП")
    assert classify_mo("Стоп, пожалуйста", kw) == Match(OUT, "СТОП")
    # A phrase also matches its hyphenated spelling and vice versa.
    assert classify_mo("opt-out", kw) == Match(OUT, "OPT OUT")
    assert classify_mo("Stop-All", kw) == Match(OUT, "STOP ALL")
    hyphen_only = Keywords.from_lists(opt_out=["opt-out"])
    assert classify_mo("opt out", hyphen_only) == Match(OUT, "OPT-OUT")


def test_longest_phrase_wins() -> None:
    kw = Keywords.from_lists(opt_out=["stop", "stop all"], opt_in=["stop now please"])
    # "stop now please" is an opt-in phrase, but opt-out keywords are checked first.
    assert classify_mo("stop all", kw) == Match(OUT, "STOP ALL")
    assert classify_mo("stop", kw) == Match(OUT, "STOP")
    kw2 = Keywords.from_lists(opt_out=["opt", "opt out"])
    assert classify_mo("opt out", kw2) == Match(OUT, "OPT OUT")
    assert classify_mo("opt in", kw2) == Match(OUT, "OPT")


def test_yes_conditional_and_explicit_override() -> None:
    assert classify_mo("YES") == Match(IN, "YES", conditional=True)
    # Explicitly listing YES as an opt-in removes it from the default conditional list.
    kw = Keywords.from_lists(opt_in=["START", "YES"])
    assert kw.opt_in_if_opted_out == ()
    assert classify_mo("yes", kw) == Match(IN, "YES", conditional=False)
    # Disabling the conditional list.
    assert classify_mo("yes", Keywords.from_lists(opt_in_if_opted_out=[])) is None


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"opt_out": [""]}, ValueError),
        ({"opt_out": ["!!"]}, ValueError),
        ({"help": ["  "]}, ValueError),
        ({"opt_out": ["STOP"], "opt_in": ["stop"]}, ValueError),
        ({"opt_out": ["INFO"], "help": ["info"]}, ValueError),
        ({"opt_out": "STOP"}, TypeError),
        ({"opt_in": [1]}, TypeError),
    ],
)
def test_from_lists_validation(kwargs: dict[str, object], exc: type[Exception]) -> None:
    with pytest.raises(exc):
        Keywords.from_lists(**kwargs)  # type: ignore[arg-type]


def test_direct_construction_validates_and_canonicalises() -> None:
    kw = Keywords(opt_out=(" stop! ", "stop"), opt_in=(), help=(), opt_in_if_opted_out=())
    assert kw.opt_out == ("STOP", "STOP")
    assert classify_mo("stop", kw) == Match(OUT, "STOP")
    with pytest.raises(ValueError):
        Keywords(opt_out=("stop",), opt_in=("STOP",))


# ------------------------------------------------------------------------------------------------
# Hypothesis properties

# ASCII punctuation plus inverted marks, guillemets, curly quotes, ellipsis, dashes, CJK and
# full-width marks.
PUNCT = string.punctuation + "¡¿«»“”\u2018\u2019…—\u2013·•、。\uff01\uff1f"
WHITESPACE = " \t\r\n\u00a0\u3000"


def _norm(word: str) -> str:
    return unicodedata.normalize("NFKC", word).casefold()


# Every normalised word that occurs in a default keyword, and the hyphen-joined phrases.
KEYWORD_WORDS = {
    w for k in DEFAULT_KEYWORDS.opt_out + DEFAULT_KEYWORDS.opt_in + DEFAULT_KEYWORDS.help
    + DEFAULT_KEYWORDS.opt_in_if_opted_out for w in _norm(k).split()
} | {_norm(k).replace(" ", "-") for k in DEFAULT_KEYWORDS.opt_out}  # fmt: skip
# Words that can begin an opt-out keyword (or its hyphen/space variant).
OPT_OUT_STARTERS = (
    {_norm(k).split()[0] for k in DEFAULT_KEYWORDS.opt_out}
    | {_norm(k).split("-")[0] for k in DEFAULT_KEYWORDS.opt_out}
    | {_norm(k).replace(" ", "-") for k in DEFAULT_KEYWORDS.opt_out}
)

letters = st.characters(categories=("Lu", "Ll", "Lo"))


@st.composite
def plain_word(draw: st.DrawFn) -> str:
    """A word of letters that does not normalise to the start of an opt-out keyword."""
    w = draw(st.text(letters, min_size=1, max_size=12))
    n = _norm(w)
    assume(n.isalpha() and n not in OPT_OUT_STARTERS)
    return w


separators = st.builds(
    lambda a, b, c: a + b + c,
    st.text(st.sampled_from(PUNCT), max_size=3),
    st.text(st.sampled_from(WHITESPACE), min_size=1, max_size=3),
    st.text(st.sampled_from(PUNCT), max_size=3),
)


@settings(max_examples=300)
@given(w1=plain_word(), w2=plain_word(), s1=separators, s2=separators, rest=st.text())
def test_property_no_opt_out_unless_in_first_two_words(w1: str, w2: str, s1: str, s2: str, rest: str) -> None:
    """(a) When neither of the first two words begins an opt-out keyword there is no opt-out,
    whatever follows (keywords from the third word on are ignored)."""
    m = classify_mo(w1 + s1 + w2 + s2 + rest)
    assert m is None or m.intent is not OUT


def _vary_case(word: str, flips: list[bool]) -> str:
    return "".join(c.swapcase() if f else c for c, f in zip(word, flips + [False] * len(word), strict=False))


def _full_width(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


ALL_DEFAULT = (
    [(k, OUT, False) for k in DEFAULT_KEYWORDS.opt_out]
    + [(k, IN, False) for k in DEFAULT_KEYWORDS.opt_in]
    + [(k, HELP, False) for k in DEFAULT_KEYWORDS.help]
    + [(k, IN, True) for k in DEFAULT_KEYWORDS.opt_in_if_opted_out]
)


@settings(max_examples=300)
@given(
    entry=st.sampled_from(ALL_DEFAULT),
    flips=st.lists(st.booleans(), max_size=12),
    full_width=st.booleans(),
    lead=st.text(st.sampled_from(PUNCT + WHITESPACE), max_size=5),
    trail=st.text(st.sampled_from(PUNCT + WHITESPACE + "🙏😀\ufe0f"), max_size=5),
    inner=st.text(st.sampled_from(WHITESPACE), min_size=1, max_size=3),
    before=st.sampled_from(["", "please ", "Ok, ", "pls\t"]),
    tail=st.text(max_size=30),
)
def test_property_keyword_found_in_any_dress(
    entry: tuple[str, Intent, bool],
    flips: list[bool],
    full_width: bool,
    lead: str,
    trail: str,
    inner: str,
    before: str,
    tail: str,
) -> None:
    """(b) Every keyword is found whatever its case, width and surrounding punctuation."""
    keyword, intent, conditional = entry
    body = _vary_case(keyword, flips).replace(" ", inner)
    if full_width:
        body = _full_width(body)
    text = lead + body + trail
    if intent is OUT:
        # Opt-out: may be the second word, and anything may follow.
        text = before + text + " " + tail
    assert classify_mo(text) == Match(intent, keyword, conditional)


@st.composite
def non_keyword_word(draw: st.DrawFn) -> str:
    """Either letters, or a keyword glued to letters ("nonstop", "don't-stop", "stopwatch")."""
    if draw(st.booleans()):
        w = draw(st.text(st.sampled_from(string.ascii_letters + "'"), min_size=1, max_size=10))
    elif draw(st.booleans()):
        w = draw(st.sampled_from(["стоп", "توقف", "停止", "arrête", "straße", "\uff21\uff22\uff23"]))
    else:
        kw = draw(st.sampled_from(sorted(KEYWORD_WORDS)))
        pre = draw(st.text(st.sampled_from(string.ascii_letters), max_size=4))
        post = draw(st.text(st.sampled_from(string.ascii_letters), max_size=4))
        assume(pre or post)
        glue = draw(st.sampled_from(["", "'", "-"]))
        w = (pre + glue if pre else "") + kw + (glue + post if post else "")
    assume(_norm(w).strip(PUNCT) not in KEYWORD_WORDS)
    return w


@settings(max_examples=150)
@given(st.lists(st.tuples(non_keyword_word(), separators), max_size=6))
def test_property_no_keyword_word_means_none(parts: list[tuple[str, str]]) -> None:
    """(c) A text none of whose words is a keyword (even if keywords hide inside words)."""
    text = "".join(w + s for w, s in parts)
    assert classify_mo(text) is None


CUSTOM = Keywords.from_lists(opt_out=["stop", "opt out", "СТОП"], help=["aide"])


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_property_never_raises(text: str) -> None:
    """(d) Arbitrary text never raises and yields a Match or None."""
    for kw in (DEFAULT_KEYWORDS, CUSTOM):
        m = classify_mo(text, kw)
        assert m is None or isinstance(m, Match)


@given(st.text(max_size=40))
def test_property_prefix_only(text: str) -> None:
    """Only the first two words matter: after two plain words nothing is ever found."""
    assert classify_mo("hello there " + text) is None
