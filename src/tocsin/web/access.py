"""Who is at the console, and what they may do: the session's person, the checks of each
page and form (role, CSRF), and how a refusal or a missing session is answered."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from tocsin.errors import HTTP_STATUS, Forbidden, Invalid, TocsinError
from tocsin.service import passwords, share, tokens
from tocsin.service.share import LinkExpired
from tocsin.service.tokens import Need, may
from tocsin.web import session
from tocsin.web.render import page

MAX_FORM_BYTES = 64 * 1024
LINK = "link"  # the role of whoever opened a page's signed link: reads that incident only


@dataclass(frozen=True)
class Person:
    """Who is signed in: their token's (or password's, or the OpenID provider's) user and
    role, and the CSRF token of their session."""

    user: str
    role: str
    csrf: str

    def may(self, need: Need) -> bool:
        return may(self.role, need)


class SignIn(Exception):
    """No session: the answer leads to the sign-in form."""


def app_state(request: Request) -> Any:
    return request.app.state.tocsin


def signing_key(request: Request) -> bytes:
    return session.session_key(share.server_key(app_state(request).db))


def signed_in(request: Request) -> Person | None:
    state = app_state(request)
    key = signing_key(request)
    value = request.cookies.get(session.COOKIE)
    if value is None:
        return None
    token_id = session.session_token(key, value, state.clock.now())
    if token_id is None:
        return _password_holder(state, key, value) or _oidc_holder(state, key, value)
    token = tokens.by_id(state.db, token_id)
    if token is None or token.revoked_at is not None or not may(token.role, "read"):
        return None
    return Person(token.user, token.role, session.csrf(key, value))


def _password_holder(state: Any, key: bytes, value: str) -> Person | None:
    """The person of a password session, while their password has the stamp it names."""
    held = session.session_password(key, value, state.clock.now())
    if held is None:
        return None
    found = passwords.current(state.db, held.user)
    if found is None or not hmac.compare_digest(found.stamp, held.stamp):
        return None
    if not may(found.role, "read"):
        return None
    return Person(found.user, found.role, session.csrf(key, value))


def oidc_user(state: Any, claimed: str) -> str | None:
    """The configured user an OpenID Connect session (or sign-in) is for, while
    ``console.oidc`` is configured and ``claimed`` is still one of ``users:``."""
    if state.config.model.console.oidc is None:
        return None
    return claimed if claimed in state.config.paging.users else None


def _oidc_holder(state: Any, key: bytes, value: str) -> Person | None:
    """The person of an OpenID Connect session, while OIDC is configured and they are still
    a configured user; their role is the configured one."""
    held = session.session_oidc(key, value, state.clock.now())
    if held is None or oidc_user(state, held) is None:
        return None
    oidc = state.config.model.console.oidc
    return Person(held, oidc.role, session.csrf(key, value))


def require(request: Request, need: Need) -> Person:
    person = signed_in(request)
    if person is None:
        raise SignIn
    if not person.may(need):
        raise Forbidden(f"a {person.role} may not do this")
    return person


async def read_form(request: Request) -> FormData:
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
        raise Invalid(f"a form of the console is at most {MAX_FORM_BYTES // 1024} KB")
    return await request.form(max_files=0, max_fields=500)


async def acting(request: Request, need: Need = "respond") -> tuple[Person, FormData]:
    """The person, who may do ``need``, and the form they posted with its CSRF token
    checked."""
    person = require(request, need)
    form = await read_form(request)
    given = form.get(session.CSRF_FIELD) or request.headers.get(session.CSRF_HEADER)
    value = request.cookies.get(session.COOKIE)
    if not session.csrf_ok(signing_key(request), value, given if isinstance(given, str) else None):
        raise Forbidden("this form has expired or did not come from this console; reload the page")
    return person, form


def start_session(request: Request, value: str, answer: Response) -> Response:
    """``answer``, which sets the session cookie ``value`` (of a token, a password or
    the OpenID provider)."""
    answer.set_cookie(
        session.COOKIE, value,
        max_age=session.SESSION_S, httponly=True, samesite="lax",
        secure=request.url.scheme == "https", path="/",
    )  # fmt: skip
    answer.delete_cookie(session.SIGNIN_COOKIE, path="/signin")
    return answer


def redirect(path: str, **query: str) -> RedirectResponse:
    return RedirectResponse(path + ("?" + urlencode(query) if query else ""), status_code=303)


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of this site only."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/incidents"
    return value[:2000]


def error_page(request: Request, exc: TocsinError, person: Person | None) -> Response:
    status = next((s for kind, s in HTTP_STATUS.items() if isinstance(exc, kind)), 400)
    if isinstance(exc, LinkExpired):
        status = 410  # Gone, as the API answers it
    return page("error.html", status=status, person=person, message=exc.message, title="Refused")


def handled(
    view: Callable[..., Any],
) -> Callable[..., Any]:
    """A page's errors as pages: no session leads to sign-in, a refusal reads as one."""

    @functools.wraps(view)  # FastAPI reads the view's own parameters
    async def run(request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            answer: Response = await view(request, *args, **kwargs)
            return answer
        except SignIn:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if request.method != "GET":
                target = request.headers.get("referer", "/incidents")
            return redirect("/signin", next=safe_next(local(target)))
        except TocsinError as exc:
            return error_page(request, exc, person_or_none(request))

    return run


def local(target: str) -> str:
    """The path and query of a URL of this site (a Referer), else the incidents."""
    if target.startswith("http://") or target.startswith("https://"):
        rest = target.split("//", 1)[1]
        return "/" + rest.split("/", 1)[1] if "/" in rest else "/incidents"
    return target


def person_or_none(request: Request) -> Person | None:
    try:
        return signed_in(request)
    except TocsinError:
        return None
