"""llmspell.validation: sessions and artifacts check names, tags, text and custom fields by the
same rules. One regression test per rule on which they used to disagree."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmspell.errors import ValidationError
from llmspell.runtime import Runtime
from llmspell.sessions import Session
from llmspell.validation import (
    MAX_NAME,
    MAX_TEXT,
    check_fields,
    check_name,
    check_tag,
    check_tags,
    check_text,
)


@pytest.fixture
def rt() -> Iterator[Runtime]:
    runtime = Runtime.memory()
    yield runtime
    runtime.close()


@pytest.fixture
def session(rt: Runtime) -> Session:
    return rt.sessions.create("rules")


def both_refuse(rt: Runtime, session: Session, match: str, *, name: object = "ok",
                tags: object = None, description: object = "") -> None:
    """Creating a session and storing an artifact with these arguments both fail alike."""
    with pytest.raises(ValidationError, match=match):
        rt.sessions.create(name, tags=tags, description=description)
    with pytest.raises(ValidationError, match=match):
        rt.artifacts.store(session, name, b"x", tags=tags, description=description)


# -- names ----------------------------------------------------------------------------------


def test_a_name_with_a_control_character_is_refused_by_both(rt: Runtime,
                                                            session: Session) -> None:
    # sessions accepted "a\nb" before (artifacts refused it)
    both_refuse(rt, session, r"argument 'name': must not contain control characters",
                name="line one\nline two")


def test_a_name_with_a_lone_surrogate_is_a_validation_error_for_both(rt: Runtime,
                                                                     session: Session) -> None:
    # sessions accepted it and then failed to encode the record (not a ValidationError)
    both_refuse(rt, session, r"argument 'name': must be valid UTF-8", name="bad\ud800")


def test_names_share_one_length_limit(rt: Runtime, session: Session) -> None:
    # sessions allowed 256 characters, artifacts 255 (artifact_max_name_length's default)
    assert MAX_NAME == 255
    assert rt.sessions.create("n" * 255).name == "n" * 255
    assert rt.artifacts.store(session, "n" * 255, b"x").name == "n" * 255
    both_refuse(rt, session, r"argument 'name': must be at most 255 characters", name="n" * 256)


def test_a_session_name_is_optional_an_artifact_name_is_not(rt: Runtime,
                                                            session: Session) -> None:
    assert rt.sessions.create().name == ""
    with pytest.raises(ValidationError, match="argument 'name': must be a non-empty string"):
        rt.artifacts.store(session, "", b"x")


# -- text -----------------------------------------------------------------------------------


def test_descriptions_share_one_length_limit(rt: Runtime, session: Session) -> None:
    # session descriptions had no limit, artifact descriptions 4096 characters
    assert rt.sessions.create("d", description="x" * MAX_TEXT).description == "x" * MAX_TEXT
    both_refuse(rt, session, r"argument 'description': must be at most 4096 characters, is "
                             "4097", description="x" * (MAX_TEXT + 1))
    both_refuse(rt, session, r"argument 'description': must be valid UTF-8",
                description="bad\udfff")


def test_a_fail_reason_follows_the_text_rule(rt: Runtime) -> None:
    s = rt.sessions.create("r")
    with pytest.raises(ValidationError, match="argument 'reason': must be at most 4096"):
        rt.sessions.fail(s, "r" * (MAX_TEXT + 1))
    assert rt.sessions.fail(s, "line one\nline two").reason == "line one\nline two"


# -- tags -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("tag", "rule"), [
    ("", "each tag must be a non-empty string with no control characters"),
    ("a\tb", "each tag must be a non-empty string with no control characters"),
    (3, "each tag must be a non-empty string with no control characters"),
    ("t" * 129, "each tag must be at most 128 characters"),
    ("bad\ud800", "must be valid UTF-8"),  # sessions accepted it, then failed to store it
])
def test_tag_errors_read_the_same_for_both(rt: Runtime, session: Session, tag: object,
                                          rule: str) -> None:
    both_refuse(rt, session, rf"argument 'tags' at \[1\]: {rule}", tags=["fine", tag])


def test_a_dict_is_not_a_tag_list_for_either(rt: Runtime, session: Session) -> None:
    # the core takes Python shapes only (the Lua globals turn an empty table into a list)
    both_refuse(rt, session, r"argument 'tags': must be a list of strings", tags={})
    both_refuse(rt, session, r"argument 'tags': must be a list of strings", tags={"a": 1})


def test_a_single_string_is_not_a_tag_list_for_either(rt: Runtime, session: Session) -> None:
    both_refuse(rt, session, r"argument 'tags': must be a list of strings \(one tag is "
                             r"\['tag'\]\)", tags="finance")


def test_duplicates_are_dropped_in_order_by_both(rt: Runtime, session: Session) -> None:
    tags = ["b", "a", "b", "c", "a"]
    assert rt.sessions.create("d", tags=tags).tags == ["b", "a", "c"]
    assert rt.artifacts.store(session, "d", b"x", tags=tags).tags == ["b", "a", "c"]


def test_too_many_tags(rt: Runtime, session: Session) -> None:
    tags = [f"t{i}" for i in range(65)]
    with pytest.raises(ValidationError, match=r"argument 'tags': must hold at most 64 tags "
                                              r"\(got int 65\)"):
        rt.sessions.create("many", tags=tags)
    with pytest.raises(ValidationError, match=r"at most 64 tags \(\[session\] "
                                              r"artifact_max_tags\)"):
        rt.artifacts.store(session, "many", b"x", tags=tags)


def test_the_one_kept_difference_session_tags_are_bounded_in_bytes(rt: Runtime,
                                                                   session: Session) -> None:
    """A session tag index key holds the tag whole, so session tags are also at most 128
    bytes in UTF-8; artifact indexes hash long tags, so they need no byte bound."""
    wide = "é" * 100  # 100 characters, 200 bytes
    assert rt.artifacts.store(session, "wide", b"x", tags=[wide]).tags == [wide]
    with pytest.raises(ValidationError, match=r"argument 'tags' at \[0\]: each tag must be at "
                                              r"most 128 bytes in UTF-8"):
        rt.sessions.create("wide", tags=[wide])


# -- custom fields / metadata ---------------------------------------------------------------


def test_binary_values_in_fields_are_refused_with_the_same_path(rt: Runtime,
                                                                session: Session) -> None:
    fields = {"a": [1, {"b": b"\xff"}]}
    with pytest.raises(ValidationError, match=r"argument 'metadata' at \$\.a\[1\]\.b: must hold "
                                              "JSON values only"):
        rt.sessions.create("m", metadata=fields)
    with pytest.raises(ValidationError, match=r"argument 'custom' at \$\.a\[1\]\.b: must hold "
                                              "JSON values only"):
        rt.artifacts.store(session, "m", b"x", custom=fields)


# -- the module's functions ------------------------------------------------------------------


def test_the_functions_directly() -> None:
    assert check_name("", required=False) == ""
    with pytest.raises(ValidationError, match=r"argument 'title': must be a string \(got int"):
        check_name(1, argument="title", required=False)
    with pytest.raises(ValidationError, match=r"must be at most 3 characters \(\[x\] y\), is 4"):
        check_name("abcd", max_length=3, setting="[x] y")
    assert check_tag("ü" * 10, max_bytes=20) == "ü" * 10
    with pytest.raises(ValidationError, match="at most 19 bytes"):
        check_tag("ü" * 10, max_bytes=19)
    assert check_tags(("x", "y"), max_tags=2) == ["x", "y"]
    assert check_tags(None) == []
    with pytest.raises(ValidationError, match=r"argument 'labels': must be a list"):
        check_tags({"a": 1}, argument="labels")
    assert check_text("a\nb", "note", 3) == "a\nb"
    with pytest.raises(ValidationError, match="argument 'note': must be a string"):
        check_text(None, "note")
    assert check_fields(None, "f") == {}
    assert check_fields({"n": 1}, "f") == {"n": 1}
    with pytest.raises(ValidationError, match="argument 'f': must be a dict"):
        check_fields([1], "f")


def test_the_fast_paths_keep_the_rules_at_their_edges() -> None:
    """Plain ASCII names and lists of plain tags take a shortcut: it accepts and refuses
    exactly what the full checks do."""
    assert check_name("a" * MAX_NAME) == "a" * MAX_NAME
    with pytest.raises(ValidationError, match=f"at most {MAX_NAME} characters, is 256"):
        check_name("a" * (MAX_NAME + 1))
    with pytest.raises(ValidationError, match="must be a non-empty string"):
        check_name("")
    for control in ("\x7f", "\x00", "\t", "\n"):
        with pytest.raises(ValidationError, match="control characters"):
            check_name(f"a{control}b")
    assert check_name("a b ~!") == "a b ~!"
    # a tag list: dropped duplicates, the limit on the count, the byte limit, a bad tag's path
    assert check_tags(["x", "y", "x"], max_tags=2) == ["x", "y"]
    with pytest.raises(ValidationError, match="at most 2 tags"):
        check_tags(["x", "y", "z"], max_tags=2)
    assert check_tags(["abc"], max_length=3, max_bytes=3) == ["abc"]
    with pytest.raises(ValidationError, match="at most 2 characters"):
        check_tags(["abc"], max_length=2)
    with pytest.raises(ValidationError, match=r"at \[1\]: each tag must be a non-empty"):
        check_tags(["ok", "a\x7fb"])
    with pytest.raises(ValidationError, match=r"at \[0\]: each tag must be a non-empty"):
        check_tags([""])
    tags = ["x"]
    assert check_tags(tags) is not tags  # the caller's list is never kept


# -- glob lists -----------------------------------------------------------------------------


def test_a_single_glob_string_is_a_list_of_one_at_every_call_site(rt: Runtime,
                                                                   tmp_path) -> None:
    # StateManager.records (used by `state export`) refused "agent:*"; backups accepted it
    rt.state.save("agent:a", "k", 1)
    rt.state.save("workflow:w", "k", 2)
    assert [s for s, _, _ in rt.state.records("agent:*")] == ["agent:a"]
    assert [s for s, _, _ in rt.state.records(["agent:*"])] == ["agent:a"]
    from llmspell.state.selection import ScopeFilter

    only_agents = ScopeFilter("agent:*", exclude="agent:b*")
    assert only_agents("agent:a") and not only_agents("agent:b1")
    assert not only_agents("workflow:w")


@pytest.mark.parametrize("bad", [b"agent:*", {"agent": "*"}, ["agent:*", ""], [3], 7])
def test_bad_glob_lists_are_refused_alike(rt: Runtime, bad: object) -> None:
    from llmspell.state.selection import ScopeFilter

    with pytest.raises(ValidationError, match=r"argument 'scopes'(: must be a glob or a list "
                                              r"of globs| at \[\d\]: each glob must be a "
                                              "non-empty string)"):
        list(rt.state.records(bad))
    with pytest.raises(ValidationError, match=r"argument 'include'(: must be a glob or a list "
                                              r"of globs| at \[\d\]: each glob must be a "
                                              "non-empty string)"):
        ScopeFilter(bad)


def test_glob_list_forms() -> None:
    from llmspell.validation import check_globs

    assert check_globs(None, "g") is None
    with pytest.raises(ValidationError, match="argument 'g': must be a glob or a list"):
        check_globs({}, "g")
    assert check_globs(("a*", "b"), "g") == ["a*", "b"]
    assert check_globs({"x"}, "g") == ["x"]


# -- unknown options: one wording -----------------------------------------------------------

UNKNOWN = r"unknown (option|field|query parameter) '{key}' \(did you mean '{near}'\?\); known: "


@pytest.mark.parametrize(("lua", "argument", "key", "near"), [
    ("JSON.stringify({}, {indnt = 2})", "options", "indnt", "indent"),
    ("Event.publish('t', {}, {sorce = 'x'})", "opts", "sorce", "source"),
    ("Hook.register('session:start', function() end, {priorty = 'high'})", "priority",
     "priorty", "priority"),
    ("Hook.list({pont = 'x'})", "filter", "pont", "point"),
    ("Session.create{nmae = 'x'}", "options", "nmae", "name"),
    ("Artifact.list(Session.create{}, {tgas = {'a'}})", "filter", "tgas", "tags"),
    ("State.backup({descripton = 'x'})", "options", "descripton", "description"),
])
def test_every_lua_options_table_reports_an_unknown_key_alike(rt: Runtime, lua: str,
                                                              argument: str, key: str,
                                                              near: str) -> None:
    from llmspell.lua import LuaEngine

    engine = LuaEngine(rt, script_name="opts.lua")
    try:
        with pytest.raises(Exception) as caught:
            engine.run_string(lua)
    finally:
        engine.close()
    import re

    assert re.search(rf"ValidationError: argument '{argument}' at \.{key}: "
                     + UNKNOWN.format(key=key, near=near), str(caught.value)), str(caught.value)


def test_python_call_sites_report_an_unknown_key_alike(rt: Runtime, session: Session,
                                                       tmp_path) -> None:
    from llmspell.state.backup.retention import RetentionPolicy
    from llmspell.state.transfer import import_lines
    from llmspell.storage import open_store

    cases = [
        (lambda: open_store(f"sqlite:///{tmp_path}/x.db?timout=3"), "url", "timout",
         "timeout"),
        (lambda: rt.artifacts.store_stream(session, "x", [b"1"], tgas=["a"]), "options", "tgas",
         "tags"),
        (lambda: RetentionPolicy.from_spec({"keep_lst": 3}), "policy", "keep_lst",
         "keep_last"),
        (lambda: import_lines(rt.state, ['{"scope": "global", "key": "k", "value": 1, '
                                         '"scoep": 1}']), "line", "scoep", "scope"),
    ]
    for call, argument, key, near in cases:
        with pytest.raises(ValidationError, match=rf"argument '{argument}' at \.{key}: "
                           + UNKNOWN.format(key=key, near=near)):
            call()


def test_unknown_option_without_a_close_match() -> None:
    from llmspell.validation import check_known_keys, unknown_option

    error = unknown_option("opts", "zzz", ("alpha", "beta"))
    assert str(error) == "argument 'opts' at .zzz: unknown option 'zzz'; known: alpha, beta"
    with pytest.raises(ValidationError, match=r"at \.a: unknown field 'a'; known: none"):
        check_known_keys({"b": 1, "a": 2}, (), "filter", noun="field")
    check_known_keys({"alpha": 1}, ("alpha",), "opts")


def test_a_hook_result_reports_an_unknown_field_alike(rt: Runtime) -> None:
    from llmspell.hooks.results import to_result

    with pytest.raises(ValidationError, match=r"argument 'result' at \.reson: unknown 'cancel' "
                                              r"result field 'reson' \(did you mean 'reason'\?\)"
                                              "; known: action, continue_execution, reason, "
                                              "type"):
        to_result({"action": "cancel", "reson": "no"})


def test_a_scripted_reply_reports_an_unknown_field_alike() -> None:
    from llmspell.providers.scripted import ScriptedProvider

    with pytest.raises(ValidationError, match=r"argument 'replies' at \[1\]\.txt: unknown reply "
                                              r"field 'txt' \(did you mean 'text'\?\); known: "
                                              "error, finish_reason, message, text"):
        ScriptedProvider(replies=["ok", {"txt": "hi"}])
