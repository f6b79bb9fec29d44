from typing import Annotated

from fastapi import Depends, Request

from stock_app.service.products import ProductService


async def _products(request: Request) -> ProductService:
    return request.app.state.products


Products = Annotated[ProductService, Depends(_products)]
