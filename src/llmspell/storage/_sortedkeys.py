"""A sorted collection of str keys, for the memory backend's ordered scans.

One sorted Python list makes inserting a new key cost a copy of half the list (7 us per key at
25,000 keys, measured); so the keys are kept in blocks of a few hundred, each sorted, with the
largest key of each block in ``maxes``. Inserting or removing touches one block, finding a key
is two bisections, and a range is read block by block. Not thread-safe: the caller locks.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort

from llmspell.storage._support import KeyRange


class SortedKeys:
    """Keys in code-point order (which is UTF-8 byte order). ``block``: split size / 2."""

    def __init__(self, block: int = 512) -> None:
        self._blocks: list[list[str]] = []
        self._maxes: list[str] = []
        self._block = block
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def add(self, key: str) -> None:
        """Insert ``key``, which the caller knows is not present."""
        maxes = self._maxes
        if not maxes:
            self._blocks.append([key])
            maxes.append(key)
        else:
            i = bisect_left(maxes, key)
            if i == len(maxes):  # beyond every key: append to the last block
                i -= 1
                block = self._blocks[i]
                block.append(key)
                maxes[i] = key
            else:
                block = self._blocks[i]
                insort(block, key)
            if len(block) > 2 * self._block:
                half = len(block) // 2
                self._blocks[i:i + 1] = [block[:half], block[half:]]
                maxes[i:i + 1] = [block[half - 1], block[-1]]
        self._len += 1

    def remove(self, key: str) -> None:
        """Remove ``key``, which the caller knows is present."""
        i = bisect_left(self._maxes, key)
        block = self._blocks[i]
        j = bisect_left(block, key)
        del block[j]
        if not block:
            del self._blocks[i]
            del self._maxes[i]
        elif j == len(block):
            self._maxes[i] = block[-1]
        self._len -= 1

    def _locate(self, key: str, after: bool) -> tuple[int, int]:
        """(block, index) of the first key ``> key`` (``after``) or ``>= key``."""
        find = bisect_right if after else bisect_left
        i = find(self._maxes, key)
        if i == len(self._maxes):
            return i, 0
        return i, find(self._blocks[i], key)

    def _bounds(self, rng: KeyRange) -> tuple[tuple[int, int], tuple[int, int]]:
        start = (0, 0) if rng.low is None else self._locate(rng.low, not rng.low_inclusive)
        end = (len(self._blocks), 0) if rng.high is None else self._locate(rng.high, False)
        return start, end

    def between(self, rng: KeyRange, want: int, reverse: bool) -> list[str]:
        """Up to ``want`` keys inside ``rng``, in scan order."""
        start, end = self._bounds(rng)
        out: list[str] = []
        blocks = self._blocks
        if not reverse:
            bi, j = start
            while len(out) < want and (bi, j) < end:
                block = blocks[bi]
                stop = end[1] if bi == end[0] else len(block)
                out += block[j:min(stop, j + want - len(out))]
                bi, j = bi + 1, 0
            return out
        bi, j = end
        while len(out) < want and (bi, j) > start:
            if j == 0:
                bi -= 1
                j = len(blocks[bi])
                continue
            low = start[1] if bi == start[0] else 0
            first = max(low, j - (want - len(out)))
            out += reversed(blocks[bi][first:j])
            j = first
        return out

    def count(self, rng: KeyRange) -> int:
        """How many keys ``rng`` holds."""
        (s_block, s_index), (e_block, e_index) = self._bounds(rng)
        if (s_block, s_index) >= (e_block, e_index):
            return 0
        return sum(map(len, self._blocks[s_block:e_block])) - s_index + e_index
