"""A participant's record of one order: what its step did, written once.

Every participant keeps, per order, the first outcome of each action (a duplicate
command gets it back and changes nothing) and a status that follows one lifecycle:

    new ──do──> DONE ──undo──> UNDONE
     │  └─do refused──> refused ──undo──> refused ("nothing to undo")
     └──undo first──> cancelled (a tombstone: a late do is refused, `order_cancelled`)

`Participation` is that rule; a participant's record subclasses it with its
resource's fields and names, and passes `do`/`undo` the effect on its resource.
"""

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ClassVar

NEW, REFUSED, CANCELLED = "new", "refused", "cancelled"

# Set once `outcome_of` hands back a stored outcome in this task (a duplicate command), so the
# handler (`ParticipantCommands`) can tell a replay from a first handling without every
# participant reporting it.
replaying: ContextVar[bool] = ContextVar("replaying", default=False)


class StepRefused(Exception):
    """A business refusal of a step; `code` is the stable reason its reply carries."""

    code = "step_refused"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    reason: str | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


# What an effect reports: the reply's message and details.
Effect = Callable[[], tuple[str, dict[str, Any]]]


@dataclass
class Participation:
    """One order's step at one participant, and the first outcome of each of its actions."""

    DO: ClassVar[str]  # the action that takes the step: "reserve", "charge"
    UNDO: ClassVar[str]  # its compensation: "release", "refund"
    DONE: ClassVar[str]  # the status after `do`: "reserved", "charged", "booked"
    UNDONE: ClassVar[str]  # the status after `undo` of a done step: "released", "refunded"
    REFUSALS: ClassVar[type[StepRefused]]  # what `do`'s effect raises to refuse the step
    CANCELLED: ClassVar[type[StepRefused]]  # the refusal of a do after its undo, given the order id

    order_id: int
    status: str = NEW
    outcomes: dict[str, Outcome] = field(default_factory=dict, kw_only=True)

    def outcome_of(self, action: str) -> Outcome | None:
        """The stored outcome of `action`, if it was handled before: a duplicate gets it back."""
        outcome = self.outcomes.get(action)
        if outcome is not None:
            replaying.set(True)
        return outcome

    def do(self, effect: Effect) -> Outcome:
        """Run `effect` unless a tombstone stands; a refusal (`REFUSALS`) leaves the resource as it was."""
        try:
            if self.status == CANCELLED:
                raise self.CANCELLED(self.order_id)
            message, details = effect()
        except self.REFUSALS as err:
            self.status = REFUSED if self.status == NEW else self.status
            outcome = Outcome(False, err.code, str(err))
        else:
            self.status = self.DONE
            outcome = Outcome(True, None, message, details)
        self.outcomes[self.DO] = outcome
        return outcome

    def undo(self, effect: Effect, nothing: dict[str, Any]) -> Outcome:
        """Run `effect` if the step was done; with no `do` yet, leave a tombstone. Always succeeds;
        `nothing` is the details of an undo that had nothing to give back."""
        if self.status == self.DONE:
            message, details = effect()
            self.status = self.UNDONE
        elif self.status == NEW:
            self.status = CANCELLED  # tombstone: a late do is refused
            message, details = f"nothing was {self.DONE}; order cancelled", nothing
        else:
            message, details = f"nothing to {self.UNDO}", nothing
        outcome = Outcome(True, None, message, details)
        self.outcomes[self.UNDO] = outcome
        return outcome


def outcomes_to_json(outcomes: dict[str, Outcome]) -> dict[str, Any]:
    return {action: vars(o) for action, o in outcomes.items()}


def outcomes_from_json(data: dict[str, Any]) -> dict[str, Outcome]:
    return {action: Outcome(**o) for action, o in data.items()}
