"""Couriers: a default roster from configuration plus the ones added through the API."""

from dataclasses import dataclass

from delivery_app.domain.errors import InvalidCourier


@dataclass(frozen=True)
class Courier:
    id: str
    name: str


def default_roster(names: list[str]) -> list[Courier]:
    return [Courier(f"courier-{i}", name) for i, name in enumerate(names, start=1)]


def add_courier(roster: list[Courier], name: str) -> Courier:
    """A new courier with the next free `courier-N` id."""
    name = name.strip()
    if not name:
        raise InvalidCourier("a courier needs a name")
    taken = {c.id for c in roster}
    n = len(roster) + 1
    while f"courier-{n}" in taken:
        n += 1
    return Courier(f"courier-{n}", name)
