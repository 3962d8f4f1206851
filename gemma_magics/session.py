"""Per-process state: configuration, the record log, and the session defaults that the
magics, ``%config GemmaMagics.*`` and the panel all read and write."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Config
from .params import Params

if TYPE_CHECKING:  # sqlite3, hashlib and uuid load with the first record, not at %load_ext
    from .records.log import RecordLog


def default_db_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("gemma_magics", appauthor=False)) / "history.sqlite"


class Session:
    """Defaults for the next call and where its record goes."""

    def __init__(self, config: Config | None = None, db_path: str | Path | None = None):
        self._config = config
        self._db_path = db_path
        self._log: RecordLog | None = None
        self._lock = threading.Lock()
        self.provider: str | None = None
        self.model: str | None = None
        self.params = Params()
        self.shown: set[str] = set()  # one-time notices already given
        self._listeners: list[Callable[[Session], None]] = []

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = Config()
        return self._config

    @property
    def db_path(self) -> str:
        return str(self._db_path or self.config.setting("db") or default_db_path())

    @db_path.setter
    def db_path(self, value: str | Path) -> None:
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None
            self._db_path = value

    @property
    def log(self) -> RecordLog:
        with self._lock:
            if self._log is None:
                from .records.log import RecordLog

                self._log = RecordLog(self.db_path)
            return self._log

    def default_provider(self) -> str:
        return self.provider or self.config.setting("provider") or "local"

    def set_defaults(self, *, provider: Any = ..., model: Any = ..., **params: Any) -> None:
        """Change the defaults of later calls (``None`` clears one); tells listeners."""
        if provider is not ...:
            self.provider = provider
        if model is not ...:
            self.model = model
        if params:
            current = self.params.as_dict()
            current.update(params)
            self.params = Params.from_kwargs(**current)
        for listener in list(self._listeners):
            listener(self)

    def reset_defaults(self) -> None:
        self.set_defaults(provider=None, model=None)
        self.params = Params()
        for listener in list(self._listeners):
            listener(self)

    def subscribe(self, listener: Callable[[Session], None]) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[Session], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def once(self, key: str) -> bool:
        """True the first time ``key`` is asked in this session."""
        if key in self.shown:
            return False
        self.shown.add(key)
        return True

    def __repr__(self) -> str:
        return f"Session(provider={self.default_provider()!r}, db={self.db_path!r})"


_session: Session | None = None


def get_session() -> Session:
    """The process-wide session, created on first use."""
    global _session
    if _session is None:
        _session = Session()
    return _session


def set_session(session: Session) -> Session:
    """Replace the process-wide session (tests use a fresh one with ``db_path=':memory:'``)."""
    global _session
    _session = session
    return session
