"""A sorted collection of str keys, for the memory backend's ordered scans.

One sorted Python list makes inserting a new key cost a copy of half the list (7 us per key at
25,000 keys, measured); so the keys are kept in blocks of a few hundred, each sorted, with the
largest key of each block in ``maxes``. Inserting or removing touches one block, finding a key
is two bisections, and a range is read block by block. Not thread-safe: the caller locks.

Keys added are first only remembered (a set); they are sorted into the blocks by the next
ordered read (:meth:`between`, :meth:`count`) or once :data:`PENDING_MAX` of them wait. A write
then costs a set insertion, and keys added together (a session's index keys, time-ordered ids)
go into their block in one sort rather than one insertion each.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort

from llmspell.storage._support import KeyRange

#: The most added keys waiting to be sorted into the blocks (a bound on a merge's cost).
PENDING_MAX = 1024
#: Up to this many waiting keys (in all, or for one block) are inserted one by one; more are
#: appended to their block, which is then sorted.
_INSORT_MAX = 8


class SortedKeys:
    """Keys in code-point order (which is UTF-8 byte order). ``block``: split size / 2."""

    def __init__(self, block: int = 512) -> None:
        self._blocks: list[list[str]] = []
        self._maxes: list[str] = []
        self._block = block
        self._len = 0  # keys in the blocks
        self._pending: set[str] = set()

    def __len__(self) -> int:
        return self._len + len(self._pending)

    def add(self, key: str) -> None:
        """Insert ``key``, which the caller knows is not present."""
        pending = self._pending
        pending.add(key)
        if len(pending) >= PENDING_MAX:
            self._merge()

    def add_many(self, keys: list[str] | tuple[str, ...]) -> None:
        """Insert ``keys``, which the caller knows are not present (nor repeated)."""
        pending = self._pending
        pending.update(keys)
        if len(pending) >= PENDING_MAX:
            self._merge()

    def remove(self, key: str) -> None:
        """Remove ``key``, which the caller knows is present."""
        if key in self._pending:
            self._pending.discard(key)
            return
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

    def _merge(self) -> None:
        """Sort the pending keys into the blocks."""
        pending = self._pending
        if len(pending) <= _INSORT_MAX:  # a read after each write: no sort, no grouping
            for key in pending:
                self._insert(key)
            pending.clear()
            return
        new = sorted(pending)
        pending.clear()
        self._len += len(new)
        blocks, maxes, size = self._blocks, self._maxes, self._block
        if not blocks:
            blocks.append([])
            maxes.append(new[-1])
        # Block i takes the keys above maxes[i - 1] up to maxes[i]; the last block also takes
        # every key beyond the greatest.
        groups: list[tuple[int, int, int]] = []
        start, i, last = 0, 0, len(maxes) - 1
        while start < len(new):
            i = bisect_left(maxes, new[start], i)
            if i >= last:
                groups.append((last, start, len(new)))
                break
            end = bisect_right(new, maxes[i], start)
            groups.append((i, start, end))
            start = end
        for i, start, end in reversed(groups):  # from the end: a split shifts later blocks
            block = blocks[i]
            if end - start <= _INSORT_MAX:
                for key in new[start:end]:
                    insort(block, key)
            else:
                run = new[start:end]
                j = bisect_left(block, run[0])
                if j == len(block) or run[-1] < block[j]:
                    # The run falls between two neighbours (time-ordered ids: the keys made
                    # since the last merge follow every older one of their prefix): put in
                    # place, not sorted with the block's hundreds of keys again.
                    block[j:j] = run
                else:
                    block += run
                    block.sort()
            if len(block) > 2 * size:
                parts = [block[j:j + size] for j in range(0, len(block), size)]
                blocks[i:i + 1] = parts
                maxes[i:i + 1] = [part[-1] for part in parts]
            else:
                maxes[i] = block[-1]

    def _insert(self, key: str) -> None:
        """Put one key into its block (splitting a block grown past twice the size)."""
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
        if self._pending:
            self._merge()
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
        if self._pending:
            self._merge()
        (s_block, s_index), (e_block, e_index) = self._bounds(rng)
        if (s_block, s_index) >= (e_block, e_index):
            return 0
        return sum(map(len, self._blocks[s_block:e_block])) - s_index + e_index
