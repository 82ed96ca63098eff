"""What the provider tests share: the planted key and a recorder of retry delays."""

from __future__ import annotations

KEY = "sk-test-PLANTEDKEY-0123456789abcdef"


class Sleeps(list[float]):
    """The delays a retry policy asked for (sync and async), in order."""

    def sleep(self, seconds: float) -> None:
        self.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.append(seconds)
