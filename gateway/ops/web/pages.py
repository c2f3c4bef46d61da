"""The HTML of the public page: one small template, no scripts, readable on a phone."""

from __future__ import annotations

from html import escape

#: The survey's answers (value, label): the one question of the confirmation page.
REASONS = (
    ("too_many", "Too many messages"),
    ("not_relevant", "Not relevant to me"),
    ("never_signed_up", "I never signed up"),
    ("other", "Something else"),
)

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.4;color:#222}button{font-size:1.1rem;padding:.8rem 1.2rem;width:100%;"
    "border:0;border-radius:.4rem;background:#b00020;color:#fff}label{display:block;margin:.4rem 0}"
    ".secondary{background:#444}.number{font-size:1.3rem;font-weight:600;letter-spacing:.05em}"
)


def page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def confirm_page(masked: str, action: str, csrf: str) -> str:
    return page(
        "Stop messages",
        f'<p>Stop marketing messages to <span class="number">{escape(masked)}</span>?</p>'
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        '<button type="submit">Opt out</button></form>',
    )


def done_page(masked: str, action: str, csrf: str, *, already: bool) -> str:
    head = "was already opted out" if already else "is opted out"
    options = "".join(
        f'<label><input type="radio" name="reason" value="{value}"> {escape(label)}</label>'
        for value, label in REASONS
    )
    return page(
        "You are opted out",
        f'<p><span class="number">{escape(masked)}</span> {head}: no more marketing messages.</p>'
        f'<form method="post" action="{escape(action)}"><p>Optional: why did you opt out?</p>'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">{options}'
        '<button class="secondary" type="submit">Send answer</button></form>',
    )


def thanks_page() -> str:
    return page("Thank you", "<p>Thank you for your answer.</p>")


def error_page(title: str, message: str) -> str:
    return page(title, f"<p>{escape(message)}</p>")
