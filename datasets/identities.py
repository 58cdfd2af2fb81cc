"""``userIdentity`` objects as CloudTrail writes them, for every kind of caller the world has."""

from __future__ import annotations

from typing import Any

from ._util import iso_seconds
from .world import Account, IamRole, IamUser, access_key_id


def role_arn(account: Account, role: IamRole) -> str:
    return f"arn:aws:iam::{account.id}:role{role.path}{role.name}"


def iam_user(account: Account, user: IamUser, access_key: str | None = None) -> dict[str, Any]:
    ident: dict[str, Any] = {
        "type": "IAMUser",
        "principalId": user.user_id,
        "arn": f"arn:aws:iam::{account.id}:user/{user.name}",
        "accountId": account.id,
    }
    if access_key is not None or user.access_key is not None:
        ident["accessKeyId"] = access_key or user.access_key
    ident["userName"] = user.name
    return ident


def iam_user_console(
    account: Account, user: IamUser, seed: int, created: float, mfa: bool = True
) -> dict[str, Any]:
    """An IAM user's console session: temporary ASIA key, empty session issuer."""
    ident = iam_user(
        account, user, access_key_id("ASIA", seed, account.id, user.name, int(created))
    )
    ident["sessionContext"] = {
        "sessionIssuer": {},
        "webIdFederationData": {},
        "attributes": {
            "creationDate": iso_seconds(created),
            "mfaAuthenticated": "true" if mfa else "false",
        },
    }
    return ident


def assumed_role(
    account: Account,
    role: IamRole,
    session: str,
    seed: int,
    created: float,
    *,
    mfa: bool = False,
    invoked_by: str | None = None,
    ec2_role_delivery: str | None = None,
) -> dict[str, Any]:
    ident: dict[str, Any] = {
        "type": "AssumedRole",
        "principalId": f"{role.role_id}:{session}",
        "arn": f"arn:aws:sts::{account.id}:assumed-role/{role.name}/{session}",
        "accountId": account.id,
        "accessKeyId": access_key_id("ASIA", seed, account.id, role.name, session, int(created)),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role.role_id,
                "arn": role_arn(account, role),
                "accountId": account.id,
                "userName": role.name,
            },
            "webIdFederationData": {},
            "attributes": {
                "creationDate": iso_seconds(created),
                "mfaAuthenticated": "true" if mfa else "false",
            },
        },
    }
    if ec2_role_delivery:
        ident["sessionContext"]["ec2RoleDelivery"] = ec2_role_delivery
    if invoked_by:
        ident["invokedBy"] = invoked_by
    return ident


def aws_service(invoked_by: str) -> dict[str, Any]:
    return {"type": "AWSService", "invokedBy": invoked_by}


def root(account: Account) -> dict[str, Any]:
    return {
        "type": "Root",
        "principalId": account.id,
        "arn": f"arn:aws:iam::{account.id}:root",
        "accountId": account.id,
        "accessKeyId": "",
    }
