"""Stock's side of one order: reserved once, released at most once, tombstoned if released first.

The lifecycle (first outcome per action kept, tombstone) is `Participation`'s; this
record adds what the order took. It, not the product, says how many units the
order holds, so a release gives back exactly that.
"""

from dataclasses import dataclass
from typing import Any

from dapr_helpers.saga.participation import Outcome, Participation

from stock_app.domain.errors import OrderCancelled, StockError, UnknownProduct
from stock_app.domain.product import Product


@dataclass
class OrderReservation(Participation):
    DO, UNDO, DONE, UNDONE = "reserve", "release", "reserved", "released"
    REFUSALS, CANCELLED = StockError, OrderCancelled

    product_id: int | None = None
    quantity: int | None = None

    @property
    def held(self) -> int:
        """Units of `product_id` this order holds now."""
        return (self.quantity or 0) if self.status == "reserved" else 0

    def reserve(self, product: Product | None, product_id: int, quantity: int) -> Outcome:
        """Take `quantity` units of `product` (None: it does not exist) unless the order was cancelled."""
        self.product_id, self.quantity = product_id, quantity

        def take() -> tuple[str, dict[str, Any]]:
            if product is None:
                raise UnknownProduct(product_id)
            product.reserve(quantity)
            return f"reserved {quantity} of product {product_id}", {}

        return self.do(take)

    def release(self, product: Product | None) -> Outcome:
        """Give back what `reserve` took; with no reserve yet, leave a tombstone. Always succeeds."""

        def give_back() -> tuple[str, dict[str, Any]]:
            assert product is not None and self.quantity is not None
            product.release(self.quantity)
            return f"released {self.quantity} of product {self.product_id}", {"released": self.quantity}

        return self.undo(give_back, nothing={"released": 0})
