"""A stock position. Invariant: available + reserved == registered + restocked, none negative."""

from dataclasses import dataclass, field
from decimal import Decimal

from stock_app.domain.errors import InsufficientStock, InvalidQuantity


def _positive(quantity: int) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise InvalidQuantity(f"quantity must be a positive integer, got {quantity!r}")
    return quantity


@dataclass
class Product:
    id: int
    description: str
    registered: int
    available: int
    price: Decimal | None = None
    restocked: int = 0
    reservations: dict[int, int] = field(default_factory=dict)  # order id -> units

    @classmethod
    def register(cls, id: int, description: str, quantity: int, price: Decimal | None = None) -> "Product":
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            raise InvalidQuantity(f"quantity must be zero or more, got {quantity!r}")
        if price is not None and price < 0:
            raise InvalidQuantity(f"price must be zero or more, got {price}")
        return cls(id, description, registered=quantity, available=quantity, price=price)

    @property
    def reserved(self) -> int:
        return sum(self.reservations.values())

    def reserve(self, order_id: int, quantity: int) -> None:
        quantity = _positive(quantity)
        if quantity > self.available:
            raise InsufficientStock(self.id, self.available, quantity)
        self.available -= quantity
        self.reservations[order_id] = self.reservations.get(order_id, 0) + quantity

    def release(self, order_id: int) -> int:
        """Give back what `order_id` reserved; 0 if it holds nothing."""
        quantity = self.reservations.pop(order_id, 0)
        self.available += quantity
        return quantity

    def restock(self, quantity: int) -> None:
        quantity = _positive(quantity)
        self.restocked += quantity
        self.available += quantity
