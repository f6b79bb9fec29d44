"""HTTP statuses as daprd turns them into gRPC errors (dapr/dapr `pkg/messaging/v1`)."""

from __future__ import annotations

from http import HTTPStatus

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

# Go's http.StatusText, for the statuses localdapr turns into gRPC errors.
HTTP_STATUS_TEXT = {s.value: s.phrase for s in HTTPStatus}
# dapr/dapr pkg/messaging/v1 CodeFromHTTPStatus (anything else non-2xx is UNKNOWN).
_GRPC_CODE_OF_HTTP = {
    408: grpc.StatusCode.CANCELLED,
    500: grpc.StatusCode.UNKNOWN,
    400: grpc.StatusCode.INTERNAL,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ALREADY_EXISTS,
    403: grpc.StatusCode.PERMISSION_DENIED,
    401: grpc.StatusCode.UNAUTHENTICATED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    501: grpc.StatusCode.UNIMPLEMENTED,
    503: grpc.StatusCode.UNAVAILABLE,
}


def grpc_code_of_http(status: int) -> grpc.StatusCode:
    return (
        grpc.StatusCode.OK if 200 <= status < 300 else _GRPC_CODE_OF_HTTP.get(status, grpc.StatusCode.UNKNOWN)
    )


def status_from_http(status: int, detail: str) -> grpc.Status:
    """pkg/messaging/v1 ErrorFromHTTPResponseCode: the gRPC code of an HTTP status, the status
    text as message, and an ErrorInfo holding the code and (up to 63 characters of) the detail."""
    text = HTTP_STATUS_TEXT.get(status, "")
    info = error_details_pb2.ErrorInfo(
        reason=text,
        domain="dapr.io",
        metadata={"http.code": str(status), "http.error_message": detail[:63]},
    )
    packed = any_pb2.Any()
    packed.Pack(info)
    code = grpc_code_of_http(status).value[0]
    return rpc_status.to_status(status_pb2.Status(code=code, message=text, details=[packed]))
