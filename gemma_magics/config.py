"""Credentials and settings: the environment, a ``.env`` in the working directory, and the
user's TOML file (``~/.config/gemma_magics/config.toml``).

Lookup order for every value: environment variable, then ``.env``, then the config file.
Keys are wrapped in :class:`Secret` as soon as they are read, so no repr, log line or error
message can carry one; messages name the variable or the file, never the value.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalog.models import Catalog, ProviderInfo, load_catalog
from .errors import ConfigError, MissingCredentialsError

log = logging.getLogger("gemma_magics")

#: Settings of the HTTP transport, per provider or global (see ``transport.TransportSettings``).
TRANSPORT_SETTINGS = ("max_retries", "connect_timeout", "read_timeout", "total_timeout")


class Secret:
    """A credential. ``str()``/``repr()`` never show it; :meth:`reveal` does."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str):
        self._value = value
        self.source = source  # e.g. "env CLOUDFLARE_API_TOKEN" or "/home/u/.config/.../config.toml"

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(<hidden>, from {self.source})"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("a Secret cannot be pickled")


class HiddenValues(dict):
    """``.env`` values: its repr names the variables, never their values (``vars(config)``
    and tracebacks show it)."""

    def __repr__(self) -> str:
        return f"HiddenValues({sorted(self)})"

    __str__ = __repr__


def _hide_file_keys(table: dict[str, Any], path: Path) -> dict[str, Any]:
    """The config file with every ``api_key`` held as a :class:`Secret`."""
    for settings in (table.get("providers") or {}).values():
        if isinstance(settings, dict) and isinstance(settings.get("api_key"), str):
            settings["api_key"] = Secret(settings["api_key"], str(path))
    return table


def user_config_path() -> Path:
    """``$GEMMA_MAGICS_CONFIG``, else ``$XDG_CONFIG_HOME/gemma_magics/config.toml``."""
    explicit = os.environ.get("GEMMA_MAGICS_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "gemma_magics" / "config.toml"


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a syntax error becomes one line naming the file and line."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:  # imported here: %load_ext reads no file
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        reason, line, column = _toml_position(str(exc), text)
        where = f"line {line}" + (f", column {column}" if column else "")
        raise ConfigError(f"{path}, {where}: invalid TOML: {reason}",
                          fix="fix or remove that line") from None


_TOML_AT = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


def _toml_position(message: str, text: str) -> tuple[str, int, int | None]:
    """(reason, line, column) of a TOML error; "at end of document" is the last line
    that has anything on it."""
    match = _TOML_AT.search(message)
    reason = message[: match.start()] if match else message
    if match and match.group(1):
        return reason, int(match.group(1)), int(match.group(2))
    lines = text.splitlines()
    last = max((i for i, line in enumerate(lines, 1) if line.strip()), default=1)
    return reason, last, None  # where the unfinished thing is, not the blank lines after it


_DOTENV_LINE = re.compile(r"line (\d+)")


def read_dotenv(path: Path) -> dict[str, str]:
    """Values from a ``.env`` file (not exported to ``os.environ``).

    A line python-dotenv cannot parse becomes a ConfigError naming the file and line.
    """
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    problems: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            problems.append(record.getMessage())

    dotenv_log = logging.getLogger("dotenv.main")
    handler = _Collect(logging.WARNING)
    dotenv_log.addHandler(handler)
    try:
        values = dotenv_values(path)
    finally:
        dotenv_log.removeHandler(handler)
    if problems:
        match = _DOTENV_LINE.search(problems[0])
        line = f" line {match.group(1)}" if match else ""
        raise ConfigError(
            f"{path},{line} cannot be parsed", fix="use KEY=value lines, quote values with spaces"
        )
    return {k: v for k, v in values.items() if v is not None}


@dataclass
class Endpoint:
    """Everything needed to reach one provider: where, and with which key."""

    provider: ProviderInfo
    base_url: str
    api_key: Secret | None = None
    account_id: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        key = "set" if self.api_key else "none"
        return f"Endpoint({self.provider.name!r}, {self.base_url!r}, api_key={key})"


class Config:
    """The merged settings of one session. Re-read with :meth:`reload`."""

    def __init__(self, path: Path | None = None, cwd: Path | None = None):
        self.path = path or user_config_path()
        self.cwd = cwd
        self.reload()

    def reload(self) -> None:
        self.file = _hide_file_keys(read_toml(self.path), self.path)
        self.dotenv_path = (self.cwd or Path.cwd()) / ".env"
        self.dotenv = HiddenValues(read_dotenv(self.dotenv_path))
        self.catalog: Catalog = load_catalog(self.file)

    def __repr__(self) -> str:
        return f"Config(path={str(self.path)!r}, providers={len(self.catalog.providers)})"

    # -- plain settings -------------------------------------------------------------------
    def lookup(self, env_name: str) -> tuple[str | None, str]:
        """A value by environment-variable name and where it came from."""
        if os.environ.get(env_name):
            return os.environ[env_name], f"env {env_name}"
        if self.dotenv.get(env_name):
            return self.dotenv[env_name], f"{self.dotenv_path} ({env_name})"
        return None, ""

    def setting(self, name: str, default: Any = None) -> Any:
        """A general setting: ``GEMMA_MAGICS_<NAME>`` or ``[settings] name`` in the file."""
        value, _ = self.lookup(f"GEMMA_MAGICS_{name.upper()}")
        if value is not None:
            return value
        return self.file.get("settings", {}).get(name, default)

    # -- providers ------------------------------------------------------------------------
    def _provider_file_settings(self, name: str) -> Mapping[str, Any]:
        return self.file.get("providers", {}).get(name, {})

    @staticmethod
    def base_url_variable(info: ProviderInfo) -> str:
        """The variable that points a provider elsewhere, e.g. GEMMA_MAGICS_OLLAMA_BASE_URL."""
        return f"GEMMA_MAGICS_{info.name.upper().replace('-', '_')}_BASE_URL"

    def base_url(self, info: ProviderInfo, account_id: str | None = None) -> str:
        override_var = self.base_url_variable(info)
        url, _ = self.lookup(override_var)
        if url is None and info.base_url_env:
            url, _ = self.lookup(info.base_url_env)
        url = url or info.base_url
        if not url:
            raise ConfigError(
                f"provider {info.name!r} has no base URL", fix=f"set {override_var}"
            )
        if "{account_id}" in url:
            url = url.replace("{account_id}", account_id or "")
        return url.rstrip("/")

    def api_key(self, info: ProviderInfo) -> Secret | None:
        """The provider's key, stripped of surrounding whitespace (``open("key.txt").read()``
        ends in a newline, which no HTTP header may carry)."""
        for env_name in info.api_key_env:
            value, source = self.lookup(env_name)
            if value and value.strip():
                return Secret(_stripped(value, source), source)
        in_file = self._provider_file_settings(info.name).get("api_key")
        if isinstance(in_file, Secret):
            in_file = in_file.reveal()
        if in_file and str(in_file).strip():
            return Secret(_stripped(str(in_file), str(self.path)), str(self.path))
        return None

    def account_id(self, info: ProviderInfo) -> str | None:
        if not info.account_id_env:
            return None
        value, _ = self.lookup(info.account_id_env)
        return value or self._provider_file_settings(info.name).get("account_id")

    def credentials_found(self, info: ProviderInfo) -> tuple[bool, str]:
        """Whether the provider can be called, and a short human description (no secrets)."""
        if info.kind == "local":
            return True, "no key needed"
        key = self.api_key(info)
        missing = []
        if info.key_required and key is None:
            missing.append(" or ".join(info.api_key_env) or "api_key in the config file")
        if info.account_id_env and not self.account_id(info):
            missing.append(info.account_id_env)
        if missing:
            return False, "set " + " and ".join(missing)
        return True, f"key from {key.source}" if key else "no key needed"

    def endpoint(self, name: str) -> Endpoint:
        """Resolve a provider's URL and credentials, or say exactly which variable to set."""
        info = self.catalog.provider(name)
        if info.kind == "local":
            return Endpoint(info, base_url="local")
        account_id = self.account_id(info)
        if info.account_id_env and not account_id:
            raise MissingCredentialsError(
                f"{name} needs an account id", fix=f"set {info.account_id_env}"
            )
        key = self.api_key(info)
        if key is None and info.key_required:
            names = " or ".join(info.api_key_env) if info.api_key_env else None
            fix = f"set {names}" if names else f"add api_key to [providers.{name}] in {self.path}"
            raise MissingCredentialsError(f"{name} needs an API key", fix=fix)
        if key is not None:
            check_header_safe(key)
        return Endpoint(
            info,
            base_url=self.base_url(info, account_id),
            api_key=key,
            account_id=account_id,
            settings=self.provider_settings(name),
        )

    def provider_settings(self, name: str) -> dict[str, Any]:
        """A provider's ``[providers.NAME]`` table without its key, plus the transport
        settings (``max_retries``, ``connect_timeout``, ``read_timeout``): the environment's
        ``GEMMA_MAGICS_<SETTING>`` first, then the provider's table, then ``[settings]``."""
        table = {k: v for k, v in self._provider_file_settings(name).items() if k != "api_key"}
        for key in TRANSPORT_SETTINGS:
            value, _ = self.lookup(f"GEMMA_MAGICS_{key.upper()}")
            if value is None:
                value = table.get(key, self.file.get("settings", {}).get(key))
            if value is not None:
                table[key] = value
        return table

    def secrets(self) -> list[str]:
        """Every credential value this config can see, for scrubbing text before it is shown."""
        found = []
        for info in self.catalog:
            key = self.api_key(info)
            if key:
                found.append(key.reveal())
        return [s for s in found if len(s) >= MIN_SECRET_LENGTH]


#: Shorter "keys" (test placeholders) would redact ordinary letters out of every message.
MIN_SECRET_LENGTH = 4

_warned: set[str] = set()
_warned_lock = threading.Lock()


def _stripped(value: str, source: str) -> str:
    """``value`` without surrounding whitespace; says so once per source (never the value)."""
    clean = value.strip()
    if clean != value:
        with _warned_lock:
            first = source not in _warned
            _warned.add(source)
        if first:
            log.warning("the API key in %s had surrounding whitespace (a newline, say); "
                        "it was stripped", source)
    return clean


def check_header_safe(key: Secret) -> None:
    """A key goes into an HTTP header, which takes visible ASCII only: anything else is
    refused here, naming where the key came from (httpcore's own refusal quotes the key)."""
    value = key.reveal()
    if all(0x21 <= ord(ch) <= 0x7E for ch in value):
        return
    bad = next(ch for ch in value if not 0x21 <= ord(ch) <= 0x7E)
    what = "a non-ASCII character" if ord(bad) > 0x7E else "a space or control character"
    raise ConfigError(
        f"the API key in {key.source} contains {what} (U+{ord(bad):04X}), "
        "which an HTTP header cannot carry",
        fix="copy the key again from the provider's dashboard; a key is plain ASCII",
    )


def secret_forms(secret: str) -> set[str]:
    """Every way ``secret`` can appear in a message: as is, stripped, escaped by ``repr()``
    (also of its bytes, as httpcore quotes a refused header), JSON-escaped, URL-encoded."""
    forms = set()
    for value in {secret, secret.strip()}:
        if not value:
            continue
        forms |= {
            value,
            repr(value)[1:-1],
            repr(value.encode("utf-8", "backslashreplace"))[2:-1],
            json.dumps(value)[1:-1],
            json.dumps(value, ensure_ascii=False)[1:-1],
            urllib.parse.quote(value, safe=""),
            urllib.parse.quote_plus(value),
        }
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


def scrub(text: str, secrets: list[str]) -> str:
    """Replace any secret value in ``text``, in any of its escaped forms
    (:func:`secret_forms`), by ``<redacted>``."""
    for secret in secrets:
        if len(secret) < MIN_SECRET_LENGTH:
            continue
        for form in sorted(secret_forms(secret), key=len, reverse=True):  # longest first
            if form in text:
                text = text.replace(form, "<redacted>")
    return text
