"""A stock position: counts only. Invariant: available + reserved == registered + restocked, none negative.

Which order holds which units is each order's reservation record
(`domain.reservation`), so a product's record does not grow with its orders.
"""

from dataclasses import dataclass
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
    reserved: int = 0  # units held by orders' reservations

    @classmethod
    def register(cls, id: int, description: str, quantity: int, price: Decimal | None = None) -> "Product":
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            raise InvalidQuantity(f"quantity must be zero or more, got {quantity!r}")
        if price is not None and price < 0:
            raise InvalidQuantity(f"price must be zero or more, got {price}")
        return cls(id, description, registered=quantity, available=quantity, price=price)

    @property
    def balanced(self) -> bool:
        return (
            self.available + self.reserved == self.registered + self.restocked
            and min(self.available, self.reserved, self.registered, self.restocked) >= 0
        )

    def reserve(self, quantity: int) -> None:
        quantity = _positive(quantity)
        if quantity > self.available:
            raise InsufficientStock(self.id, self.available, quantity)
        self.available -= quantity
        self.reserved += quantity

    def release(self, quantity: int) -> None:
        """Give back units a reservation held; never more than are reserved."""
        quantity = _positive(quantity)
        if quantity > self.reserved:  # a broken store, not a business case: refuse to go negative
            raise InvalidQuantity(f"product {self.id}: release of {quantity}, {self.reserved} reserved")
        self.reserved -= quantity
        self.available += quantity

    def restock(self, quantity: int) -> None:
        quantity = _positive(quantity)
        self.restocked += quantity
        self.available += quantity
