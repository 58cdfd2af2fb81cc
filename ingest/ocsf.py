"""OCSF views of the AWS-shaped tables: the event classes Amazon Security Lake writes.

Security Lake (source version 2) stores CloudTrail management and data events as OCSF 1.1.0 API
Activity (6003), Authentication (3002) and Account Change (3001), and VPC flow logs as Network
Activity (4001). These views give the same classes over the tables ingest writes, so a query or
detection written for Security Lake runs here, and ``loglake export --format security-lake``
writes them as a custom source. Each CloudTrail event lands in exactly one of the three classes:
sign-ins are Authentication, IAM user and role changes are Account Change, the rest API Activity.

The mapping (docs/ocsf.md) is built from small declarative pieces: :func:`row` nests members as
OCSF objects, so each view reads as the OCSF attribute tree it produces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

#: the OCSF schema version the views follow (Security Lake's source version 2)
OCSF_VERSION = "1.1.0"

#: (SQL expression, SQL type) of one attribute
Member = tuple[str, str]


def value(expr: str, sql_type: str = "VARCHAR") -> Member:
    return expr, sql_type


def text(literal: str) -> Member:
    return "'" + literal.replace("'", "''") + "'", "VARCHAR"


def integer(number: int) -> Member:
    return str(number), "INTEGER"


def row(when: str | None = None, **members: Member) -> Member:
    """An OCSF object; with ``when`` it is null unless the condition holds (OCSF leaves out an
    object a record has nothing for, rather than filling it with nulls)."""
    values = ", ".join(expr for expr, _ in members.values())
    shape = ", ".join(f"{name} {sql_type}" for name, (_, sql_type) in members.items())
    expr = f"CAST(ROW({values}) AS ROW({shape}))"
    if when is not None:
        expr = f"CASE WHEN {when} THEN {expr} END"
    return expr, f"ROW({shape})"


def case(
    subject: str,
    cases: Mapping[str, int | str] | Mapping[int, int | str],
    default: int | str | None,
) -> str:
    """``CASE subject WHEN ... END`` from a table of values."""

    def literal(v: int | str | None) -> str:
        if v is None:
            return "NULL"
        return str(v) if isinstance(v, int) else "'" + v.replace("'", "''") + "'"

    arms = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in cases.items())
    return f"CASE {subject} {arms} ELSE {literal(default)} END"


def select(columns: dict[str, Member], source: str, *where: str | None) -> str:
    listed = ",\n  ".join(f"{expr} AS {name}" for name, (expr, _) in columns.items())
    conditions = " AND ".join(f"({w})" for w in where if w)
    return f"SELECT\n  {listed}\nFROM {source}" + (f"\nWHERE {conditions}" if conditions else "")


# ---------------------------------------------------------------- pieces shared by the classes
def _json(column: str, path: str) -> str:
    return f"json_extract_scalar({column}, '$.{path}')"


def _millis(iso_text: str) -> str:
    return f"CAST(to_unixtime(from_iso8601_timestamp({iso_text})) * 1000 AS BIGINT)"


#: CloudTrail writes an address, or the name of the AWS service that made the call
_IS_ADDRESS = "regexp_like(sourceipaddress, '^[0-9.]+$|^[0-9A-Fa-f]*:[0-9A-Fa-f:.]*$')"


def _identity(prefix: str = "useridentity") -> Member:
    return row(
        type=value(f"{prefix}.type"),
        name=value(f"{prefix}.username"),
        uid=value(f"{prefix}.principalid"),
        uid_alt=value(f"{prefix}.arn"),
        credential_uid=value(f"{prefix}.accesskeyid"),
        account=row(uid=value(f"{prefix}.accountid")),
    )


def _classification(class_uid: int, class_name: str, category: tuple[int, str]) -> dict:
    return {
        "category_uid": integer(category[0]),
        "category_name": text(category[1]),
        "class_uid": integer(class_uid),
        "class_name": text(class_name),
        "severity_id": integer(1),
        "severity": text("Informational"),
    }


def _cloudtrail_common(class_uid: int, class_name: str, category: tuple[int, str]) -> dict:
    """Attributes every CloudTrail class carries: classification, time, metadata, the cloud
    profile (cloud, api), actor, source endpoint, request and status."""
    context = "useridentity.sessioncontext"
    return {
        **_classification(class_uid, class_name, category),
        "time": value(_millis("eventtime"), "BIGINT"),
        "time_dt": value("from_iso8601_timestamp(eventtime)", "TIMESTAMP"),
        "metadata": row(
            version=text(OCSF_VERSION),
            uid=value("eventid"),
            profiles=value("ARRAY['cloud', 'datetime']", "ARRAY(VARCHAR)"),
            product=row(
                name=text("CloudTrail"),
                vendor_name=text("AWS"),
                version=value("eventversion"),
                feature=row(name=value("eventcategory")),
            ),
        ),
        "cloud": row(
            provider=text("AWS"),
            region=value("awsregion"),
            account=row(uid=value("coalesce(recipientaccountid, account)")),
        ),
        "api": row(
            operation=value("eventname"),
            version=value("apiversion"),
            service=row(name=value("eventsource")),
            request=row(uid=value("requestid")),
            response=row(
                "errorcode IS NOT NULL OR errormessage IS NOT NULL",
                error=value("errorcode"),
                message=value("errormessage"),
            ),
        ),
        "actor": row(
            user=_identity(),
            session=row(
                f"{context}.attributes.creationdate IS NOT NULL OR "
                f"{context}.sessionissuer.arn IS NOT NULL",
                created_time=value(_millis(f"{context}.attributes.creationdate"), "BIGINT"),
                is_mfa=value(f"{context}.attributes.mfaauthenticated = 'true'", "BOOLEAN"),
                issuer=value(f"{context}.sessionissuer.arn"),
            ),
            invoked_by=value("useridentity.invokedby"),
            idp=row(
                "useridentity.identityprovider IS NOT NULL OR "
                f"{context}.webidfederationdata.federatedprovider IS NOT NULL",
                name=value(
                    "coalesce(useridentity.identityprovider, "
                    f"{context}.webidfederationdata.federatedprovider)"
                ),
            ),
        ),
        "src_endpoint": row(
            ip=value(f"CASE WHEN {_IS_ADDRESS} THEN sourceipaddress END"),
            domain=value(f"CASE WHEN NOT {_IS_ADDRESS} THEN sourceipaddress END"),
            uid=value("vpcendpointid"),
        ),
        "http_request": row(user_agent=value("useragent")),
        "unmapped": value(
            "map_filter(map(ARRAY['requestParameters', 'responseElements', "
            "'additionalEventData', 'serviceEventDetails', 'eventType', 'readOnly'], "
            "ARRAY[requestparameters, responseelements, additionaleventdata, "
            "serviceeventdetails, eventtype, readonly]), (k, v) -> v IS NOT NULL)",
            "MAP(VARCHAR, VARCHAR)",
        ),
    }


def _activity(class_uid: int, class_name: str, activity_id: str, activity_name: str) -> dict:
    return {
        "activity_id": value(activity_id, "INTEGER"),
        "activity_name": value(activity_name),
        "type_uid": value(f"CAST({class_uid * 100} + {activity_id} AS BIGINT)", "BIGINT"),
        "type_name": value(f"'{class_name}: ' || {activity_name}"),
    }


def _status(success: str, failure: str) -> dict:
    """status_id 1 Success / 2 Failure, else 99 Other with the source's own word."""
    word = f"CASE WHEN {success} THEN 'Success' WHEN {failure} THEN 'Failure' END"
    return {
        "status_id": value(
            f"CASE WHEN {success} THEN 1 WHEN {failure} THEN 2 ELSE 99 END", "INTEGER"
        ),
        "status": value(word),
    }


def _partitions() -> dict[str, Member]:
    """Security Lake's partition columns, so a query filters by them as it would there."""
    return {
        "accountid": value("account"),
        "eventday": value("replace(day, '-', '')"),
        "region": value("region"),
    }


# ---------------------------------------------------------------- which events are which class
#: sign-in events: the console and IAM Identity Center (all under signin.amazonaws.com)
SIGN_IN = "eventsource = 'signin.amazonaws.com'"
#: sign-in events that end a session rather than start one
LOGOFF_EVENTS = ("ExitRole", "ConsoleLogout", "Logout")

#: IAM user and role changes -> Account Change activity_id (OCSF 1.1.0 enumeration)
ACCOUNT_CHANGES: dict[str, int] = {
    "CreateUser": 1,
    "CreateRole": 1,
    "CreateLoginProfile": 2,
    "ChangePassword": 3,
    "UpdateLoginProfile": 4,
    "DeleteLoginProfile": 5,
    "DeleteUser": 6,
    "DeleteRole": 6,
    "AttachUserPolicy": 7,
    "AttachRolePolicy": 7,
    "PutUserPolicy": 7,
    "PutRolePolicy": 7,
    "DetachUserPolicy": 8,
    "DetachRolePolicy": 8,
    "DeleteUserPolicy": 8,
    "DeleteRolePolicy": 8,
    "EnableMFADevice": 10,
    "DeactivateMFADevice": 11,
}
ACCOUNT_CHANGE_NAMES: dict[int, str] = {
    1: "Create",
    2: "Enable",
    3: "Password Change",
    4: "Password Reset",
    5: "Disable",
    6: "Delete",
    7: "Attach Policy",
    8: "Detach Policy",
    10: "MFA Factor Enable",
    11: "MFA Factor Disable",
}
_ACCOUNT_CHANGE = "eventsource = 'iam.amazonaws.com' AND eventname IN ({})".format(
    ", ".join(f"'{name}'" for name in ACCOUNT_CHANGES)
)

#: API Activity: CloudTrail's readOnly flag decides Read; otherwise the verb the operation's
#: name starts with (CreateBucket, PutObject, ModifyInstanceAttribute, DeleteTrail, ...)
API_VERBS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "Create", ("Create", "Add", "Put", "Run", "Import", "Register", "Allocate", "Issue")),
    (2, "Read", ("Get", "Describe", "List", "Head", "Lookup", "Search", "Query", "Scan")),
    (3, "Update", ("Update", "Modify", "Set", "Change", "Replace", "Edit", "Patch", "Reset")),
    (4, "Delete", ("Delete", "Remove", "Terminate", "Deregister", "Release")),
)


def _verb_pattern(verbs: tuple[str, ...]) -> str:
    return "regexp_like(eventname, '^(" + "|".join(verbs) + ")([A-Z0-9]|$)')"


def api_activity_sql(database: str, where: str | None = None) -> str:
    arms = " ".join(f"WHEN {_verb_pattern(v)} THEN {uid}" for uid, _, v in API_VERBS)
    activity_id = f"CASE WHEN readonly = 'true' THEN 2 {arms} ELSE 99 END"
    names = {str(uid): name for uid, name, _ in API_VERBS}
    activity_name = case(f"CAST({activity_id} AS VARCHAR)", names, "Other")
    columns = {
        **_activity(6003, "API Activity", activity_id, activity_name),
        **_cloudtrail_common(6003, "API Activity", (6, "Application Activity")),
        **_status("errorcode IS NULL", "errorcode IS NOT NULL"),
        "status_code": value("errorcode"),
        "status_detail": value("errormessage"),
        "resources": value(
            "transform(resources, r -> CAST(ROW(r.arn, r.accountid, r.type) "
            "AS ROW(uid VARCHAR, account_uid VARCHAR, type VARCHAR)))",
            "ARRAY(ROW(uid VARCHAR, account_uid VARCHAR, type VARCHAR))",
        ),
        **_partitions(),
    }
    return select(
        columns, f"{database}.cloudtrail", f"NOT ({SIGN_IN}) AND NOT ({_ACCOUNT_CHANGE})", where
    )


def authentication_sql(database: str, where: str | None = None) -> str:
    logoff = ", ".join(f"'{name}'" for name in LOGOFF_EVENTS)
    activity_id = f"CASE WHEN eventname IN ({logoff}) THEN 2 ELSE 1 END"
    activity_name = f"CASE WHEN eventname IN ({logoff}) THEN 'Logoff' ELSE 'Logon' END"
    # the outcome: ConsoleLogin and SwitchRole answer in responseElements, Identity Center in
    # serviceEventDetails; an error code means a failure whatever the event
    outcome = (
        f"coalesce({_json('responseelements', 'ConsoleLogin')}, "
        f"{_json('responseelements', 'SwitchRole')}, "
        f"{_json('serviceeventdetails', 'CredentialVerification')}, "
        f"{_json('serviceeventdetails', 'UserAuthentication')}, "
        "CASE WHEN errorcode IS NOT NULL THEN 'Failure' ELSE 'Success' END)"
    )
    mfa = _json("additionaleventdata", "MFAUsed")
    columns = {
        **_activity(3002, "Authentication", activity_id, activity_name),
        **_cloudtrail_common(3002, "Authentication", (3, "Identity & Access Management")),
        "status_id": value(
            f"CASE {outcome} WHEN 'Success' THEN 1 WHEN 'Failure' THEN 2 ELSE 99 END", "INTEGER"
        ),
        "status": value(outcome),
        "status_code": value("errorcode"),
        "status_detail": value("errormessage"),
        "user": row(
            type=value("useridentity.type"),
            name=value(
                f"coalesce(useridentity.username, {_json('additionaleventdata', 'UserName')})"
            ),
            uid=value("useridentity.principalid"),
            uid_alt=value("useridentity.arn"),
            account=row(uid=value("useridentity.accountid")),
        ),
        "is_mfa": value(f"CASE {mfa} WHEN 'Yes' THEN true WHEN 'No' THEN false END", "BOOLEAN"),
        "is_remote": value("true", "BOOLEAN"),
        "service": row(name=value("eventsource")),
        "dst_endpoint": row(
            f"{_json('additionaleventdata', 'LoginTo')} IS NOT NULL",
            svc_name=value(_json("additionaleventdata", "LoginTo")),
        ),
        **_partitions(),
    }
    return select(columns, f"{database}.cloudtrail", SIGN_IN, where)


def account_change_sql(database: str, where: str | None = None) -> str:
    activity_id = case("eventname", dict(ACCOUNT_CHANGES), 99)
    activity_name = case(
        "eventname", {e: ACCOUNT_CHANGE_NAMES[i] for e, i in ACCOUNT_CHANGES.items()}, "Other"
    )
    param = lambda key: _json("requestparameters", key)  # noqa: E731
    response = lambda key: _json("responseelements", key)  # noqa: E731
    columns = {
        **_activity(3001, "Account Change", activity_id, activity_name),
        **_cloudtrail_common(3001, "Account Change", (3, "Identity & Access Management")),
        **_status("errorcode IS NULL", "errorcode IS NOT NULL"),
        "status_code": value("errorcode"),
        "status_detail": value("errormessage"),
        # the user or role the change was made to (the caller is the actor)
        "user": row(
            type=value(
                f"CASE WHEN {param('roleName')} IS NOT NULL THEN 'Role' "
                f"WHEN {param('userName')} IS NOT NULL THEN 'User' END"
            ),
            name=value(f"coalesce({param('userName')}, {param('roleName')})"),
            uid=value(f"coalesce({response('user.userId')}, {response('role.roleId')})"),
            uid_alt=value(f"coalesce({response('user.arn')}, {response('role.arn')})"),
        ),
        "policy": row(
            f"{param('policyArn')} IS NOT NULL OR {param('policyName')} IS NOT NULL",
            uid=value(param("policyArn")),
            name=value(
                f"coalesce({param('policyName')}, regexp_extract({param('policyArn')}, '[^/]+$'))"
            ),
        ),
        **_partitions(),
    }
    return select(columns, f"{database}.cloudtrail", _ACCOUNT_CHANGE, where)


# ---------------------------------------------------------------- VPC flow logs
#: traffic-path of a flow log (1..8) is OCSF's boundary_id minus 3 (4 Same VPC ... 11 Internet
#: Gateway)
BOUNDARIES: dict[int, str] = {
    4: "Same VPC",
    5: "Internet/VPC Gateway",
    6: "Virtual Private Gateway",
    7: "Intra-region VPC",
    8: "Inter-region VPC",
    9: "Local Gateway",
    10: "Gateway VPC",
    11: "Internet Gateway",
}


def _flow_endpoint(side: str, direction: str) -> Member:
    """src or dst endpoint: the packet's own address when a NAT or middlebox stood between
    (pkt-srcaddr differs from srcaddr), the interface's details on the side that owns it."""
    addr, pkt = f"{side}addr", f"pkt_{side}addr"
    mine = f"flow_direction = '{direction}'"
    return row(
        ip=value(f"coalesce({pkt}, {addr})"),
        port=value(f"{side}port", "INTEGER"),
        svc_name=value(f"pkt_{side}_aws_service"),
        intermediate_ips=value(
            f"CASE WHEN {pkt} IS NOT NULL AND {pkt} <> {addr} THEN ARRAY[{addr}] END",
            "ARRAY(VARCHAR)",
        ),
        interface_uid=value(f"CASE WHEN {mine} THEN interface_id END"),
        vpc_uid=value(f"CASE WHEN {mine} THEN vpc_id END"),
        subnet_uid=value(f"CASE WHEN {mine} THEN subnet_id END"),
        instance_uid=value(f"CASE WHEN {mine} THEN instance_id END"),
    )


def network_activity_sql(database: str, where: str | None = None) -> str:
    boundary_id = "traffic_path + 3"
    columns = {
        **_activity(4001, "Network Activity", "6", "'Traffic'"),
        **_classification(4001, "Network Activity", (4, "Network Activity")),
        "time": value('"start" * 1000', "BIGINT"),
        "time_dt": value('from_unixtime("start")', "TIMESTAMP"),
        "start_time": value('"start" * 1000', "BIGINT"),
        "end_time": value('"end" * 1000', "BIGINT"),
        "metadata": row(
            version=text(OCSF_VERSION),
            profiles=value("ARRAY['cloud', 'security_control', 'datetime']", "ARRAY(VARCHAR)"),
            product=row(
                name=text("Amazon VPC"),
                vendor_name=text("AWS"),
                version=value("CAST(version AS VARCHAR)"),
                feature=row(name=text("Flowlogs")),
            ),
        ),
        "cloud": row(
            provider=text("AWS"),
            region=value("region"),
            zone=value("az_id"),
            account=row(uid=value("coalesce(account_id, account)")),
        ),
        "src_endpoint": _flow_endpoint("src", "egress"),
        "dst_endpoint": _flow_endpoint("dst", "ingress"),
        "connection_info": row(
            protocol_num=value("CAST(protocol AS INTEGER)", "INTEGER"),
            tcp_flags=value("tcp_flags", "INTEGER"),
            direction_id=value(case("flow_direction", {"ingress": 1, "egress": 2}, 0), "INTEGER"),
            direction=value(
                case("flow_direction", {"ingress": "Inbound", "egress": "Outbound"}, "Unknown")
            ),
            boundary_id=value(boundary_id, "INTEGER"),
            boundary=value(case(boundary_id, dict(BOUNDARIES), None)),
            protocol_ver_id=value(case('"type"', {"IPv4": 4, "IPv6": 6}, None), "INTEGER"),
        ),
        "traffic": row(packets=value("packets", "BIGINT"), bytes=value('"bytes"', "BIGINT")),
        "action_id": value(case("action", {"ACCEPT": 1, "REJECT": 2}, 0), "INTEGER"),
        "action": value(case("action", {"ACCEPT": "Allowed", "REJECT": "Denied"}, "Unknown")),
        "disposition_id": value(case("action", {"ACCEPT": 1, "REJECT": 2}, 0), "INTEGER"),
        "disposition": value(case("action", {"ACCEPT": "Allowed", "REJECT": "Blocked"}, "Unknown")),
        "status_code": value("log_status"),
        "status_id": value("CASE WHEN log_status = 'OK' THEN 1 ELSE 99 END", "INTEGER"),
        "status": value("CASE WHEN log_status = 'OK' THEN 'Success' ELSE log_status END"),
        "unmapped": value(
            "map_filter(map(ARRAY['interface_id', 'vpc_id', 'subnet_id', 'instance_id', "
            "'reject_reason'], ARRAY[interface_id, vpc_id, subnet_id, instance_id, "
            "reject_reason]), (k, v) -> v IS NOT NULL)",
            "MAP(VARCHAR, VARCHAR)",
        ),
        **_partitions(),
    }
    return select(columns, f"{database}.vpc_flow_logs", where)


# ---------------------------------------------------------------- the views in the catalog
@dataclass(frozen=True)
class OcsfClass:
    """One OCSF event class as a view: its name, uid and the table it reads."""

    view: str
    class_uid: int
    class_name: str
    table: str
    sql: Callable[[str, str | None], str]  # the view's SQL for a database, and a filter

    def view_sql(self, database: str, where: str | None = None) -> str:
        """The view's SELECT; ``where`` (over the source table's columns, such as its ``day``
        partition) narrows it so that partitions are pruned before anything is mapped."""
        return self.sql(database, where)


CLASSES: tuple[OcsfClass, ...] = (
    OcsfClass("ocsf_api_activity", 6003, "API Activity", "cloudtrail", api_activity_sql),
    OcsfClass("ocsf_authentication", 3002, "Authentication", "cloudtrail", authentication_sql),
    OcsfClass("ocsf_account_change", 3001, "Account Change", "cloudtrail", account_change_sql),
    OcsfClass(
        "ocsf_network_activity", 4001, "Network Activity", "vpc_flow_logs", network_activity_sql
    ),
)


def views_over(table: str) -> dict[str, Callable[[str], str]]:
    """The OCSF views over ``table``, for its source's record (ingest creates them beside it,
    and brings them up to date when a mapping changes)."""
    return {ocsf.view: ocsf.view_sql for ocsf in CLASSES if ocsf.table == table}
