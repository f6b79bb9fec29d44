"""A slot is one hour starting on the hour; a courier has at most one booking per slot."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from delivery_app.domain.errors import NoCourierAvailable

SLOT_LENGTH = timedelta(hours=1)


def slot_start(dtime: datetime) -> datetime:
    """The start of the slot holding `dtime` (a naive time is taken as UTC)."""
    aware = dtime.replace(tzinfo=UTC) if dtime.tzinfo is None else dtime.astimezone(UTC)
    return aware.replace(minute=0, second=0, microsecond=0)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Slot:
    start: datetime
    bookings: dict[str, int] = field(default_factory=dict)  # courier id -> order id

    @property
    def end(self) -> datetime:
        return self.start + SLOT_LENGTH

    def free(self, roster: list[str]) -> list[str]:
        return [courier for courier in roster if courier not in self.bookings]

    def book(self, order_id: int, roster: list[str]) -> str:
        """Give `order_id` the first free courier of `roster` (keyed by courier: never two bookings)."""
        for courier, booked in self.bookings.items():
            if booked == order_id:
                return courier
        free = self.free(roster)
        if not free:
            raise NoCourierAvailable(iso(self.start))
        self.bookings[free[0]] = order_id
        return free[0]

    def release(self, order_id: int) -> str | None:
        """Free the courier `order_id` holds; None if it holds none."""
        for courier, booked in list(self.bookings.items()):
            if booked == order_id:
                del self.bookings[courier]
                return courier
        return None
