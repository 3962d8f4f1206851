"""The parameter panel: ``gemma_magics.panel()`` or ``%gemma panel``.

Provider and model pickers, one control per sampling setting (each model's allowed range
and default), system and prompt boxes, Run, Compare (with a budget box), Stop and "Reset to model
defaults".
Every control writes the session defaults, so the next ``%%gemma`` cell uses the panel's
settings (its own flags still win), and the panel follows changes made elsewhere
(``%gemma reset``, ``%config GemmaMagics.temperature = ...``). ipywidgets is imported only
when a panel is built.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from ..catalog.models import INTEGER_PARAMS, RANGED_PARAMS, ModelInfo, ParamRange
from ..catalog.thinking import think_switch
from ..errors import GemmaError
from ..palette import ACCENT, MUTED
from ..providers.local import context_in_use
from ..session import Session, get_session
from .listing import provider_status
from .panel_actions import PanelActions
from .panel_static import StaticCopy
from .seed_box import seed_box, typed_seed
from .stopping import in_kernel

#: Shown when a model documents no default for a setting (the backend then uses its own).
FALLBACK = {"max_tokens": 256, "temperature": 1.0, "top_p": 1.0, "top_k": 40, "seed": 0,
            "repetition_penalty": 1.0, "frequency_penalty": 0.0, "presence_penalty": 0.0}
JS_MAX_INT = 2**53 - 1  # larger integers do not survive the trip to the browser
TEXT_BOXES = ("max_tokens", "seed")  # a slider over 1–32768 or 0–2**64 is no use


def panel(session: Session | None = None) -> Panel:
    """Build the parameter panel (display it by leaving it last in a cell)."""
    return Panel(session)


THINK_OPTIONS = ("default", "on", "off")


def _think_label(think: bool | None) -> str:
    return "default" if think is None else ("on" if think else "off")


def _bounds(name: str, allowed: ParamRange) -> tuple[float, float]:
    lo = allowed.min if allowed.min is not None else (0 if name != "max_tokens" else 1)
    hi = allowed.max if allowed.max is not None else max(FALLBACK[name] * 4, 1)
    if name in INTEGER_PARAMS:
        return int(lo), int(min(hi, JS_MAX_INT))
    return float(lo), float(hi)


def _clamp(value: float, lo: float, hi: float) -> float:
    return min(max(value, lo), hi)


class Panel(PanelActions):
    """The widgets, and the logic that ties them to the session. Attributes are the
    controls themselves (``provider``, ``model``, ``controls[name]``, ``run_button``...), so
    code and tests can drive the panel as a user would."""

    def __init__(self, session: Session | None = None):
        import ipywidgets as w

        self._w = w
        self.session = session or get_session()
        self._syncing = False
        self.explicit: set[str] = set(self.session.params.explicit()) & set(RANGED_PARAMS)
        self.last: Any = None  # the last Completion (Run) or DataFrame (Compare)
        catalog = self.session.config.catalog
        wide = {"description_width": "130px"}

        provider = self.session.default_provider()
        self.provider = w.Dropdown(options=self._provider_options(), value=provider,
                                   description="provider", style=wide,
                                   layout=w.Layout(width="420px"))
        self.model = w.Dropdown(options=self._model_options(provider), description="model",
                                style=wide, layout=w.Layout(width="420px", max_width="100%"))
        self.model.value = self._current_model(provider)
        self.controls: dict[str, Any] = {}
        self.markers: dict[str, Any] = {}
        info = catalog.model(provider, self.model.value)
        for name in RANGED_PARAMS:
            self.controls[name] = self._control(name, info, wide)
            self.markers[name] = w.HTML(layout=w.Layout(width="140px"))
        self.system = w.Textarea(value=self.session.params.system or "",
                                 placeholder="system prompt (optional)", description="system",
                                 style=wide, continuous_update=False,
                                 layout=w.Layout(width="98%", height="3.5em"))
        self.think = w.ToggleButtons(options=THINK_OPTIONS, value=_think_label(
            self.session.params.think), description="think", style=wide,
            tooltips=["the model's default (thinking models: off)", "reason first", "answer directly"])
        self.prompt = w.Textarea(placeholder="prompt", description="prompt", style=wide,
                                 layout=w.Layout(width="98%", height="6em"))
        self.run_button = w.Button(description="Run", button_style="primary", icon="play")
        self.compare_button = w.Button(description="Compare", icon="columns",
                                       tooltip="run the prompt on every ticked provider")
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True,
                                    tooltip="stop the Run or Compare in flight (as the "
                                    "kernel's interrupt does)")
        self._stop_event = threading.Event()
        self.reset_button = w.Button(description="Reset to model defaults", icon="undo",
                                     layout=w.Layout(width="auto"))
        self.compare_with = w.SelectMultiple(options=self._ready_providers(),
                                             description="compare on", style=wide, rows=4,
                                             layout=w.Layout(width="420px"))
        if provider in self.compare_with.options:
            self.compare_with.value = (provider,)
        self.budget = w.Text(placeholder="no limit", description="budget USD", style=wide,
                             tooltip="Compare sends no run that could pass this spend",
                             layout=w.Layout(width="260px"))
        self.budget_allow_unknown = w.Checkbox(
            value=False, description="allow hosts without a price", indent=False)
        self.checks = w.Text(description="checks", style=wide, layout=w.Layout(width="420px"),
                             placeholder="e.g. icontains:Paris, max-chars:200")
        self.stats = w.HTML()
        # bounded and scrolling: a long answer must not make the panel 1000 px taller
        box = {"border": "1px solid #ddd", "min_height": "3em", "max_height": "24em",
               "overflow": "auto", "padding": "4px"}
        # Run's answer and Compare's grid: each box shows once its button is first used
        self.output = w.Output(layout=w.Layout(**box, display="none"))
        self.compare_output = w.Output(layout=w.Layout(**box, display="none"))
        self.static = StaticCopy(lambda: (
            f"gemma_magics parameter panel ({self.provider.value} · {self.model.value}): its "
            "controls live in the kernel that drew them; run this cell again to use them"))
        self._apply_model(info)
        self._wire()
        self.widget = w.VBox([
            # wraps: two 420 px pickers are wider than an 800 px window's output area
            w.HBox([self.provider, self.model], layout=w.Layout(flex_flow="row wrap")),
            *[w.HBox([self.controls[n], self.markers[n]]) for n in RANGED_PARAMS],
            self.system,
            self.think,
            self.prompt,
            w.HBox([self.run_button, self.compare_button, self.stop_button, self.reset_button],
                   layout=w.Layout(flex_flow="row wrap")),  # 800 px: no label cut
            self.compare_with,
            w.HBox([self.budget, self.budget_allow_unknown]),
            self.checks,
            self.stats,
            self.output,
            self.compare_output,
        ])

    # -- building -----------------------------------------------------------------------
    def _provider_options(self) -> list[tuple[str, str]]:
        config = self.session.config
        options = []
        for info in config.catalog:
            _, word, how = provider_status(config, info)  # "not running": a server to start
            options.append((f"{info.name} — {how if word == 'missing' else word}", info.name))
        return options

    def _ready_providers(self) -> list[str]:
        config = self.session.config
        return [i.name for i in config.catalog if provider_status(config, i)[0] is not False]

    def _model_options(self, provider: str) -> list[str]:
        info = self.session.config.catalog.provider(provider)
        ids = info.served() or [info.default_model or ""]
        current = self.session.model
        if current and provider == self.session.default_provider() and current not in ids:
            ids.append(current)
        return ids

    def _current_model(self, provider: str) -> str:
        if self.session.model and provider == self.session.default_provider():
            return self.session.model
        return self.session.config.catalog.provider(provider).model().id

    def _control(self, name: str, info: ModelInfo, style: dict[str, str]) -> Any:
        w = self._w
        lo, hi = _bounds(name, info.range(name))
        label = name.replace("_", " ")
        if name == "seed":
            return seed_box(lo, hi, description=label, style=style,
                             layout=w.Layout(width="280px"))
        if name in TEXT_BOXES:
            return w.BoundedIntText(min=lo, max=hi, value=lo, description=label, style=style,
                                    layout=w.Layout(width="280px"))
        if name in INTEGER_PARAMS:
            return w.IntSlider(min=lo, max=hi, value=lo, description=label, style=style,
                               continuous_update=False, layout=w.Layout(width="420px"))
        step = 0.01 if hi - lo <= 5 else 0.05
        return w.FloatSlider(min=lo, max=hi, value=lo, step=step, description=label,
                             style=style, continuous_update=False, readout_format=".2f",
                             layout=w.Layout(width="420px"))

    def _wire(self) -> None:
        self.provider.observe(self._provider_changed, names="value")
        self.model.observe(self._model_changed, names="value")
        for name, control in self.controls.items():
            control.observe(lambda change, name=name: self._param_changed(name, change),
                            names="value")
        self.system.observe(self._system_changed, names="value")
        self.think.observe(self._think_changed, names="value")
        self.run_button.on_click(self.run)
        self.compare_button.on_click(self.compare)
        self.stop_button.on_click(self.stop)
        self.reset_button.on_click(self.reset)
        ref = weakref.WeakMethod(self._session_changed)
        session = self.session

        def listener(changed: Session) -> None:
            method = ref()
            if method is None:
                session.unsubscribe(listener)
            else:
                method(changed)

        self._listener = listener
        session.subscribe(listener)

    # -- model ranges -------------------------------------------------------------------
    @property
    def model_info(self) -> ModelInfo:
        return self.session.config.catalog.model(self.provider.value, self.model.value)

    def _apply_model(self, info: ModelInfo) -> dict[str, Any]:
        """Set every control's range and value for ``info``; returns the explicit settings
        that had to be clamped into the new range."""
        clamped: dict[str, Any] = {}
        given = self.session.params.as_dict()
        local = self.session.config.catalog.provider(self.provider.value).kind == "local"
        self._syncing = True
        try:
            for name, control in self.controls.items():
                allowed = info.range(name)
                lo, hi = _bounds(name, allowed)
                if name == "max_tokens" and local:  # prompt + answer share the loaded window
                    hi = min(hi, context_in_use(info.context) - 1)
                # one message to the browser: a range that excludes the old value, sent
                # alone, makes its widget clamp and send that back as if the user chose it
                with control.hold_sync(), control.hold_trait_notifications():
                    control.max = max(hi, control.min)
                    control.min = lo
                    control.max = hi
                    if name in self.explicit and given.get(name) is not None:
                        value = _clamp(given[name], lo, hi)
                        if value != given[name]:
                            clamped[name] = value
                    else:
                        value = _clamp(allowed.default if allowed.default is not None
                                       else FALLBACK[name], lo, hi)
                    if name == "seed":  # empty, "random", unless a seed applies
                        random = name not in self.explicit and allowed.default is None
                        control.value = "" if random else str(int(value))
                    else:
                        control.value = int(value) if name in INTEGER_PARAMS else float(value)
                self._mark(name, allowed)
            # only a model with a thinking switch takes one: elsewhere the toggle is off
            self.think.disabled = not think_switch(info)
            if self.think.disabled:
                self.think.value = "default"
                if given.get("think") is not None:
                    clamped["think"] = None
        finally:
            self._syncing = False
        return clamped

    def _mark(self, name: str, allowed: ParamRange) -> None:
        if name in self.explicit:
            text, color = "set", ACCENT
        elif allowed.default is not None:
            text, color = "model default", MUTED
        else:
            text, color = "random" if name == "seed" else "provider's default", MUTED
        self.markers[name].value = f'<span style="color:{color};font-size:0.85em">{text}</span>'

    # -- user changes -------------------------------------------------------------------
    def _provider_changed(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        name = change["new"]
        self._syncing = True
        try:
            self.model.options = self._model_options_for_new(name)
            self.model.value = self.session.config.catalog.provider(name).model().id
        except GemmaError as exc:  # a user-defined endpoint without a default model
            self._say(str(exc), error=True)
            return
        finally:
            self._syncing = False
        self._use_model(provider=name)

    def _model_options_for_new(self, provider: str) -> list[str]:
        info = self.session.config.catalog.provider(provider)
        return info.served() or [info.default_model or ""]

    def _model_changed(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self._use_model()

    def _use_model(self, **extra: Any) -> None:
        clamped = self._apply_model(self.model_info)
        self._set_defaults(model=self.model.value, **extra, **clamped)
        self._say(f"{self.provider.value} · {self.model.value}: ranges updated"
                  + (f"; clamped {', '.join(clamped)}" if clamped else ""))

    def _param_changed(self, name: str, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        value = change["new"]
        if name == "seed":
            value = self._typed_seed(change)
            if value is False:
                return
        (self.explicit.discard if value is None else self.explicit.add)(name)
        self._mark(name, self.model_info.range(name))
        self._set_defaults(**{name: value})

    def _typed_seed(self, change: dict[str, Any]) -> int | None | bool:
        """The seed typed: an int, None (emptied: random), or False when refused (the box
        goes back, the stats line says why)."""
        box = self.controls["seed"]
        try:
            return typed_seed(change["new"], box.min, box.max)
        except ValueError as exc:
            self._say(str(exc), error=True)
            self._apply_model(self.model_info)  # the box shows the seed in force again
            return False

    def _system_changed(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self._set_defaults(system=change["new"].strip() or None)

    def _think_changed(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self._set_defaults(think=None if change["new"] == "default" else change["new"])

    def _set_defaults(self, **values: Any) -> None:
        self._syncing = True
        try:
            self.session.set_defaults(**values)
        finally:
            self._syncing = False

    def reset(self, _button: Any = None) -> None:
        """Every sampling setting back to the model's default (provider, model and system
        prompt stay)."""
        self.explicit.clear()
        self._set_defaults(think=None, **{name: None for name in RANGED_PARAMS})
        self._apply_model(self.model_info)
        self._say("settings reset to the model's defaults")

    # -- changes made elsewhere ---------------------------------------------------------
    def _session_changed(self, session: Session) -> None:
        if self._syncing:
            return
        provider = session.default_provider()
        self._syncing = True
        try:
            if provider != self.provider.value:
                self.provider.value = provider
                self.model.options = self._model_options(provider)
            model = self._current_model(provider)
            if model not in self.model.options:
                self.model.options = [*self.model.options, model]
            self.model.value = model
            self.system.value = session.params.system or ""
            self.think.value = _think_label(session.params.think)
        finally:
            self._syncing = False
        self.explicit = set(session.params.explicit()) & set(RANGED_PARAMS)
        self._apply_model(self.model_info)

    # -- display ------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)  # not "VBox(children=(HBox(...": front ends
        return bundle  # without widgets (nbconvert, GitHub) show this

    def _ipython_display_(self) -> None:
        """The widget, and under it the static copy of its results (in a kernel)."""
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)
        if in_kernel():
            self.static.show()

    def close(self) -> None:
        """Stop following the session and close the widgets."""
        self.session.unsubscribe(self._listener)
        for child in (*self.controls.values(), *self.markers.values(), self.provider, self.model,
                      self.system, self.prompt, self.run_button, self.compare_button,
                      self.reset_button, self.compare_with, self.budget,
                      self.budget_allow_unknown, self.checks, self.stats, self.output,
                      self.compare_output):
            child.close()
        for box in self.widget.children:
            box.close()
        self.widget.close()

    def __repr__(self) -> str:
        return f"<gemma_magics panel: {self.provider.value} · {self.model.value}>"
