"""The agents of one Runtime: create, get, list, discover, restore, remove (``runtime.agents``).

``create`` checks every argument (naming it), resolves the model string through the
runtime's :class:`~llmspell.providers.ProviderRegistry` (an agent given its own ``base_url`` or
``api_key`` gets a provider of its own; the key is used, never stored or shown), fires
``agent:before_init`` (a hook may change the config: ``system_prompt``, ``temperature``,
``max_tokens``, ``max_conversation_length``, ``max_steps``, ``description``) and
``agent:after_init``, and returns a ready :class:`~llmspell.agents.agent.Agent`. Events:
``agent.created``, ``agent.state_changed``, ``agent.execution_completed``,
``agent.execution_failed``, ``agent.tool_called``, ``agent.removed``.
"""

from __future__ import annotations

import builtins
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from llmspell.agents.agent import STATE_KEY, Agent
from llmspell.agents.calls import CallMeter
from llmspell.agents.model import AgentConfig
from llmspell.agents.tools import as_tool
from llmspell.errors import ValidationError
from llmspell.providers.pricing import Price

#: Agent names become state scopes ``agent:<name>``.
NAME_PATTERN = re.compile(r"[A-Za-z0-9._\-]{1,128}")
NAME_RULE = "must be 1-128 characters from A-Z a-z 0-9 . _ -"
#: Config fields a hook at agent:before_init may change.
HOOK_FIELDS = ("system_prompt", "temperature", "max_tokens", "max_conversation_length",
               "max_steps", "description")
#: The kinds of agent this registry can create (``discover``).
TYPES = ("llm",)


class AgentRegistry:
    """Agents by name (see the module docstring). Built by ``Runtime.agents``."""

    def __init__(self, *, providers: Any, hooks: Any, events: Any,
                 sessions: Callable[[], Any | None], state: Callable[[], Any],
                 state_available: Callable[[], bool]) -> None:
        self.providers = providers
        self.hooks = hooks
        self.events = events
        self.meter = CallMeter(sessions)
        self.state = state
        self.state_available = state_available
        self._agents: dict[str, Agent] = {}
        self._lock = threading.Lock()

    # -- creating ------------------------------------------------------------------------

    def create(self, name: str | None = None, model: str | None = None, *,
               system_prompt: str = "", description: str = "",
               temperature: float | None = None, max_tokens: int | None = None,
               max_conversation_length: int = 100, max_steps: int = 10,
               base_url: str | None = None, api_key: str | None = None,
               tools: Iterable[Any] = (), replies: Iterable[Any] | None = None) -> Agent:
        """Create agent ``name`` (``agent_<8 hex>`` when None, as rs-llmspell does) on
        ``model`` (``provider/model``; see docs/providers.md; ``[providers] default`` when
        None). ``replies``: canned replies (strings or reply tables, see
        :mod:`llmspell.providers.scripted`) for an agent on a ``scripted`` provider; the agent
        then gets a scripted provider of its own that answers with them, in order.

        Raises:
            ValidationError: a bad argument (named), an unknown provider, a name in use.
            ProviderAuthError: the provider needs a key nobody gave.
            HookCancelled: a hook at ``agent:before_init`` cancelled.
        """
        name = self._fresh_name() if name is None else check_name(name)
        if model is None or model == "":
            model = self.providers.default or None
            if model is None:
                raise ValidationError("model", "is required, such as 'openai/gpt-4o-mini' or "
                                      "'scripted/demo'", got=None)
        provider_name, model_name = self.providers.split(model)
        config = AgentConfig(
            name=name, model=model, provider=provider_name, model_name=model_name,
            system_prompt=_text(system_prompt, "system_prompt"),
            description=_text(description, "description"),
            temperature=_number(temperature, "temperature", 0.0, 2.0),
            max_tokens=_count(max_tokens, "max_tokens", optional=True),
            max_conversation_length=_count(max_conversation_length,
                                           "max_conversation_length") or 100,
            max_steps=_count(max_steps, "max_steps") or 10,
            base_url=None if base_url is None else _text(base_url, "base_url"))
        if api_key is not None:
            _text(api_key, "api_key")
        if tools is None:
            tools = ()
        if isinstance(tools, str | bytes | Mapping) or not isinstance(tools, Iterable):
            raise ValidationError("tools", "must be a list of tools", got=tools)
        built_tools = [as_tool(t, f"[{i + 1}]") for i, t in enumerate(tools)]
        if replies is not None:
            if self._kind(provider_name) != "scripted":
                raise ValidationError("replies", "only an agent on a scripted provider takes "
                                      "canned replies (model 'scripted/NAME')", got=model)
            if isinstance(replies, str | bytes | Mapping) or not isinstance(replies, Iterable):
                raise ValidationError("replies", "must be a list of replies", got=replies)
            replies = list(replies)
        with self._lock:
            if name in self._agents:
                raise ValidationError("name", "an agent of that name exists; get it with "
                                      "agents.get(name) or remove it first", got=name)
        config = self._init_hooks(config)
        # the scripted double takes no key or URL: it stays the shared one
        own = bool(base_url or api_key) and self._kind(provider_name) != "scripted"
        if replies is not None:  # a scripted provider of its own, answering with them
            from llmspell.providers.scripted import ScriptedProvider

            provider = self.providers.build(provider_name)
            assert isinstance(provider, ScriptedProvider)
            provider.add_replies(replies)
            own = True
        else:
            provider = (self.providers.build(provider_name, base_url=base_url, api_key=api_key)
                        if own else self.providers.provider(provider_name))
        agent = Agent(self, config, provider, built_tools, own_provider=own)
        with self._lock:
            if name in self._agents:
                if own:
                    provider.close()
                raise ValidationError("name", "an agent of that name exists", got=name)
            self._agents[name] = agent
        agent.initialize()
        self.publish("agent.created", {"agent": name, "model": model,
                                       "provider": provider_name}, None,
                     self.meter.session_id())
        if self.hooks.has("agent:after_init"):
            self.hooks.after("agent:after_init", config.to_dict(), component=name)
        return agent

    def _fresh_name(self) -> str:
        import uuid

        while True:
            name = f"agent_{uuid.uuid4().hex[:8]}"
            if name not in self._agents:
                return name

    def _init_hooks(self, config: AgentConfig) -> AgentConfig:
        if not self.hooks.has("agent:before_init"):
            return config
        data = config.to_dict()
        changed = self.hooks.before("agent:before_init", data, component=config.name)
        if changed is data or not isinstance(changed, Mapping):
            return config
        values = {k: changed[k] for k in HOOK_FIELDS if k in changed}
        return AgentConfig(**{**config.to_dict(), **{
            "system_prompt": _text(values.get("system_prompt", config.system_prompt),
                                   "system_prompt"),
            "description": _text(values.get("description", config.description),
                                 "description"),
            "temperature": _number(values.get("temperature", config.temperature),
                                   "temperature", 0.0, 2.0),
            "max_tokens": _count(values.get("max_tokens", config.max_tokens), "max_tokens",
                                 optional=True),
            "max_conversation_length": _count(values.get(
                "max_conversation_length", config.max_conversation_length),
                "max_conversation_length") or config.max_conversation_length,
            "max_steps": _count(values.get("max_steps", config.max_steps), "max_steps")
            or config.max_steps}})

    def restore(self, name: str, *, api_key: str | None = None,
                tools: Iterable[Any] = ()) -> Agent:
        """Create agent ``name`` from the config it saved (``save_state``) and load its
        state. ValidationError when nothing is saved under ``agent:<name>``."""
        name = check_name(name)
        saved = self.state().load(f"agent:{name}", STATE_KEY)
        if not isinstance(saved, Mapping) or not isinstance(saved.get("config"), Mapping):
            raise ValidationError("name", "no saved agent state under scope 'agent:<name>'",
                                  got=name)
        config = saved["config"]
        agent = self.create(
            name, config["model"], system_prompt=config.get("system_prompt", ""),
            description=config.get("description", ""),
            temperature=config.get("temperature"), max_tokens=config.get("max_tokens"),
            max_conversation_length=config.get("max_conversation_length", 100),
            max_steps=config.get("max_steps", 10), base_url=config.get("base_url"),
            api_key=api_key, tools=tools)
        agent.load_state()
        return agent

    # -- finding -------------------------------------------------------------------------

    def get(self, name: str) -> Agent | None:
        """The agent named ``name``, or None."""
        return self._agents.get(check_name(name))

    def __getitem__(self, name: str) -> Agent:
        agent = self.get(name)
        if agent is None:
            raise KeyError(name)
        return agent

    def __contains__(self, name: object) -> bool:
        return name in self._agents

    def __len__(self) -> int:
        return len(self._agents)

    def list(self) -> list[str]:
        """The names of the agents, in creation order."""
        return list(self._agents)

    def discover(self) -> builtins.list[dict[str, Any]]:
        """The kinds of agent that can be created here, with what they need."""
        return [{"type": t, "description": "an LLM agent: a model behind a provider, a "
                 "system prompt, a conversation and tools",
                 "providers": self.providers.names()} for t in TYPES]

    def info(self, name: str) -> dict[str, Any]:
        """An agent's config, state, tools and metrics. ValidationError when unknown."""
        agent = self.get(name)
        if agent is None:
            raise ValidationError("name", f"no agent of that name; known: "
                                  f"{', '.join(self._agents) or 'none'}", got=name)
        return {"name": agent.name, "type": TYPES[0], "state": agent.state,
                "config": agent.config.to_dict(),
                "tools": [t.metadata() for t in agent.tools.values()],
                "metrics": agent.metrics()}

    # -- removing ------------------------------------------------------------------------

    def remove(self, name: str) -> bool:
        """Terminate agent ``name`` (unless it is already) and forget it; its saved state
        stays. False when there is no such agent."""
        agent = self._agents.get(check_name(name))
        if agent is None:
            return False
        if agent.state != "terminated":
            agent.terminate()
        with self._lock:
            self._agents.pop(name, None)
        self.publish("agent.removed", {"agent": name}, None, self.meter.session_id())
        return True

    def close(self) -> None:
        """Release the providers agents own (the runtime closes the shared ones)."""
        for agent in list(self._agents.values()):
            if agent._own_provider:
                agent.provider.close()

    # -- helpers the agents use ----------------------------------------------------------

    def _kind(self, provider: str) -> str | None:
        try:
            return self.providers.settings(provider).kind
        except ValidationError:
            return None  # registered in code

    def price(self, provider: str, model: str) -> Price | None:
        return self.providers.price(provider, model)

    def publish(self, type_: str, data: dict[str, Any], cid: str | None,
                sid: str | None) -> None:
        if self.events is not None:
            self.events.publish(type_, data, correlation_id=cid, session_id=sid,
                                source="agents", redact=True)


def check_name(name: Any) -> str:
    if isinstance(name, str) and NAME_PATTERN.fullmatch(name):
        return name
    raise ValidationError("name", NAME_RULE, got=name)


def _text(value: Any, argument: str) -> str:
    if isinstance(value, str):
        return value
    raise ValidationError(argument, "must be a string", got=value)


def _number(value: Any, argument: str, low: float, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValidationError(argument, f"must be a number from {low:g} to {high:g}", got=value)
    return float(value)


def _count(value: Any, argument: str, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(argument, "must be a whole number >= 1", got=value)
    return value
