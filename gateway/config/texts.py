"""The replies a subscriber gets (STOP, START, HELP), by language, with defaults that are true for
what the account will actually do.

A STOP to an account whose traffic is not blocked for opted-out numbers (``traffic = "transactional"``
without ``block_transactional``) does not stop that account's messages: its default says marketing
stops and service messages continue, never "no further messages".
"""

from __future__ import annotations

from dataclasses import dataclass

#: Languages with built-in keywords (gateway/policy/keywords.py) and default replies.
LANGUAGES = ("en", "fr", "es", "de")


@dataclass(frozen=True, slots=True)
class Replies:
    """The three replies in one language."""

    confirmation: str
    resubscribe_confirmation: str
    help: str


#: STOP on an account whose messages stop: (language -> text).
_ALL_STOP = {
    "en": "You have been unsubscribed and will receive no further messages. Reply START to resubscribe.",
    "fr": "Vous êtes désabonné et ne recevrez plus de messages. Répondez DEMARRER pour vous réabonner.",
    "es": "Se ha dado de baja y no recibirá más mensajes. Responda ALTA para volver a suscribirse.",
    "de": "Sie sind abgemeldet und erhalten keine weiteren Nachrichten. Antworten Sie ANMELDEN zum Anmelden.",
}
#: STOP on an account whose (service) messages continue: only marketing stops.
_MARKETING_STOP = {
    "en": (
        "You will no longer receive marketing messages from us. "
        "Service messages about your account will continue."
    ),
    "fr": (
        "Vous ne recevrez plus de messages promotionnels de notre part. "
        "Les messages de service concernant votre compte continueront."
    ),
    "es": (
        "Ya no recibirá mensajes promocionales nuestros. "
        "Los mensajes de servicio sobre su cuenta continuarán."
    ),
    "de": (
        "Sie erhalten keine Werbenachrichten mehr von uns. "
        "Servicenachrichten zu Ihrem Konto erhalten Sie weiterhin."
    ),
}
_START = {
    "en": "You are subscribed again. Reply STOP to opt out.",
    "fr": "Vous êtes de nouveau abonné. Répondez ARRET pour vous désabonner.",
    "es": "Se ha suscrito de nuevo. Responda BAJA para darse de baja.",
    "de": "Sie sind wieder angemeldet. Antworten Sie STOPP zum Abmelden.",
}
_HELP = {
    "en": "Reply STOP to opt out, START to resubscribe.",
    "fr": "Répondez ARRET pour vous désabonner, DEMARRER pour vous réabonner.",
    "es": "Responda BAJA para darse de baja, ALTA para volver a suscribirse.",
    "de": "Antworten Sie STOPP zum Abmelden, ANMELDEN zum Anmelden.",
}

#: Phrases that promise every message stops (``check-config`` warns when an account's traffic is
#: not blocked and its confirmation says one of these).
NO_FURTHER_MESSAGES = (
    "no further messages",
    "no more messages",
    "not receive any more",
    "not receive any further",
    "won't receive any",
    "will not receive any",
    "ne recevrez plus de messages",
    "no recibirá más mensajes",
    "keine weiteren nachrichten",
)


def default_replies(language: str, *, stops_all: bool) -> Replies:
    """The built-in replies in ``language``; ``stops_all`` when STOP stops this account's messages."""
    stop = _ALL_STOP if stops_all else _MARKETING_STOP
    return Replies(stop[language], _START[language], _HELP[language])


def promises_no_further_messages(text: str) -> bool:
    lowered = text.lower()
    return any(phrase in lowered for phrase in NO_FURTHER_MESSAGES)
