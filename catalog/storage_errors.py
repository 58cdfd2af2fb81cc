"""Storage failures as one line with the cause and what to do about it.

botocore, s3fs, delta-rs and Polars each report a missing credential, a refused request or an
unreachable endpoint in their own words (often as a long traceback). :func:`explain` recognises
them along an exception's chain and says which location failed and how to fix it.
"""

from __future__ import annotations

import re

from loglake.errors import StorageError

#: how to give credentials, as a user of the AWS CLI expects
CREDENTIAL_HINT = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), pass --profile NAME, "
    "or for MinIO and other S3-compatible servers --endpoint-url URL with that server's keys"
)

#: (pattern over the error's class name and text, what it means, what to do)
_KNOWN: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(r"NoCredentialsError|Unable to locate credentials|no credentials", re.I),
        "no AWS credentials were found",
        CREDENTIAL_HINT,
    ),
    (
        re.compile(r"PartialCredentialsError|Partial credentials", re.I),
        "the AWS credentials are incomplete",
        CREDENTIAL_HINT,
    ),
    (
        re.compile(r"InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken|InvalidToken", re.I),
        "the storage refused the credentials (unknown key, wrong secret or expired session)",
        "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or --profile; refresh an expired session",
    ),
    (
        re.compile(r"AccessDenied|Forbidden|\b403\b", re.I),
        "access was denied",
        "use credentials allowed to list and read it (s3:ListBucket, s3:GetObject), or --profile",
    ),
    (
        re.compile(r"PermissionError|Permission denied", re.I),
        "permission was denied",
        "check the permissions of that folder and its files",
    ),
    (
        re.compile(r"NoSuchBucket|bucket does not exist", re.I),
        "the bucket does not exist",
        "check the bucket name, --region and --endpoint-url",
    ),
    (
        re.compile(
            r"EndpointConnectionError|Could not connect to the endpoint|ConnectTimeout|"
            r"ConnectionRefused|Connection refused|ClientConnectorError|Name or service not known",
            re.I,
        ),
        "the storage endpoint could not be reached",
        "check --endpoint-url (or AWS_ENDPOINT_URL) and that the server is running",
    ),
)


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def explain(error: BaseException, location: str | None = None) -> StorageError | None:
    """A :class:`StorageError` naming the cause and the fix, or None when ``error`` is not a
    storage failure loglake recognises."""
    for link in _chain(error):
        text = f"{type(link).__name__}: {link}"
        for pattern, cause, action in _KNOWN:
            if pattern.search(text):
                where = f" for {location}" if location else ""
                return StorageError(f"{cause}{where}: {action}")
    return None
