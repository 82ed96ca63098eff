"""Hook point names, their rs-llmspell aliases, and hook priorities.

A hook point is an ``area:event`` string (``state:before_write``). The CamelCase names of
rs-llmspell (``BeforeStateWrite``) are accepted as aliases of the same point, and scripts may
use any ``custom:<name>`` point of their own. :func:`resolve_point` turns any accepted spelling
into the canonical name and refuses everything else with a :class:`ValidationError` that says
what is allowed.
"""

from __future__ import annotations

from llmspell.errors import ValidationError

#: Every built-in point, canonical name -> its rs-llmspell aliases (CamelCase first).
POINTS: dict[str, tuple[str, ...]] = {
    "system:startup": ("SystemStartup",),
    "system:shutdown": ("SystemShutdown",),
    "system:config_change": ("ConfigurationChange",),
    "agent:before_init": ("BeforeAgentInit",),
    "agent:after_init": ("AfterAgentInit",),
    "agent:before_execution": ("BeforeAgentExecution",),
    "agent:after_execution": ("AfterAgentExecution",),
    "agent:error": ("AgentError",),
    "agent:before_shutdown": ("BeforeAgentShutdown",),
    "agent:after_shutdown": ("AfterAgentShutdown",),
    "tool:before_discovery": ("BeforeToolDiscovery",),
    "tool:after_discovery": ("AfterToolDiscovery",),
    "tool:before_execution": ("BeforeToolExecution",),
    "tool:after_execution": ("AfterToolExecution",),
    "tool:validation": ("ToolValidation",),
    "tool:error": ("ToolError",),
    "workflow:start": ("BeforeWorkflowStart", "WorkflowStart"),
    "workflow:before_step": ("BeforeWorkflowStage", "BeforeWorkflowStep"),
    "workflow:after_step": ("AfterWorkflowStage", "AfterWorkflowStep"),
    "workflow:stage_transition": ("WorkflowStageTransition",),
    "workflow:checkpoint": ("WorkflowCheckpoint",),
    "workflow:rollback": ("WorkflowRollback",),
    "workflow:complete": ("AfterWorkflowComplete", "WorkflowComplete"),
    "workflow:error": ("WorkflowError",),
    "state:before_read": ("BeforeStateRead",),
    "state:after_read": ("AfterStateRead",),
    "state:before_write": ("BeforeStateWrite",),
    "state:after_write": ("AfterStateWrite",),
    "state:delete": ("StateDelete",),
    "state:conflict": ("StateConflict",),
    "state:migration": ("StateMigration",),
    "session:start": ("SessionStart",),
    "session:end": ("SessionEnd",),
    "session:suspend": ("SessionSuspend",),
    "session:resume": ("SessionResume",),
    "session:save": ("SessionSave",),
    "session:restore": ("SessionRestore",),
    "session:checkpoint": ("SessionCheckpoint",),
    "artifact:before_store": ("BeforeArtifactStore", "artifact:before_create"),
    "artifact:after_store": ("AfterArtifactStore", "artifact:after_create"),
    "artifact:delete": ("ArtifactDelete", "artifact:before_delete"),
    "event:before_emit": ("BeforeEventEmit",),
    "event:after_emit": ("AfterEventEmit",),
    "event:handler_error": ("EventHandlerError",),
    "resource:limit_exceeded": ("ResourceLimitExceeded",),
    "security:violation": ("SecurityViolation",),
    "performance:threshold_exceeded": ("PerformanceThresholdExceeded",),
    "performance:memory_high": ("MemoryUsageHigh",),
    "performance:cpu_high": ("CpuUsageHigh",),
}

#: Every accepted spelling (canonical names and aliases) -> the canonical name.
CANONICAL: dict[str, str] = {
    spelling: point
    for point, aliases in POINTS.items()
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
