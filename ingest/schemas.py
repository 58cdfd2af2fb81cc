"""Arrow schemas of the ingested tables, with Athena's documented column names and types.

Each source schema is declared once, as a list of ``(json_key, column_name, type)`` entries; the
parsers read raw JSON with the JSON keys (case-sensitive in the readers) and rename to the
lower-case Athena names, so a query copied from AWS documentation runs unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa
from polars.datatypes import DataTypeClass

#: partition columns shared by every ingested table (see docs/ingest.md)
PARTITION_COLUMNS = ("account", "region", "day")
#: lineage column: the URL of the raw object a row came from
SOURCE_KEY = "source_key"
#: JSON object holding every field of a record that the schema does not name
EXTRA_FIELDS = "extrafields"


@dataclass(frozen=True)
class Field:
    """A JSON key read from the raw record and the column (or struct member) it becomes."""

    key: str
    name: str
    type: object  # a polars dtype or a nested list of Field

    def polars_read_type(self) -> pl.DataType:
        """Type used when reading raw JSON: nested objects keep their JSON keys."""
        if isinstance(self.type, list):
            return pl.Struct({f.key: f.polars_read_type() for f in self.type})
        if isinstance(self.type, tuple):  # ("list", [fields])
            return pl.List(pl.Struct({f.key: f.polars_read_type() for f in self.type[1]}))
        return self.type  # type: ignore[return-value]

    def polars_type(self) -> pl.DataType:
        """Type of the stored column: nested members renamed to Athena's names."""
        if isinstance(self.type, list):
            return pl.Struct({f.name: f.polars_type() for f in self.type})
        if isinstance(self.type, tuple):
            return pl.List(pl.Struct({f.name: f.polars_type() for f in self.type[1]}))
        return self.type  # type: ignore[return-value]


S = pl.String


def _s(*keys: str) -> list[Field]:
    return [Field(k, k.lower(), S) for k in keys]


# ---------------------------------------------------------------- CloudTrail (aws-formats §2.1)
SESSION_ISSUER = _s("type", "principalId", "arn", "accountId", "userName")
SESSION_CONTEXT = [
    Field("attributes", "attributes", _s("mfaAuthenticated", "creationDate")),
    Field("sessionIssuer", "sessionissuer", SESSION_ISSUER),
    Field("ec2RoleDelivery", "ec2roledelivery", S),
    # attributes is a MAP<STRING,STRING> in Athena; read as JSON text, converted after parsing
    Field(
        "webIdFederationData",
        "webidfederationdata",
        [Field("federatedProvider", "federatedprovider", S), Field("attributes", "attributes", S)],
    ),
    # newer members Athena's DDL does not list; kept so nothing is lost
    Field("sourceIdentity", "sourceidentity", S),
    Field("assumedRoot", "assumedroot", S),
    Field("signInSessionArn", "signinsessionarn", S),
]
USER_IDENTITY = [
    *_s("type", "principalId", "arn", "accountId", "invokedBy", "accessKeyId", "userName"),
    Field("onBehalfOf", "onbehalfof", _s("userId", "identityStoreArn")),
    Field("sessionContext", "sessioncontext", SESSION_CONTEXT),
    # not in Athena's DDL (aws-formats §2.1 note); kept anyway
    Field(
        "inScopeOf",
        "inscopeof",
        _s(
            "sourceArn",
            "sourceAccount",
            "issuerType",
            "credentialsIssuedTo",
            "credentialsIssuedToVersion",
        ),
    ),
    Field("credentialId", "credentialid", S),
    Field("identityProvider", "identityprovider", S),
    Field("invokedByDelegate", "invokedbydelegate", _s("accountId")),
]
CLOUDTRAIL_FIELDS: list[Field] = [
    Field("eventVersion", "eventversion", S),
    Field("userIdentity", "useridentity", USER_IDENTITY),
    *_s(
        "eventTime",
        "eventSource",
        "eventName",
        "awsRegion",
        "sourceIPAddress",
        "userAgent",
        "errorCode",
        "errorMessage",
        "requestParameters",
        "responseElements",
        "additionalEventData",
        "requestID",
        "eventID",
    ),
    Field("resources", "resources", ("list", _s("ARN", "accountId", "type"))),
    *_s(
        "eventType",
        "apiVersion",
        "readOnly",
        "recipientAccountId",
        "serviceEventDetails",
        "sharedEventID",
        "vpcEndpointId",
        "vpcEndpointAccountId",
        "eventCategory",
    ),
    Field(
        "addendum",
        "addendum",
        _s("reason", "updatedFields", "originalRequestID", "originalEventID"),
    ),
    *_s("sessionCredentialFromConsole", "edgeDeviceDetails"),
    Field(
        "tlsDetails",
        "tlsdetails",
        _s("tlsVersion", "cipherSuite", "clientProvidedHostHeader", "keyExchange"),
    ),
    # kept although Athena's documented table has no column for them
    Field("managementEvent", "managementevent", pl.Boolean),
    Field("insightDetails", "insightdetails", S),
    Field("eventContext", "eventcontext", S),
]
#: members that hold arbitrary JSON objects and are stored as JSON text (as Athena declares them)
CLOUDTRAIL_JSON_COLUMNS = (
    "requestparameters",
    "responseelements",
    "additionaleventdata",
    "serviceeventdetails",
    "edgedevicedetails",
    "insightdetails",
    "eventcontext",
)

# ---------------------------------------------------------------- VPC flow logs (aws-formats §4.2)
#: (field name as in the header, Athena column, Arrow type); order = AWS's documented order
VPC_FLOW_FIELDS: list[tuple[str, str, pa.DataType]] = [
    ("version", "version", pa.int32()),
    ("account-id", "account_id", pa.string()),
    ("interface-id", "interface_id", pa.string()),
    ("srcaddr", "srcaddr", pa.string()),
    ("dstaddr", "dstaddr", pa.string()),
    ("srcport", "srcport", pa.int32()),
    ("dstport", "dstport", pa.int32()),
    ("protocol", "protocol", pa.int64()),
    ("packets", "packets", pa.int64()),
    ("bytes", "bytes", pa.int64()),
    ("start", "start", pa.int64()),
    ("end", "end", pa.int64()),
    ("action", "action", pa.string()),
    ("log-status", "log_status", pa.string()),
    ("vpc-id", "vpc_id", pa.string()),
    ("subnet-id", "subnet_id", pa.string()),
    ("instance-id", "instance_id", pa.string()),
    ("tcp-flags", "tcp_flags", pa.int32()),
    ("type", "type", pa.string()),
    ("pkt-srcaddr", "pkt_srcaddr", pa.string()),
    ("pkt-dstaddr", "pkt_dstaddr", pa.string()),
    # "region" (v4) becomes the partition column of the same name, as in Athena's
    # partition-projection table; its value is the record's region when present
    ("az-id", "az_id", pa.string()),
    ("sublocation-type", "sublocation_type", pa.string()),
    ("sublocation-id", "sublocation_id", pa.string()),
    ("pkt-src-aws-service", "pkt_src_aws_service", pa.string()),
    ("pkt-dst-aws-service", "pkt_dst_aws_service", pa.string()),
    ("flow-direction", "flow_direction", pa.string()),
    ("traffic-path", "traffic_path", pa.int32()),
    ("ecs-cluster-arn", "ecs_cluster_arn", pa.string()),
    ("ecs-cluster-name", "ecs_cluster_name", pa.string()),
    ("ecs-container-instance-arn", "ecs_container_instance_arn", pa.string()),
    ("ecs-container-instance-id", "ecs_container_instance_id", pa.string()),
    ("ecs-container-id", "ecs_container_id", pa.string()),
    ("ecs-second-container-id", "ecs_second_container_id", pa.string()),
    ("ecs-service-name", "ecs_service_name", pa.string()),
    ("ecs-task-definition-arn", "ecs_task_definition_arn", pa.string()),
    ("ecs-task-arn", "ecs_task_arn", pa.string()),
    ("ecs-task-id", "ecs_task_id", pa.string()),
    ("reject-reason", "reject_reason", pa.string()),
]

# ---------------------------------------------------------------- AWS Config (aws-formats §5)
#: S3-delivery spelling, API spelling, column, polars read type
CONFIG_FIELDS: list[tuple[str, str | None, str, pl.DataType | DataTypeClass]] = [
    ("configurationItemVersion", "version", "configurationitemversion", S),
    ("configurationItemCaptureTime", None, "configurationitemcapturetime", S),
    ("configurationStateId", None, "configurationstateid", S),
    ("awsAccountId", "accountId", "awsaccountid", S),
    ("configurationItemStatus", None, "configurationitemstatus", S),
    ("resourceType", None, "resourcetype", S),
    ("resourceId", None, "resourceid", S),
    ("resourceName", None, "resourcename", S),
    ("ARN", "arn", "arn", S),
    ("awsRegion", None, "awsregion", S),
    ("availabilityZone", None, "availabilityzone", S),
    ("configurationStateMd5Hash", "configurationItemMD5Hash", "configurationstatemd5hash", S),
    ("configuration", None, "configuration", S),
    ("supplementaryConfiguration", None, "supplementaryconfiguration", S),
    ("tags", None, "tags", S),
    ("resourceCreationTime", None, "resourcecreationtime", S),
    ("relatedEvents", None, "relatedevents", pl.List(S)),
    (
        "relationships",
        None,
        "relationships",
        pl.List(
            pl.Struct(
                {
                    "resourceType": S,
                    "resourceId": S,
                    "resourceName": S,
                    "name": S,
                    "relationshipName": S,
                }
            )
        ),
    ),
    ("configurationItemDeliveryTime", None, "configurationitemdeliverytime", S),
    ("recordingFrequency", None, "recordingfrequency", S),
]


def pl_to_arrow(dtype: pl.DataType | DataTypeClass) -> pa.DataType:
    if dtype == pl.String:
        return pa.string()
    if dtype == pl.Boolean:
        return pa.bool_()
    if dtype == pl.Int32:
        return pa.int32()
    if dtype == pl.Int64:
        return pa.int64()
    if isinstance(dtype, pl.List):
        return pa.list_(pl_to_arrow(dtype.inner))
    if isinstance(dtype, pl.Struct):
        return pa.struct([pa.field(f.name, pl_to_arrow(f.dtype)) for f in dtype.fields])
    raise TypeError(f"no Arrow type for {dtype}")


def _map(value: pa.DataType = pa.string()) -> pa.DataType:
    return pa.map_(pa.string(), value)


def table_schema(fields: list[pa.Field]) -> pa.Schema:
    """A table of these columns, then the columns every ingested table ends with."""
    return pa.schema(
        [
            *fields,
            pa.field(EXTRA_FIELDS, pa.string()),
            pa.field(SOURCE_KEY, pa.string()),
            *(pa.field(p, pa.string()) for p in PARTITION_COLUMNS),
        ]
    )


def _cloudtrail_schema() -> pa.Schema:
    fields = []
    for f in CLOUDTRAIL_FIELDS:
        t = pl_to_arrow(f.polars_type())
        if f.name == "useridentity":
            t = _replace_webid_attributes(t)
        fields.append(pa.field(f.name, t))
    return table_schema(fields)


def _replace_webid_attributes(useridentity: pa.StructType) -> pa.DataType:
    """useridentity.sessioncontext.webidfederationdata.attributes is MAP<STRING,STRING>."""

    def rebuild(t: pa.DataType, path: tuple[str, ...]) -> pa.DataType:
        if not path:
            return _map()
        return pa.struct(
            [
                pa.field(f.name, rebuild(f.type, path[1:]) if f.name == path[0] else f.type)
                for f in t
            ]
        )

    return rebuild(useridentity, ("sessioncontext", "webidfederationdata", "attributes"))


CLOUDTRAIL_SCHEMA = _cloudtrail_schema()

VPC_FLOW_SCHEMA = table_schema([pa.field(name, t) for _, name, t in VPC_FLOW_FIELDS])

CONFIG_SCHEMA = table_schema(
    [
        pa.field("configurationitemversion", pa.string()),
        pa.field("configurationitemcapturetime", pa.string()),
        pa.field("configurationstateid", pa.int64()),
        pa.field("awsaccountid", pa.string()),
        pa.field("configurationitemstatus", pa.string()),
        pa.field("resourcetype", pa.string()),
        pa.field("resourceid", pa.string()),
        pa.field("resourcename", pa.string()),
        pa.field("arn", pa.string()),
        pa.field("awsregion", pa.string()),
        pa.field("availabilityzone", pa.string()),
        pa.field("configurationstatemd5hash", pa.string()),
        pa.field("configuration", pa.string()),
        pa.field("supplementaryconfiguration", pa.string()),
        pa.field("tags", _map()),
        pa.field("resourcecreationtime", pa.string()),
        pa.field("relatedevents", pa.list_(pa.string())),
        pa.field(
            "relationships",
            pa.list_(
                pa.struct(
                    [
                        pa.field("resourcetype", pa.string()),
                        pa.field("resourceid", pa.string()),
                        pa.field("resourcename", pa.string()),
                        pa.field("name", pa.string()),
                    ]
                )
            ),
        ),
        pa.field("configurationitemdeliverytime", pa.string()),
        pa.field("recordingfrequency", pa.string()),
        pa.field("fileversion", pa.string()),
        pa.field("configsnapshotid", pa.string()),
        pa.field("filetype", pa.string()),
    ]
)

CLOUDWATCH_SCHEMA = table_schema(
    [
        pa.field("loggroup", pa.string()),
        pa.field("logstream", pa.string()),
        pa.field("eventid", pa.string()),
        pa.field("timestamp", pa.int64()),
        pa.field("eventtime", pa.timestamp("ms", tz="UTC")),
        pa.field("message", pa.string()),
        pa.field("owner", pa.string()),
        pa.field("subscriptionfilters", pa.list_(pa.string())),
        pa.field("extractedfields", pa.string()),
        pa.field("exporttaskid", pa.string()),
        pa.field("source", pa.string()),
    ]
)


@dataclass(frozen=True)
class TableSpec:
    """A destination table: its name in the catalog, schema and the column rows are sorted by
    (each source's record lists its tables, see ``loglake.ingest.source``)."""

    name: str
    schema: pa.Schema
    sort_by: str
    comment: str


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Columns of ``schema`` in its order; missing ones become nulls, types are cast."""
    columns = []
    for field in schema:
        if field.name in table.column_names:
            column = table.column(field.name)
            if column.type != field.type:
                column = column.cast(field.type)
            columns.append(column)
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)
