"""What a call cost: a provider's price table (USD per 1M tokens) applied to its usage."""

from __future__ import annotations

from dataclasses import dataclass

from llmspell.providers.base import Usage


@dataclass(frozen=True)
class Price:
    """USD per one million input and output tokens."""

    input: float
    output: float


def cost(usage: Usage, price: Price | None) -> float:
    """USD for ``usage`` at ``price``; 0.0 when the model has no price."""
    if price is None:
        return 0.0
    return (usage.input_tokens * price.input + usage.output_tokens * price.output) / 1_000_000
