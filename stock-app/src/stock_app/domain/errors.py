"""Named business errors; `code` is the stable reason the API and replies expose."""

from dapr_helpers.saga.participation import StepRefused


class StockError(StepRefused):
    code = "stock_error"


class InvalidQuantity(StockError, ValueError):
    code = "invalid_quantity"


class UnknownProduct(StockError):
    code = "unknown_product"

    def __init__(self, product_id: int) -> None:
        super().__init__(f"product {product_id} does not exist")
        self.product_id = product_id


class InsufficientStock(StockError):
    code = "insufficient_stock"

    def __init__(self, product_id: int, available: int, requested: int) -> None:
        super().__init__(f"product {product_id} has {available} units available, {requested} requested")


class OrderCancelled(StockError):
    code = "order_cancelled"

    def __init__(self, order_id: int) -> None:
        super().__init__(f"order {order_id} was released before its reserve arrived")
