"""The delivery time (`dtime`) of an order and the one-hour courier slot it falls in."""

from datetime import UTC, datetime

from order_app.domain.errors import DeliveryTimeInPast, InvalidDeliveryTime


def parse_dtime(value: object) -> datetime:
    """An aware UTC datetime from "2025-01-08 10:00:00" or ISO 8601; a naive time means UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidDeliveryTime(
                f"dtime {value!r} is not a date and time such as 2030-01-08 10:00:00"
            ) from None
    else:
        raise InvalidDeliveryTime("dtime must be a string such as 2030-01-08 10:00:00")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def ensure_future(dtime: datetime, now: datetime) -> datetime:
    if dtime <= now:
        raise DeliveryTimeInPast(f"dtime {dtime.isoformat()} is not in the future")
    return dtime


def slot_start(dtime: datetime) -> datetime:
    """A courier slot is one hour, starting on the hour of `dtime`."""
    return dtime.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
