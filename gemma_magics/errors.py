"""One exception hierarchy for everything that can go wrong in a call.

Every error carries a one-line ``str()`` meant to be shown as is in a notebook: what went
wrong, the provider's own message and code when there is one, and what to do about it.
None of them ever holds an API key.
"""

from __future__ import annotations


class GemmaError(Exception):
    """Base class of every error gemma_magics raises on purpose."""

    #: Short advice appended to the message, e.g. "set CLOUDFLARE_API_TOKEN".
    fix: str | None = None

    def __init__(self, message: str, *, fix: str | None = None):
        super().__init__(message)
        self.message = message
        if fix is not None:
            self.fix = fix
        #: The partial or failed :class:`~gemma_magics.api.Completion`, when a call produced one.
        self.completion = None

    def __str__(self) -> str:
        return f"{self.message} ({self.fix})" if self.fix else self.message


class Interrupted(KeyboardInterrupt):
    """The stop button (a kernel interrupt) ended a call or a comparison.

    Still a KeyboardInterrupt, so code that catches one still does and Run All stops at
    the cell; IPython shows only its one line (``_render_traceback_``) rather than a
    traceback through library internals. ``result`` holds what was recorded: the partial
    Completion, or the comparison's DataFrame of the runs that finished or were stopped.
    """

    def __init__(self, message: str, result: object = None):
        super().__init__(message)
        self.message = message
        self.result = result

    def _render_traceback_(self) -> list[str]:
        return [self.message]


class ConfigError(GemmaError):
    """Bad or missing configuration: unknown provider, missing credentials, unreadable file."""


class MissingCredentialsError(ConfigError):
    """A provider's API key or account id is not set anywhere."""


class ValidationError(GemmaError, ValueError):
    """A setting is out of the model's range or not supported, caught before any request."""


class CapabilityError(ValidationError):
    """The chosen backend cannot do what was asked (images, LoRA, tools...)."""


class OutputParseError(GemmaError):
    """The answer was not valid JSON or did not match the requested schema."""


class APIError(GemmaError):
    """The provider answered with an error.

    ``status`` is the HTTP status (None for errors inside a 200 stream), ``code`` the
    provider's own error code when it sends one (Cloudflare's 3040, OpenRouter's 402...).
    """

    retryable = False
    #: For statuses without a class of their own, and errors inside an HTTP 200 answer.
    fix = "the provider reported an error; retry, and check the settings if it persists"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        code: str | int | None = None,
        retry_after: float | None = None,
        fix: str | None = None,
    ):
        super().__init__(message, fix=fix)
        self.provider = provider
        self.status = status
        self.code = code
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = [self.provider]
        if self.status is not None:
            where.append(f"HTTP {self.status}")
        if self.code not in (None, "", self.status):
            where.append(f"code {self.code}")
        text = f"{' '.join(where)}: {self.message}"
        return f"{text} ({self.fix})" if self.fix else text

    def __reduce__(self):
        return (_rebuild_api_error, (type(self), self.message, self.__dict__))


def _rebuild_api_error(cls, message, state):
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class BadRequestError(APIError):
    fix = "check the prompt and settings"


class AuthenticationError(APIError):
    fix = "check the API key"


class PermissionDeniedError(APIError):
    fix = "the key or account has no access to this model"


class NotFoundError(APIError):
    fix = "check the model id (%gemma models) and account id"


class RequestTimeoutError(APIError):
    retryable = True
    fix = "the provider timed out; retry, or lower max_tokens"


class ConflictError(APIError):
    retryable = True
    fix = "a conflicting request was in flight; retry"


class PayloadTooLargeError(APIError):
    fix = "shorten the prompt or lower max_tokens"


class RateLimitError(APIError):
    retryable = True
    fix = "slow down or retry later"


class QuotaExceededError(RateLimitError):
    """Daily allocation or credits used up: retrying does not help."""

    retryable = False
    fix = "the allocation is used up; retrying today will not help"


class InternalServerError(APIError):
    retryable = True
    fix = "the provider had a problem; retry later"


class StreamError(APIError):
    """The stream broke or carried an error after the answer had started."""

    fix = None  # each is raised with advice for its case


class APIConnectionError(APIError):
    """No answer at all: refused, DNS failure, dropped connection."""

    retryable = True
    fix = "check the base URL and your network"


class APITimeoutError(APIConnectionError):
    fix = "the provider did not answer in time; retry or raise the timeout"


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: QuotaExceededError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: RequestTimeoutError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: BadRequestError,
    429: RateLimitError,
}


def error_class_for_status(status: int | None) -> type[APIError]:
    """The :class:`APIError` subclass for an HTTP status (5xx → InternalServerError)."""
    if status is None:
        return StreamError
    if status >= 500:
        return InternalServerError
    return _BY_STATUS.get(status, APIError)

