"""PolicyChain.without: the chain less one class of policies, kept until the chain changes."""

from __future__ import annotations

from llmspell.sessions import PolicyChain, Usage
from llmspell.sessions.model import Limits
from llmspell.sessions.policies import Refusal, ResourceLimits


def _refuse(session: object, usage: Usage) -> Refusal:
    return Refusal("no", "refused")


def test_without_follows_every_change_of_the_chain() -> None:
    limits = ResourceLimits(Limits())
    chain = PolicyChain([limits])
    assert chain.without(ResourceLimits) is None
    chain.add(_refuse)
    others = chain.without(ResourceLimits)
    assert others is not None and others.policies == (_refuse,)
    assert chain.without(ResourceLimits) is others  # kept while nothing changes
    assert not others.evaluate(None, Usage()).allowed
    chain.mode = "voting"
    again = chain.without(ResourceLimits)
    assert again is not others and again is not None and again.mode == "voting"
    chain.remove(_refuse)
    assert chain.without(ResourceLimits) is None


def test_usage_is_immutable_and_keeps_its_defaults() -> None:
    usage = Usage("artifact.store", artifacts=1)
    assert (usage.kind, usage.operations, usage.tokens, usage.cost, usage.artifacts,
            usage.artifact_bytes, usage.memory) == ("artifact.store", 1, 0, 0.0, 1, 0, 0)
    try:
        usage.tokens = 5  # type: ignore[misc]
    except AttributeError:
        pass
    else:
        raise AssertionError("Usage took an assignment")
