"""`GET /directory/product?id=`: does the product exist? Asked by the order app only.

An internal route, not under `/stock`: the ingress does not reach it and, with
APP_API_TOKEN set, only the sidecar may call it. An unknown product is a 200
answer, not a 404: daprd counts every non-2xx answer of an invoked app as a
failure, which its resiliency retries and counts towards the circuit breaker
(`pkg/api/http/directmessaging.go`). The id is a query parameter so that daprd's
breaker key (`stock:directory/product`) is one per lookup, not one per product.
"""

from fastapi import APIRouter, Query
from pydantic import BaseModel

from stock_app.api.deps import Products

router = APIRouter(prefix="/directory", tags=["directory"], include_in_schema=False)


class Existence(BaseModel):
    exists: bool


@router.get("/product")
async def product_exists(products: Products, product_id: int = Query(alias="id")) -> Existence:
    return Existence(exists=await products.exists(product_id))
