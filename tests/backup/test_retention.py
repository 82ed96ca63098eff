"""Retention: each rule, how they combine, chains kept whole, and pruning for real."""

from __future__ import annotations

import calendar
from pathlib import Path

import pytest
from backup_helpers import fill

from llmspell import Runtime
from llmspell.errors import ValidationError
from llmspell.state.backup import BackupInfo, RetentionPolicy, parse_duration, plan_retention

DAY = 86400.0
NOW = calendar.timegm((2025, 7, 29, 12, 0, 0))


def backup(name: str, days_ago: float, *, parent: str | None = None,
           size: int = 100) -> BackupInfo:
    return BackupInfo(id=name, path=Path(name), created_at=NOW - days_ago * DAY,
                      kind="incremental" if parent else "full", parent=parent,
                      file_bytes=size)


def kept(backups: list[BackupInfo], **policy: object) -> list[str]:
    reasons, deleted = plan_retention(backups, RetentionPolicy.from_spec(policy), NOW)
    assert {b.id for b in deleted} == {b.id for b in backups} - set(reasons)
    return sorted(reasons)


DAILY = [backup(f"d{i}", i + 0.1) for i in range(40)]  # one backup a day, d0 newest


def test_keep_last_and_calendar_rules() -> None:
    assert kept(DAILY, keep_last=3) == ["d0", "d1", "d2"]
    assert kept(DAILY, keep_daily=2) == ["d0", "d1"]
    weekly = kept(DAILY, keep_weekly=2)
    assert weekly[0] == "d0" and len(weekly) == 2  # the newest of this ISO week and the last
    monthly = kept(DAILY, keep_monthly=2)
    assert monthly == ["d0", "d29"]  # the newest of July, the newest of June (June 30)
    two_a_day = [backup("am", 0.4), backup("pm", 0.1), backup("yesterday", 1.1)]
    assert kept(two_a_day, keep_daily=5) == ["pm", "yesterday"]


def test_keep_rules_combine_as_a_union_and_max_age_limits_them() -> None:
    assert kept(DAILY, keep_last=2, keep_monthly=2) == ["d0", "d1", "d29"]
    assert kept(DAILY, keep_last=2, keep_monthly=2, max_age="10d") == ["d0", "d1"]
    assert kept(DAILY, max_age=3.5 * DAY) == ["d0", "d1", "d2", "d3"]  # no keep rule: all, aged


def test_the_newest_backup_is_always_kept() -> None:
    old = [backup("a", 100), backup("b", 50)]
    assert kept(old, max_age="1d") == ["b"]
    assert kept(old, max_total_bytes=1) == ["b"]


def test_the_chain_of_a_kept_incremental_is_kept() -> None:
    chain = [backup("base", 30), backup("i1", 20, parent="base"), backup("i2", 1, parent="i1"),
             backup("other", 25)]
    assert kept(chain, keep_last=1) == ["base", "i1", "i2"]
    assert kept(chain, max_age="7d") == ["base", "i1", "i2"]
    reasons, _ = plan_retention(chain, RetentionPolicy(keep_last=1), NOW)
    assert reasons["base"] == ["parent of i1"]


def test_max_total_bytes_drops_the_oldest_with_what_is_built_on_it() -> None:
    backups = [backup("old", 30, size=500), backup("old-inc", 29, parent="old", size=50),
               backup("mid", 10, size=300), backup("new", 1, size=300),
               backup("new-inc", 0.5, parent="new", size=10)]
    assert kept(backups, max_total_bytes=700) == ["mid", "new", "new-inc"]
    assert kept(backups, max_total_bytes=320) == ["new", "new-inc"]
    assert kept(backups, max_total_bytes=100) == ["new", "new-inc"]  # the newest chain stays


def test_policies_are_checked() -> None:
    assert parse_duration("36h") == 36 * 3600 and parse_duration(90) == 90
    assert parse_duration("2w") == 14 * DAY
    for bad in ({"keep_last": -1}, {"max_age": "soon"}, {"keep_lats": 1}, {"keep_daily": 1.5}):
        with pytest.raises(ValidationError):
            RetentionPolicy.from_spec(bad)


def test_prune_deletes_files_and_the_change_log_no_kept_backup_needs(tmp_path: Path) -> None:
    with Runtime.memory(state__backup_dir=str(tmp_path)) as rt:
        fill(rt)
        made = []
        for i in range(4):
            rt.state.save("global", f"n{i}", i)
            made.append(rt.backups.backup(incremental=i in (2, 3)))
        assert [b.kind for b in made] == ["full", "full", "incremental", "incremental"]
        changes = rt.store.count("chg/")
        preview = rt.backups.prune({"keep_last": 1}, dry_run=True)
        assert preview["deleted"] == [made[0].id]  # made[1] is the base of the kept chain
        assert len(rt.backups.list_backups()) == 4 and rt.store.count("chg/") == changes
        assert preview["changes_pruned_through"] == made[1].seq_to
        result = rt.backups.prune({"keep_last": 1})
        assert result["deleted"] == [made[0].id] and result["freed_bytes"] == made[0].file_bytes
        assert [k["id"] for k in result["kept"]] == [made[3].id, made[2].id, made[1].id]
        assert rt.store.count("chg/") == changes - made[1].seq_to
        rt.backups.restore(made[3].id, safety_backup=False)
        with pytest.raises(ValidationError, match="names no rule"):
            rt.backups.prune({})


def _safety(name: str, days_ago: float, size: int = 100) -> BackupInfo:
    found = backup(name, days_ago, size=size)
    found.safety = True
    return found


def test_safety_backups_never_push_out_the_users_own() -> None:
    """Issue 19: ``prune --keep-last 2`` kept two safety copies and deleted the user's only
    full backup. Keep rules count only the user's backups; of the safety backups the newest
    is kept; under a size limit they go first."""
    mine = backup("mine", 3)
    restores = [_safety("s1", 2), _safety("s2", 1), _safety("s3", 0.5)]
    assert kept([mine, *restores], keep_last=2) == ["mine", "s3"]
    assert kept([mine, *restores], keep_last=1) == ["mine", "s3"]
    assert kept([mine, *restores]) == ["mine", "s1", "s2", "s3"]  # no rule: all
    reasons, _ = plan_retention([mine, *restores], RetentionPolicy(keep_last=1), NOW)
    assert reasons["mine"] == ["keep_last", "newest"]
    assert reasons["s3"] == ["newest safety backup"]
    big = [backup("old", 5, size=100), backup("new", 1, size=100),
           _safety("s-old", 4, size=100), _safety("s-new", 0.5, size=100)]
    # 400 bytes over a 250 limit: the safety backups go first, the newest of them last.
    assert kept(big, max_total_bytes=250) == ["new", "old"]
    assert kept(big, max_total_bytes=350) == ["new", "old", "s-new"]
    only_safety = [_safety("a", 2), _safety("b", 1)]
    assert kept(only_safety, keep_last=1) == ["b"]  # the newest backup is always kept
