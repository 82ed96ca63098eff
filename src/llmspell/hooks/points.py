"""Hook point names, their rs-llmspell aliases, what each honours, and hook priorities.

A hook point is an ``area:event`` string (``state:before_write``). The CamelCase names of
rs-llmspell (``BeforeStateWrite``) are accepted as aliases of the same point, and scripts may
use any ``custom:<name>`` point of their own. :func:`resolve_point` turns any accepted spelling
into the canonical name and refuses everything else with a :class:`ValidationError` that says
what is allowed.

:data:`TABLE` is the one source for every built-in point: its aliases, the outcomes its owner
honours (:data:`HONOURS`; :mod:`llmspell.hooks.runner` applies it) and whether anything fires
it today (:data:`FIRED`; registering elsewhere is reported).
"""

from __future__ import annotations

from llmspell.errors import ValidationError
from llmspell.hooks.results import MODIFIED, RETRY, SKIP

# What a point's owner does with each outcome (``cancel`` is honoured everywhere: the call
# raises HookCancelled; at a point fired after the change, the change stays made).
BEFORE = frozenset({MODIFIED, SKIP, RETRY})  # guards an operation: change its input, skip it,
#                                              fire again after the delay
AFTER = frozenset({MODIFIED, RETRY})  # under ``run``: replace the result, run the operation again
ERROR = frozenset({RETRY})  # under ``run``: run the failed operation again
NOTICE: frozenset[str] = frozenset()  # tells that something happened; nothing to change
CHOICE = frozenset({SKIP, RETRY})  # a before-point whose data is only a description

#: The points table, the one source: canonical name, rs-llmspell aliases (CamelCase first),
#: the outcomes its owner honours besides cancel, and whether anything fires it today.
#: An outcome a point does not honour is reported (``hook.outcome_ignored``), never dropped.
TABLE: tuple[tuple[str, tuple[str, ...], frozenset[str], bool], ...] = (
    ("system:startup", ("SystemStartup",), NOTICE, False),
    ("system:shutdown", ("SystemShutdown",), NOTICE, False),
    ("system:config_change", ("ConfigurationChange",), NOTICE, False),
    # an agent's creation can be changed (its config) or retried, not skipped
    ("agent:before_init", ("BeforeAgentInit",), frozenset({MODIFIED, RETRY}), True),
    ("agent:after_init", ("AfterAgentInit",), NOTICE, True),
    ("agent:before_execution", ("BeforeAgentExecution",), BEFORE, True),
    ("agent:after_execution", ("AfterAgentExecution",), AFTER, True),
    ("agent:error", ("AgentError",), ERROR, True),
    ("agent:before_shutdown", ("BeforeAgentShutdown",), NOTICE, True),
    ("agent:after_shutdown", ("AfterAgentShutdown",), NOTICE, True),
    ("tool:before_discovery", ("BeforeToolDiscovery",), BEFORE, True),
    ("tool:after_discovery", ("AfterToolDiscovery",), AFTER, True),
    ("tool:before_execution", ("BeforeToolExecution",), BEFORE, True),
    ("tool:after_execution", ("AfterToolExecution",), AFTER, True),
    ("tool:validation", ("ToolValidation",), BEFORE, True),
    ("tool:error", ("ToolError",), ERROR, True),
    ("workflow:start", ("BeforeWorkflowStart", "WorkflowStart"), BEFORE, True),
    ("workflow:before_step", ("BeforeWorkflowStage", "BeforeWorkflowStep"), BEFORE, True),
    ("workflow:after_step", ("AfterWorkflowStage", "AfterWorkflowStep"), AFTER, True),
    ("workflow:stage_transition", ("WorkflowStageTransition",), NOTICE, False),
    ("workflow:checkpoint", ("WorkflowCheckpoint",), NOTICE, True),
    ("workflow:rollback", ("WorkflowRollback",), NOTICE, False),
    ("workflow:complete", ("AfterWorkflowComplete", "WorkflowComplete"), AFTER, True),
    ("workflow:error", ("WorkflowError",), ERROR, True),
    ("state:before_read", ("BeforeStateRead",), CHOICE, True),
    ("state:after_read", ("AfterStateRead",), frozenset({MODIFIED}), True),
    ("state:before_write", ("BeforeStateWrite",), BEFORE, True),
    ("state:after_write", ("AfterStateWrite",), NOTICE, True),
    ("state:delete", ("StateDelete",), CHOICE, True),
    ("state:conflict", ("StateConflict",), NOTICE, False),
    ("state:migration", ("StateMigration",), CHOICE, True),
    ("session:start", ("SessionStart",), frozenset({MODIFIED, RETRY}), True),
    ("session:end", ("SessionEnd",), CHOICE, True),
    ("session:suspend", ("SessionSuspend",), CHOICE, True),
    ("session:resume", ("SessionResume",), CHOICE, True),
    ("session:save", ("SessionSave",), CHOICE, True),
    ("session:restore", ("SessionRestore",), CHOICE, True),
    ("session:checkpoint", ("SessionCheckpoint",), NOTICE, False),
    ("artifact:before_store", ("BeforeArtifactStore", "artifact:before_create"), BEFORE, True),
    ("artifact:after_store", ("AfterArtifactStore", "artifact:after_create"), NOTICE, True),
    ("artifact:delete", ("ArtifactDelete", "artifact:before_delete"), CHOICE, True),
    ("event:before_emit", ("BeforeEventEmit",), BEFORE, True),
    ("event:after_emit", ("AfterEventEmit",), NOTICE, True),
    ("event:handler_error", ("EventHandlerError",), NOTICE, False),
    ("resource:limit_exceeded", ("ResourceLimitExceeded",), NOTICE, True),
    ("security:violation", ("SecurityViolation",), NOTICE, True),
    ("performance:threshold_exceeded", ("PerformanceThresholdExceeded",), NOTICE, False),
    ("performance:memory_high", ("MemoryUsageHigh",), NOTICE, False),
    ("performance:cpu_high", ("CpuUsageHigh",), NOTICE, False),
)

#: Every built-in point, canonical name -> its rs-llmspell aliases (CamelCase first).
POINTS: dict[str, tuple[str, ...]] = {point: aliases for point, aliases, _, _ in TABLE}

#: The points something in llmspell fires today. Registering at any other built-in point is
#: allowed (code may fire any point itself) but reported.
FIRED: frozenset[str] = frozenset(point for point, _, _, fired in TABLE if fired)

#: Every accepted spelling (canonical names and aliases) -> the canonical name.
CANONICAL: dict[str, str] = {
    spelling: point
    for point, aliases in POINTS.items()
    for spelling in (point, *aliases)
}

#: Every accepted spelling of a point fired after (or on the failure of) an operation, where a
#: retry means "run the operation again" (its owner's job) rather than "fire this point again".
RERUNS: frozenset[str] = frozenset(
    spelling
    for point, aliases, honours, _ in TABLE
    if honours is AFTER or honours is ERROR
    for spelling in (point, *aliases)
)

#: Every accepted spelling -> the outcomes (besides cancel) its point honours; a custom point
#: (``custom:<name>``, absent here) honours them all: its script decides.
HONOURS: dict[str, frozenset[str]] = {
    spelling: honours
    for point, aliases, honours, _ in TABLE
    for spelling in (point, *aliases)
}

CUSTOM_PREFIX = "custom:"

#: Named priorities. A larger number runs earlier; integers must lie in [LOWEST, HIGHEST].
PRIORITIES: dict[str, int] = {
    "highest": 1000,
    "high": 100,
    "normal": 0,
    "low": -100,
    "lowest": -1000,
}
HIGHEST = PRIORITIES["highest"]
LOWEST = PRIORITIES["lowest"]


def resolve_point(point: object, *, argument: str = "point") -> str:
    """Return the canonical name of ``point``.

    Args:
        point: a canonical name (``agent:before_execution``), an rs-llmspell alias
            (``BeforeAgentExecution``) or ``custom:<name>``.
        argument: the argument name used in the error message.

    Raises:
        ValidationError: ``point`` is not a string, or names no known point.
    """
    if isinstance(point, str):
        canonical = CANONICAL.get(point)
        if canonical is not None:
            return canonical
        if is_custom(point):
            return point
    raise ValidationError(
        argument,
        "must be a hook point such as 'agent:before_execution' (areas: "
        + ", ".join(sorted({name.split(":", 1)[0] for name in POINTS}))
        + "), an rs-llmspell alias such as 'BeforeAgentExecution', or 'custom:<name>';"
        " see llmspell.hooks.POINTS for the full list",
        got=point,
    )


def is_custom(point: str) -> bool:
    """Whether ``point`` is a well-formed ``custom:<name>`` point (a name with no whitespace)."""
    if not point.startswith(CUSTOM_PREFIX):
        return False
    name = point[len(CUSTOM_PREFIX):]
    return bool(name) and not any(ch.isspace() for ch in name)


def honours(point: str) -> frozenset[str]:
    """The outcomes besides cancel that ``point`` (any spelling, or custom) honours."""
    return HONOURS.get(point, BEFORE)


def is_fired(point: str) -> bool:
    """Whether anything fires the canonical ``point`` today (custom points: their scripts)."""
    return point in FIRED or is_custom(point)


def aliases_of(point: str) -> tuple[str, ...]:
    """Every spelling of the canonical ``point``, canonical first (custom points have none)."""
    return (point, *POINTS.get(point, ()))


def resolve_priority(priority: object) -> int:
    """Turn ``highest|high|normal|low|lowest`` or an integer into the number hooks sort by.

    Larger numbers run earlier; hooks of equal priority run in registration order.

    Raises:
        ValidationError: an unknown name, a non-integer, or an integer outside -1000..1000.
    """
    if isinstance(priority, str):
        value = PRIORITIES.get(priority.lower())
        if value is not None:
            return value
    elif isinstance(priority, int) and not isinstance(priority, bool):
        if LOWEST <= priority <= HIGHEST:
            return priority
        raise ValidationError(
            "priority", f"an integer priority must be between {LOWEST} and {HIGHEST}",
            got=priority,
        )
    raise ValidationError(
        "priority",
        "must be one of " + ", ".join(PRIORITIES) + f", or an integer in {LOWEST}..{HIGHEST}",
        got=priority,
    )
