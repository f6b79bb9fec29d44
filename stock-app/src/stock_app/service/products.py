"""Public product operations: register, restock, read."""

from decimal import Decimal

from dapr_helpers.index import Page
from dapr_helpers.state import retry_on_conflict

from stock_app.adapters.repository import StockRepository
from stock_app.domain.errors import UnknownProduct
from stock_app.domain.product import Product
from stock_app.domain.reservation import OrderReservation


class ProductService:
    def __init__(self, repo: StockRepository) -> None:
        self.repo = repo

    async def register(self, description: str, quantity: int, price: Decimal | None) -> Product:
        """The next integer id comes from a counter written with its ETag in the same transaction."""

        async def attempt() -> Product:
            stock = self.repo.unit()
            product = Product.register(await stock.last_product_id() + 1, description, quantity, price)
            stock.register(product)
            await stock.commit()
            return product

        return await retry_on_conflict(attempt)

    async def restock(self, product_id: int, quantity: int) -> Product:
        async def attempt() -> Product:
            stock = self.repo.unit()
            product = await stock.product(product_id)
            if product is None:
                raise UnknownProduct(product_id)
            product.restock(quantity)
            stock.save_product(product)
            await stock.commit()
            return product

        return await retry_on_conflict(attempt)

    async def get(self, product_id: int) -> Product:
        product = await self.repo.product(product_id)
        if product is None:
            raise UnknownProduct(product_id)
        return product

    async def exists(self, product_id: int) -> bool:
        return await self.repo.product(product_id) is not None

    async def reservations(self, product_id: int, limit: int, before: int | None = None) -> Page:
        """A page of the product's reservations, newest first: `OrderReservation`s as they are now."""
        page = await self.repo.reservations(product_id, limit, before)
        if page is None:
            raise UnknownProduct(product_id)
        return page

    async def list(self) -> list[Product]:
        return await self.repo.products()

    async def reservation(self, order_id: int) -> OrderReservation | None:
        return await self.repo.find_reservation(order_id)
