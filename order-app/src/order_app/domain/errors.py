"""Named errors of the order domain; the API edge maps each `code` to a status."""


class OrderError(Exception):
    code = "order_error"


class InvalidOrder(OrderError, ValueError):
    """A field of a new order breaks a rule. A ValueError, so pydantic validators can raise it."""

    code = "invalid_field"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidAmount(InvalidOrder):
    code = "invalid_amount"

    def __init__(self, message: str) -> None:
        super().__init__("amount", message)


class InvalidDeliveryTime(InvalidOrder):
    code = "invalid_dtime"

    def __init__(self, message: str) -> None:
        super().__init__("dtime", message)


class DeliveryTimeInPast(InvalidDeliveryTime):
    code = "dtime_in_past"


class InvalidEmail(InvalidOrder):
    code = "invalid_email"

    def __init__(self, message: str) -> None:
        super().__init__("e_mail", message)


class InvalidTransition(OrderError):
    """A finished order cannot change its outcome, nor a step go back."""

    code = "invalid_transition"


class OrderNotFound(OrderError):
    code = "order_not_found"

    def __init__(self, order_id: int) -> None:
        super().__init__(f"order {order_id} does not exist")
        self.order_id = order_id


class UnknownAccount(InvalidOrder):
    code = "unknown_account"

    def __init__(self, login: str) -> None:
        super().__init__("login", f"no billing account with login {login!r}")


class UnknownProduct(InvalidOrder):
    code = "unknown_product"

    def __init__(self, product_id: int) -> None:
        super().__init__("id_product", f"no product with id {product_id}")
