"""What the lower layers need of hooks and events, as Protocols.

State, sessions and artifacts sit below :mod:`llmspell.hooks` and :mod:`llmspell.events`
(STYLE.md: dependencies point one way), yet they fire hook points and publish events. They
take the runtime's HookRegistry and EventBus as these Protocols, so they never import the
layer above: :class:`HookPoints` (fire a point; ``Skipped`` is the class ``before`` returns
for a skip, ``llmspell.hooks.results.Skipped`` on the real registry), :class:`HookRegistrar`
(also register hooks and observe firings), :class:`EventPublisher` (publish) and
:class:`EventSource` (also subscribe). ``llmspell.hooks.HookRegistry`` and
``llmspell.events.EventBus`` fit them; mypy checks that where the runtime wires them.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Protocol, TypedDict, Unpack


class FireContext(TypedDict, total=False):
    """The keyword arguments every firing takes besides the point and data."""

    component: str | None
    correlation_id: str | None
    session_id: str | None
    metadata: dict[str, Any] | None


class HookPoints(Protocol):
    """Firing hook points (``llmspell.hooks.HookRegistry`` fits)."""

    #: The class ``before`` returns when a hook skipped the operation.
    Skipped: ClassVar[type]

    def has(self, point: str) -> bool: ...

    def before(self, point: str, data: Any, **context: Unpack[FireContext]) -> Any: ...

    def after(self, point: str, data: Any, **context: Unpack[FireContext]) -> Any: ...


#: The names of the hooks llmspell registers itself (the artifact collectors) start with this;
#: every other hook is the user's (``HookRegistrar.user_names_at``).
OWN_PREFIX = "artifact-collector:"


class HookRegistrar(HookPoints, Protocol):
    """Firing, registering and observing hooks (``llmspell.hooks.HookRegistry`` fits)."""

    #: Changes whenever the hooks of any point change (see ``HookRegistry.generation``).
    generation: int

    def register(self, point: str, fn: Callable[..., Any], *, priority: str | int = "normal",
                 name: str | None = None, required: bool = False,
                 time_budget: float | None = None, expect_unfired: bool = False) -> Any: ...

    def list(self, point: str | None = None, *, name: str | None = None,
             state: str | None = None,
             where: Callable[[Any], bool] | None = None) -> builtins.list[Any]: ...

    def user_names_at(self, point: str) -> tuple[str, ...]: ...

    def observe(self, observer: Callable[..., Any], *,
                executed_only: bool = False) -> Callable[..., Any]: ...

    def unobserve(self, observer: Callable[..., Any]) -> bool: ...


class EventPublisher(Protocol):
    """Publishing events (``llmspell.events.EventBus`` fits); ``redact=True`` hides secrets
    in ``data`` before anyone sees it (llmspell's own events use it)."""

    def publish(self, type: str, data: Any = None, *, correlation_id: str | None = None,
                session_id: str | None = None, source: str | None = None,
                redact: bool = False) -> Any: ...


class EventSource(EventPublisher, Protocol):
    """Publishing and subscribing (``llmspell.events.EventBus`` fits)."""

    def subscribe(self, pattern: str, callback: Callable[..., Any] | None = None, *,
                  max_queue: int | None = None, overflow: str | None = None,
                  exclude_sources: Iterable[str] = (),
                  accepts: Callable[[str | None], bool] | None = None) -> Any: ...

    def unsubscribe(self, subscription: Any) -> bool: ...

    def sees_first(self, subscription: Any, type: str, source: str | None = None) -> bool: ...
