"""What ``%gemma providers``, ``%gemma models`` and ``%gemma config`` show."""

from __future__ import annotations

import math
from typing import Any

from ..catalog.models import RANGED_PARAMS, ModelInfo
from ..errors import ConfigError
from ..session import Session, get_session
from .tables import Table


def _price(value: float) -> str:
    return "unknown" if math.isnan(value) else f"{value:g}"


def provider_status(config: Any, info: Any) -> tuple[bool | None, str, str]:
    """``(ready, word, how)``: credentials found, and for a server run on this machine
    (ollama, llama.cpp, vLLM) whether it listens; ready None when not checked."""
    from ..providers.servers import server_status

    ready, how = config.credentials_found(info)
    server = server_status(config, info) if ready else None
    if server is not None:
        ready, how = server
        return ready, {True: "ready", False: "not running", None: "not checked"}[ready], how
    # a key is not the whole story when the calls go elsewhere (the emulator, a proxy): say
    # which variable redirects them, not the URL (it may carry credentials)
    variable = config.base_url_variable(info)
    if ready and info.kind != "local" and config.lookup(variable)[0]:
        how += f"; base URL from {variable}"
    return ready, "ready" if ready else "missing", how


def providers_table(session: Session) -> Table:
    """Every provider with whether its credentials were found (never the secret itself)
    and, for a local server, whether it is running."""
    config = session.config
    rows = []
    for info in config.catalog:
        _, word, how = provider_status(config, info)
        default = _configured_gguf(info).id if _other_gguf(info) else info.default_model
        rows.append([info.name, info.kind, default or "", word, how, info.description])
    return Table(["provider", "wire format", "default model", "status", "how", "about"],
                 rows, title=f"default provider: {session.default_provider()}")


def models_table(session: Session, provider: str | None = None) -> Table:
    """The catalog: models, context, prices per million tokens, capabilities, ranges, and
    whether each is still served (retired ones stay listed, with their replacement)."""
    catalog = session.config.catalog
    infos = [catalog.provider(provider)] if provider else list(catalog)
    rows = []
    for info in infos:
        models = ([_configured_gguf(info)] if _other_gguf(info) else
                  list(info.models.values()) or [info.model()])
        for m in models:
            ranges = ", ".join(
                f"{name} {m.range(name).describe()}" for name in RANGED_PARAMS if name in m.params
                and name not in ("max_tokens", "seed") and name not in m.unsupported
            )
            rows.append([
                info.name, m.id, _context(info.kind, m), _price(m.price_in), _price(m.price_out),
                ", ".join(sorted(m.capabilities)), ranges, _status(m),
            ])
    return Table(["provider", "model", "context", "$/M in", "$/M out", "capabilities", "ranges",
                  "status"], rows)


def _other_gguf(info: Any) -> bool:
    """Whether ``info`` is the local provider pointed at a GGUF other than the bundled one
    (``GEMMA_MAGICS_LOCAL_MODEL``): then that file, not the catalog's entry, is what it
    serves, and what the listing shows."""
    if info.kind != "local":
        return False
    from ..providers import local_model

    return not local_model.is_bundled()


def _configured_gguf(info: Any) -> ModelInfo:
    from ..providers import local_model

    return local_model.served_model(info)


def _context(kind: str, model: ModelInfo) -> str:
    """The context a call can use. The local model is loaded with a smaller window than it
    was trained for (``GEMMA_MAGICS_LOCAL_N_CTX``), and that window is what bounds a call."""
    if kind != "local" or not model.context:
        return str(model.context or "")
    from ..providers.local import context_in_use

    in_use = context_in_use(model.context)
    return str(in_use) if in_use == model.context else f"{in_use} (of {model.context})"


def _status(model: ModelInfo) -> str:
    if model.retired is not None:
        when = f" {model.retired}" if model.retired else ""
        return f"retired{when}" + (f", use {model.replacement}" if model.replacement else "")
    notes = [f"not taken: {', '.join(sorted(model.unsupported))}"] if model.unsupported else []
    if model.unconfirmed:
        notes.append(f"{len(model.unconfirmed)} unconfirmed")
    return "; ".join(notes)


def models(provider: str | None = None, live: bool = False,
           session: Session | None = None) -> Table:
    """The built-in catalog (every provider, or ``provider``'s models): context, prices,
    capabilities, ranges. With ``live=True``, ask ``provider`` what it serves now and show
    beside the catalog its new Gemma ids, the ids we list that it no longer has, and context
    or price differences (``%gemma models PROVIDER --live``)."""
    session = session or get_session()
    if not live:
        return models_table(session, provider)
    if not provider:
        raise ConfigError("--live checks one provider at a time",
                          fix="name it: %gemma models cloudflare --live, or "
                              "gm.models('cloudflare', live=True)")
    from ..workflows import live_models

    info = session.config.catalog.provider(provider)
    checks = live_models.compare(info, live_models.fetch(session, provider))
    rows = [[c.id, c.status, c.catalog_context or "", c.live_context or "", c.catalog_price,
             c.live_price, c.differs] for c in checks]
    counts = {s: sum(c.status == s for c in checks) for s in ("new", "gone")}
    title = (f"{provider}: the catalog beside what it serves now ({counts['new']} new, "
             f"{counts['gone']} gone; prices $/M in / out)")
    return Table(["model", "status", "catalog context", "live context", "catalog price",
                  "live price", "differs"], rows, title=title)


def _provider_source(session: Session) -> str:
    if session.provider:
        return "session setting (%config GemmaMagics.default_provider, the panel)"
    value, source = session.config.lookup("GEMMA_MAGICS_PROVIDER")
    if value is not None:
        return source
    if session.config.file.get("settings", {}).get("provider"):
        return f"config file {session.config.path} ([settings] provider)"
    return "built-in default"


def config_table(session: Session, magics: Any = None) -> Table:
    """Exactly what the next ``%%gemma`` cell without flags sends, and where each value
    comes from: a session setting (``%config GemmaMagics.*``, the panel), the config file
    or environment, or the model's documented default; "not sent" leaves it to the
    provider. ``magics`` (the GemmaMagics instance) adds its format and streaming."""
    from ..errors import GemmaError
    from ..params import resolve

    catalog = session.config.catalog
    name = session.default_provider()
    rows = [["provider", name, _provider_source(session)]]
    try:
        info = catalog.provider(name)
        model = info.model(session.model)
    except GemmaError as exc:
        rows.append(["model", session.model or "", f"error: {exc}"])
        return Table(["setting", "next cell sends", "from"], rows, title=CONFIG_TITLE)
    rows.append(["model", model.id, "session setting" if session.model
                 else f"{name}'s default model (catalog)"])
    given = session.params.explicit()
    try:
        effective = resolve(session.params, model)[0].as_dict()
    except GemmaError as exc:  # a session value out of this model's range
        effective = {**session.params.as_dict(), "_error": str(exc)}
    where = f"{name} {model.id}"
    for param in RANGED_PARAMS:
        value = effective.get(param)
        if param in given:
            source = "session setting"
        elif value is not None:
            source = f"model default ({where})"
        else:
            value = "not sent"
            source = "random" if param == "seed" else "the provider's own default"
        if param in model.unsupported:
            source += f"; ignored by {name}"
        rows.append([param, value, source])
    for param in ("system", "stop"):
        if given.get(param) is not None:
            rows.append([param, given[param], "session setting"])
    if "_error" in effective:
        rows.append(["error", effective["_error"], "the next cell fails before sending"])
    if magics is not None:
        rows.append(["format", magics.format, "%config GemmaMagics.format"])
        rows.append(["stream", magics.stream, "%config GemmaMagics.stream"])
    rows += [["log", session.db_path, "where the record goes"],
             ["config file", str(session.config.path), ""]]
    return Table(["setting", "next cell sends", "from"], rows, title=CONFIG_TITLE)


CONFIG_TITLE = "what the next %%gemma cell sends (its own flags still win)"
