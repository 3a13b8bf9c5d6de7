"""What every request goes through: the Content-Security-Policy, the body size limit and the
refusal of NUL characters in the query string.

Scripts run only from this origin or inline with the request's nonce (templates write it
as `nonce="{{ csp_nonce }}"`), so an injected `<script>` or `onclick=` never runs. Styles
may be inline: templates set widths in `style=""`, and plotly and htmx add style rules at
run time, none of which can carry a nonce. A view that sets its own policy (the offer image:
`sandbox`) keeps it.
"""

import secrets
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from deepflame_web.core.parsing import ascii_int

CSP_HEADER = "Content-Security-Policy"


def content_security_policy(nonce: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        nonce = secrets.token_urlsafe(16)
        request.csp_nonce = nonce  # type: ignore[attr-defined]
        response = self.get_response(request)
        if CSP_HEADER not in response:
            response[CSP_HEADER] = content_security_policy(nonce)
        return response


class RequestSizeLimitMiddleware:
    """Refuse a body over DATA_UPLOAD_MAX_MEMORY_SIZE before anything reads it (413).

    Django applies the limit when it parses a form, but the API's parsers read the stream
    themselves; file uploads (multipart) stream to disk and have their own checks.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and not (request.content_type or "").startswith("multipart/"):
            length = ascii_int(request.META.get("CONTENT_LENGTH") or "0")
            if length is None or length > limit:
                return JsonResponse(
                    {"detail": f"The request body is larger than {limit} bytes."}, status=413
                )
        return self.get_response(request)


class NullCharacterMiddleware:
    """Refuse a query string with a NUL character (400) before a view filters by it.

    PostgreSQL text cannot hold NUL, so a `?q=%00` that reaches a query raised a 500; bodies
    are checked by the forms' and serializers' own null-character validators.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if any("\x00" in key or "\x00" in value for key, value in request.GET.items()):
            return JsonResponse(
                {"detail": "The query string contains a NUL character (%00)."}, status=400
            )
        return self.get_response(request)
