"""Stock's side of one order: reserved once, released at most once, tombstoned if released first.

The first outcome of each action is kept here; a duplicate command gets it back
and changes nothing. This record, not the product, says how many units the
order holds, so a release gives back exactly that.
"""

from dataclasses import dataclass, field
from typing import Any, Literal

from stock_app.domain.errors import OrderCancelled, StockError, UnknownProduct
from stock_app.domain.product import Product

Status = Literal["new", "reserved", "refused", "released", "cancelled"]
Action = Literal["reserve", "release"]


@dataclass(frozen=True)
class Outcome:
    ok: bool
    reason: str | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class OrderReservation:
    order_id: int
    status: Status = "new"
    product_id: int | None = None
    quantity: int | None = None
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    @property
    def held(self) -> int:
        """Units of `product_id` this order holds now."""
        return (self.quantity or 0) if self.status == "reserved" else 0

    def outcome_of(self, action: Action) -> Outcome | None:
        return self.outcomes.get(action)

    def reserve(self, product: Product | None, product_id: int, quantity: int) -> Outcome:
        """Take `quantity` units of `product` (None: it does not exist) unless the order was cancelled."""
        self.product_id, self.quantity = product_id, quantity
        try:
            if self.status == "cancelled":
                raise OrderCancelled(self.order_id)
            if product is None:
                raise UnknownProduct(product_id)
            product.reserve(quantity)
        except StockError as err:
            self.status = "refused" if self.status == "new" else self.status
            outcome = Outcome(False, err.code, str(err))
        else:
            self.status = "reserved"
            outcome = Outcome(True, None, f"reserved {quantity} of product {product_id}")
        self.outcomes["reserve"] = outcome
        return outcome

    def release(self, product: Product | None) -> Outcome:
        """Give back what `reserve` took; with no reserve yet, leave a tombstone. Always succeeds."""
        released = 0
        if self.status == "reserved":
            assert product is not None and self.quantity is not None
            product.release(self.quantity)
            released, self.status = self.quantity, "released"
            message = f"released {released} of product {self.product_id}"
        elif self.status == "new":
            self.status = "cancelled"  # tombstone: a late reserve is refused
            message = "nothing was reserved; order cancelled"
        else:
            message = "nothing to release"
        outcome = Outcome(True, None, message, {"released": released})
        self.outcomes["release"] = outcome
        return outcome
