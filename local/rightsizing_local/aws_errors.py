"""Errors shaped like the AWS APIs' own, for the local fakes.

botocore raises a ``ClientError`` subclass named after the code for errors a service models (SageMaker models
ResourceLimitExceeded, ResourceInUse, ResourceNotFound and Conflict) and a plain ``ClientError`` for the rest
(ValidationException, ThrottlingException, …). Step Functions derives error names from exactly that difference
(``SageMaker.ResourceLimitExceededException`` vs ``SageMaker.SageMakerException``), so the fakes keep it.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
REGION = "us-east-1"
MODELLED_CODES = frozenset({"ResourceLimitExceeded", "ResourceInUse", "ResourceNotFound", "ConflictException"})
_modelled: dict[str, type[ClientError]] = {}


def client_error(operation: str, message: str, code: str = "ValidationException", status: int = 400) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "local-request"},
    }
    if code in MODELLED_CODES:
        error_class = _modelled.setdefault(code, type(code, (ClientError,), {}))
        return error_class(response, operation)
    return ClientError(response, operation)


def sagemaker_arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name.lower()}"


def not_found(operation: str, kind: str, name: str) -> ClientError:
    """SageMaker's answer for a missing resource: ValidationException 'Could not find <kind> "<arn>".'"""
    label = {"endpoint-config": "endpoint configuration"}.get(kind, kind)
    return client_error(operation, f'Could not find {label} "{sagemaker_arn(kind, name)}".')
