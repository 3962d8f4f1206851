"""What ``%gemma providers``, ``%gemma models`` and ``%gemma config`` show."""

from __future__ import annotations

import math

from ..catalog.models import RANGED_PARAMS, ModelInfo
from ..errors import ConfigError
from ..session import Session, get_session
from .tables import Table


def _price(value: float) -> str:
    return "unknown" if math.isnan(value) else f"{value:g}"


def providers_table(session: Session) -> Table:
    """Every provider with whether its credentials were found (never the secret itself)."""
    config = session.config
    rows = []
    for info in config.catalog:
        ready, how = config.credentials_found(info)
        rows.append([
            info.name,
            info.kind,
            info.default_model or "",
            "ready" if ready else "missing",
            how,
            info.description,
        ])
    return Table(["provider", "wire format", "default model", "credentials", "how", "about"],
                 rows, title=f"default provider: {session.default_provider()}")


def models_table(session: Session, provider: str | None = None) -> Table:
    """The catalog: models, context, prices per million tokens, capabilities, ranges, and
    whether each is still served (retired ones stay listed, with their replacement)."""
    catalog = session.config.catalog
    infos = [catalog.provider(provider)] if provider else list(catalog)
    rows = []
    for info in infos:
        models = list(info.models.values()) or [info.model()]
        for m in models:
            ranges = ", ".join(
                f"{name} {m.range(name).describe()}" for name in RANGED_PARAMS if name in m.params
                and name not in ("max_tokens", "seed") and name not in m.unsupported
            )
            rows.append([
                info.name, m.id, m.context or "", _price(m.price_in), _price(m.price_out),
                ", ".join(sorted(m.capabilities)), ranges, _status(m),
            ])
    return Table(["provider", "model", "context", "$/M in", "$/M out", "capabilities", "ranges",
                  "status"], rows)


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


def config_table(session: Session) -> Table:
    """The session defaults the next %%gemma cell uses."""
    rows = [["provider", session.default_provider()], ["model", session.model or "(provider default)"]]
    rows += [[k, v] for k, v in session.params.explicit().items()]
    rows += [["log", session.db_path], ["config file", str(session.config.path)]]
    return Table(["setting", "value"], rows, title="session defaults")
