"""Who really acted: access keys, role sessions and the chains that lead back to a person.

Every temporary credential is issued by an STS call (``AssumeRole``, ``AssumeRoleWithSAML``,
``AssumeRoleWithWebIdentity``, ``GetFederationToken``, ``GetSessionToken``) whose response names the
new key (``responseelements.credentials.accessKeyId``); the caller of that call acted with a key
of its own (``useridentity.accesskeyid``), which may itself come from an earlier session. Following
the keys backwards ends at an IAM user's long-term key, a federated identity (SAML or web
identity), an AWS service, the root user, or a session whose issuing call the lake does not hold.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from loglake.query.engine import Engine

#: LIKE patterns below escape their wildcards with a backslash
ESCAPE = "ESCAPE '\\'"


def like(text: str) -> str:
    """Text for a LIKE pattern whose wildcards are taken literally (with ``ESCAPE``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


STS_ISSUERS = (
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "GetFederationToken",
    "GetSessionToken",
)

SESSIONS_SQL = f"""
SELECT eventtime, eventid, eventname, recipientaccountid AS account, awsregion AS region,
       sourceipaddress,
       json_extract_scalar(responseelements, '$.credentials.accessKeyId') AS issued_key,
       coalesce(json_extract_scalar(responseelements, '$.assumedRoleUser.arn'),
                json_extract_scalar(responseelements, '$.federatedUser.arn')) AS session_arn,
       json_extract_scalar(requestparameters, '$.roleArn') AS role_arn,
       coalesce(json_extract_scalar(requestparameters, '$.roleSessionName'),
                json_extract_scalar(requestparameters, '$.name')) AS session_name,
       coalesce(json_extract_scalar(requestparameters, '$.sourceIdentity'),
                json_extract_scalar(responseelements, '$.sourceIdentity')) AS source_identity,
       coalesce(json_extract_scalar(responseelements, '$.subjectFromWebIdentityToken'),
                json_extract_scalar(responseelements, '$.subject')) AS federated_subject,
       coalesce(json_extract_scalar(responseelements, '$.provider'),
                json_extract_scalar(responseelements, '$.issuer')) AS federated_provider,
       identity_type AS caller_type, arn AS caller_arn, accesskeyid AS caller_key,
       invokedby AS caller_service, username AS caller_name
FROM {{table}}
WHERE eventsource = 'sts.amazonaws.com'
  AND eventname IN ({", ".join(f"'{n}'" for n in STS_ISSUERS)})
  AND errorcode IS NULL
"""


@dataclass
class Step:
    """One link of a chain: a credential and the identity that used it."""

    access_key: str | None
    principal: str | None  # the ARN the key's calls are made as
    kind: str  # IAMUser, AssumedRole, FederatedUser, Root, AWSService, SAMLUser, WebIdentityUser...
    issued_by: str | None = None  # the STS call that issued the key
    issued_at: str | None = None
    issue_event_id: str | None = None
    source_identity: str | None = None
    source_ip: str | None = None


@dataclass
class Chain:
    """From a key or session back to the first principal."""

    steps: list[Step] = field(default_factory=list)
    origin: str | None = None  # the first principal (user ARN, federated subject, service)
    origin_kind: str = "unknown"
    complete: bool = False  # False when an issuing call is not in the lake

    def to_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "origin_kind": self.origin_kind,
            "complete": self.complete,
            "steps": [asdict(s) for s in self.steps],
        }

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame([asdict(s) for s in self.steps], schema=list(Step.__annotations__))


class Identities:
    """The STS sessions of a lake (from the actors table) and the chains through them.

    Each question reads only the issuing calls it needs (the call that issued one key, the calls
    made by one principal or with some keys), so a chain or a timeline costs a few small reads,
    not a read of every session in the lake.
    """

    def __init__(self, engine: Engine, table: str = '"_investigate"."actors"'):
        self.engine = engine
        self.table = table  # the actors table (see actors.py), kept up to date by the caller

    def issued(self, condition: str, params: list[Any]) -> pl.DataFrame:
        """Successful STS calls that issued a credential and satisfy ``condition``."""
        sql = SESSIONS_SQL.format(table=self.table) + f" AND ({condition})"
        df = self.engine.execute(sql, params).df
        assert df is not None
        return df.filter(pl.col("issued_key").is_not_null()).unique(
            "issued_key", keep="first", maintain_order=True
        )

    @property
    def sessions(self) -> pl.DataFrame:
        """Every issuing call in the lake, one row per issued key."""
        return self.issued("TRUE", [])

    def issuing(self, key: str) -> pl.DataFrame:
        """The call that issued a key (no row for a long-term key or one issued elsewhere)."""
        found = self.issued(f"responseelements LIKE ? {ESCAPE}", [f"%{like(key)}%"])
        return found.filter(pl.col("issued_key") == key)

    def _key_user(self, key: str) -> dict[str, Any] | None:
        """Who the calls made with a key are made as (its first use in the lake)."""
        df = self.engine.execute(
            f"SELECT identity_type AS kind, arn, eventtime "
            f"FROM {self.table} WHERE accesskeyid = ? ORDER BY eventtime LIMIT 1",
            [key],
        ).df
        if df is None or df.height == 0:
            return None
        return df.row(0, named=True)

    def chain(self, key: str, *, max_depth: int = 20) -> Chain:
        """Follow a key back through the sessions that issued it to the first principal."""
        chain = Chain()
        seen: set[str] = set()
        current: str | None = key
        while current and current not in seen and len(chain.steps) < max_depth:
            seen.add(current)
            issued = self.issuing(current)
            if issued.height == 0:
                used = self._key_user(current)
                kind = (used or {}).get("kind") or (
                    "IAMUser" if current.startswith("AKIA") else "unknown"
                )
                arn = (used or {}).get("arn")
                chain.steps.append(Step(current, arn, kind))
                if current.startswith("AKIA") or kind in ("IAMUser", "Root"):
                    # a long-term key (or an IAM user's console session): the user is the origin
                    chain.origin, chain.origin_kind, chain.complete = arn, kind, arn is not None
                else:
                    chain.origin, chain.origin_kind = arn, kind
                return chain
            row = issued.row(0, named=True)
            kind = "FederatedUser" if row["eventname"] == "GetFederationToken" else "AssumedRole"
            if row["eventname"] == "GetSessionToken":
                kind = row["caller_type"] or "IAMUser"
            chain.steps.append(
                Step(
                    current,
                    row["session_arn"] or row["caller_arn"],
                    kind,
                    issued_by=row["eventname"],
                    issued_at=row["eventtime"],
                    issue_event_id=row["eventid"],
                    source_identity=row["source_identity"],
                    source_ip=row["sourceipaddress"],
                )
            )
            caller_key = row["caller_key"] or None
            if row["eventname"] in ("AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"):
                chain.origin = row["federated_subject"] or row["caller_name"]
                chain.origin_kind = row["caller_type"] or (
                    "SAMLUser" if row["eventname"].endswith("SAML") else "WebIdentityUser"
                )
                chain.complete = True
                return chain
            if row["caller_type"] == "AWSService" or (row["caller_service"] and not caller_key):
                chain.origin = row["caller_service"] or row["sourceipaddress"]
                chain.origin_kind = "AWSService"
                chain.complete = True
                return chain
            if not caller_key:
                chain.origin, chain.origin_kind = row["caller_arn"], row["caller_type"] or "unknown"
                chain.complete = row["caller_arn"] is not None
                return chain
            current = caller_key
        return chain

    def keys_started_by(self, principal: str | None = None, key: str | None = None) -> list[str]:
        """Keys of every session started, directly or through other sessions, by a principal
        (its ARN) or by calls made with a key."""
        frontier: set[str] = set()
        if principal:
            frontier |= set(self.issued("arn = ?", [principal])["issued_key"].to_list())
        if key:
            frontier |= set(self.issued("accesskeyid = ?", [key])["issued_key"].to_list())
        found: set[str] = set()
        while frontier:
            found |= frontier
            keys = sorted(frontier)
            condition = f"accesskeyid IN ({', '.join('?' for _ in keys)})"
            frontier = set(self.issued(condition, list(keys))["issued_key"].to_list()) - found
        return sorted(found)
