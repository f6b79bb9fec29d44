"""Idempotency keys: the first request with a key claims it; a retry finds the claim."""

from dapr_helpers.state import Delete, JsonStore
from pydantic import BaseModel

from order_app.adapters.repository import idempotency_key


class Claim(BaseModel):
    fingerprint: str
    order_id: int


class IdempotencyKeys:
    def __init__(self, store: JsonStore) -> None:
        self.store = store

    async def find(self, key: str) -> Claim | None:
        data, _ = await self.store.get_json(idempotency_key(key))
        return Claim.model_validate(data) if data is not None else None

    async def claim(self, key: str, claim: Claim) -> Claim | None:
        """Claim `key` (first-write); on losing a race, the winner's claim."""
        if await self.store.create_json(idempotency_key(key), claim.model_dump()):
            return None
        return await self.find(key)

    async def release(self, key: str) -> None:
        await self.store.transact([Delete(idempotency_key(key))])
