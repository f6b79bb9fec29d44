"""Named business errors; `code` is the stable reason the API and replies expose."""

from dapr_helpers.saga.participation import StepRefused


class DeliveryError(StepRefused):
    code = "delivery_error"


class InvalidCourier(DeliveryError, ValueError):
    code = "invalid_courier"


class NoCourierAvailable(DeliveryError):
    code = "no_courier_available"

    def __init__(self, slot: str) -> None:
        super().__init__(f"every courier is booked for the slot starting {slot}")


class OrderCancelled(DeliveryError):
    code = "order_cancelled"

    def __init__(self, order_id: int) -> None:
        super().__init__(f"order {order_id} was released before its reserve arrived")
