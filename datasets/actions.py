"""The API calls the baseline makes: request/response shapes, resources and typical errors.

Each :class:`Action` knows how to produce a few concrete variants of its ``requestParameters``,
``responseElements``, ``resources`` and ``additionalEventData`` for one account and region; the
CloudTrail generator serialises those variants once and reuses them for millions of events.
Nothing here is a scenario signature: the baseline never logs in as root, never stops a trail,
never schedules a key deletion and never fails a console login.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._util import stable_hash
from .world import RegionEnv

Params = Callable[[RegionEnv, random.Random], Any]


@dataclass(frozen=True)
class Action:
    service: str
    name: str
    read_only: bool = True
    request: Params | None = None
    response: Params | None = None
    resources: Params | None = None
    additional: Params | None = None
    errors: tuple[tuple[float, str, str], ...] = ()
    data_event: bool = False
    global_service: bool = False
    api_version: str | None = None
    variants: int = 6
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def event_source(self) -> str:
        return {"cloudwatch": "monitoring"}.get(self.service, self.service) + ".amazonaws.com"

    def host(self, env: RegionEnv) -> str:
        if self.global_service:
            return f"{self.service}.amazonaws.com"
        return f"{self.service if self.service != 'cloudwatch' else 'monitoring'}.{env.region}.amazonaws.com"


def _instance(env: RegionEnv, rng: random.Random) -> str:
    return rng.choice(env.instances).id


def _bucket(env: RegionEnv, rng: random.Random) -> Any:
    return rng.choice(env.buckets)


def _s3_object(env: RegionEnv, rng: random.Random, purpose: str | None = None) -> tuple[Any, str]:
    choices = [b for b in env.buckets if purpose is None or b.purpose == purpose] or env.buckets
    bucket = rng.choice(choices)
    prefix = rng.choice(bucket.key_prefixes)
    ext = {"assets": ".js", "customer-data": ".csv", "backups": ".tar.gz"}.get(
        bucket.purpose, ".json"
    )
    name = f"{prefix}{rng.choice(['part', 'file', 'batch', 'obj'])}-{rng.randrange(10000):05d}{ext}"
    return bucket, name


def _s3_aed(rng: random.Random, out_bytes: int, in_bytes: int = 0) -> dict[str, Any]:
    return {
        "SignatureVersion": "SigV4",
        "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": in_bytes,
        "AuthenticationMethod": "AuthHeader",
        "x-amz-id-2": "".join(
            rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", k=76)
        )
        + "=",
        "bytesTransferredOut": out_bytes,
    }


def s3_object_call(
    name: str,
    env: RegionEnv,
    rng: random.Random,
    purpose: str | None = None,
    size: int | None = None,
) -> dict[str, Any]:
    """Request, resources and additionalEventData of one S3 object-level call (data event)."""
    bucket, key = _s3_object(env, rng, purpose)
    size = size if size is not None else int(rng.lognormvariate(10, 1.6)) + 200
    host = f"{bucket.name}.s3.{env.region}.amazonaws.com"
    out_bytes = size if name == "GetObject" else 0
    in_bytes = size if name == "PutObject" else 0
    return {
        "request": {"bucketName": bucket.name, "Host": host, "key": key},
        "resources": [
            {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket.name}/{key}"},
            {
                "accountId": env.account.id,
                "type": "AWS::S3::Bucket",
                "ARN": f"arn:aws:s3:::{bucket.name}",
            },
        ],
        "additional": _s3_aed(rng, out_bytes, in_bytes),
        "host": host,
        "bucket": bucket.name,
        "key": key,
        "bytes": size,
    }


def _kms_resources(env: RegionEnv, rng: random.Random) -> list[dict[str, str]]:
    key = rng.choice(env.kms_keys[:2])
    return [{"accountId": env.account.id, "type": "AWS::KMS::Key", "ARN": key.arn}]


_EC2_AUTH = (
    0.004,
    "Client.UnauthorizedOperation",
    "You are not authorized to perform this operation. User: {arn} is not authorized to perform: ec2:{name} because no identity-based policy allows the ec2:{name} action",
)
_THROTTLE = (0.003, "Client.RequestLimitExceeded", "Request limit exceeded.")
_IAM_DENY = (
    0.01,
    "AccessDenied",
    "User: {arn} is not authorized to perform: iam:{name} on resource: arn:aws:iam::{account}:user/{target} because no identity-based policy allows the iam:{name} action",
)


def _filter(name: str, values: list[str]) -> dict[str, Any]:
    return {"name": name, "valueSet": {"items": [{"value": v} for v in values]}}


ACTIONS: dict[str, Action] = {}


def _add(a: Action) -> None:
    ACTIONS[f"{a.service}:{a.name}"] = a


for _a in (
    Action(
        "ec2",
        "DescribeInstances",
        request=lambda e, r: {
            "instancesSet": {"items": [{"instanceId": _instance(e, r)}]}
            if r.random() < 0.5
            else {},
            "filterSet": {"items": [_filter("instance-state-name", ["running", "pending"])]}
            if r.random() < 0.5
            else {},
        },
        errors=(_EC2_AUTH, _THROTTLE),
    ),
    Action(
        "ec2",
        "DescribeSecurityGroups",
        request=lambda e, r: {
            "securityGroupSet": {},
            "securityGroupIdSet": {"items": [{"groupId": r.choice(list(e.sgs))}]},
            "filterSet": {},
        },
        errors=(_EC2_AUTH,),
    ),
    Action(
        "ec2",
        "DescribeVpcs",
        request=lambda e, r: {"vpcSet": {"items": [{"vpcId": e.vpc_id}]}, "filterSet": {}},
    ),
    Action(
        "ec2",
        "DescribeSubnets",
        request=lambda e, r: {
            "subnetSet": {},
            "filterSet": {"items": [_filter("vpc-id", [e.vpc_id])]},
        },
    ),
    Action(
        "ec2",
        "DescribeVolumes",
        request=lambda e, r: {
            "volumeSet": {"items": [{"volumeId": r.choice(list(e.volumes))}]},
            "filterSet": {},
        },
    ),
    Action(
        "ec2",
        "DescribeNetworkInterfaces",
        request=lambda e, r: {
            "networkInterfaceIdSet": {"items": [{"networkInterfaceId": r.choice(e.instances).eni}]},
            "filterSet": {},
        },
    ),
    Action(
        "ec2",
        "DescribeRouteTables",
        request=lambda e, r: {
            "routeTableIdSet": {},
            "filterSet": {"items": [_filter("vpc-id", [e.vpc_id])]},
        },
    ),
    Action(
        "ec2",
        "DescribeImages",
        request=lambda e, r: {
            "executableBySet": {},
            "imagesSet": {"items": [{"imageId": e.instances[0].ami}]},
            "ownersSet": {},
            "filterSet": {},
        },
    ),
    Action(
        "ec2",
        "DescribeInstanceStatus",
        request=lambda e, r: {"instancesSet": {}, "filterSet": {}, "includeAllInstances": False},
    ),
    Action(
        "ec2",
        "DescribeAvailabilityZones",
        request=lambda e, r: {"availabilityZoneSet": {}, "availabilityZoneIdSet": {}},
    ),
    Action(
        "ec2",
        "DescribeTags",
        request=lambda e, r: {"filterSet": {"items": [_filter("resource-id", [_instance(e, r)])]}},
    ),
    Action(
        "ec2",
        "DescribeAddresses",
        request=lambda e, r: {"publicIpsSet": {}, "allocationIdsSet": {}, "filterSet": {}},
    ),
    Action(
        "s3",
        "ListBuckets",
        request=lambda e, r: {"Host": "s3.amazonaws.com"},
        additional=lambda e, r: _s3_aed(r, r.randrange(2000, 9000)),
    ),
    Action(
        "s3",
        "GetBucketLocation",
        request=lambda e, r: {
            "bucketName": _bucket(e, r).name,
            "Host": f"{_bucket(e, r).name}.s3.amazonaws.com",
            "location": "",
        },
        additional=lambda e, r: _s3_aed(r, 137),
    ),
    Action(
        "s3",
        "GetBucketPolicy",
        request=lambda e, r: {
            "bucketName": _bucket(e, r).name,
            "Host": f"{_bucket(e, r).name}.s3.{e.region}.amazonaws.com",
            "policy": "",
        },
        additional=lambda e, r: _s3_aed(r, 0),
        errors=((0.3, "NoSuchBucketPolicy", "The bucket policy does not exist"),),
    ),
    Action(
        "s3",
        "GetBucketAcl",
        request=lambda e, r: {
            "bucketName": _bucket(e, r).name,
            "Host": f"{_bucket(e, r).name}.s3.{e.region}.amazonaws.com",
            "acl": "",
        },
        additional=lambda e, r: _s3_aed(r, 562),
    ),
    Action(
        "s3",
        "GetBucketVersioning",
        request=lambda e, r: {
            "bucketName": _bucket(e, r).name,
            "Host": f"{_bucket(e, r).name}.s3.{e.region}.amazonaws.com",
            "versioning": "",
        },
        additional=lambda e, r: _s3_aed(r, 113),
    ),
    Action(
        "s3",
        "GetBucketEncryption",
        request=lambda e, r: {
            "bucketName": _bucket(e, r).name,
            "Host": f"{_bucket(e, r).name}.s3.{e.region}.amazonaws.com",
            "encryption": "",
        },
        additional=lambda e, r: _s3_aed(r, 250),
    ),
    Action(
        "s3",
        "GetBucketPublicAccessBlock",
        request=lambda e, r: {
            "bucketName": _bucket(e, r).name,
            "Host": f"{_bucket(e, r).name}.s3.{e.region}.amazonaws.com",
            "publicAccessBlock": "",
        },
        additional=lambda e, r: _s3_aed(r, 300),
    ),
    Action(
        "s3",
        "GetBucketTagging",
        request=lambda e, r: {
            "bucketName": _bucket(e, r).name,
            "Host": f"{_bucket(e, r).name}.s3.{e.region}.amazonaws.com",
            "tagging": "",
        },
        additional=lambda e, r: _s3_aed(r, 280),
    ),
    Action(
        "iam",
        "GetUser",
        global_service=True,
        request=lambda e, r: {"userName": r.choice(list(e.account.users))},
        errors=((0.01, "NoSuchEntityException", "The user with name {target} cannot be found."),),
    ),
    Action("iam", "ListUsers", global_service=True, request=lambda e, r: None),
    Action(
        "iam",
        "ListRoles",
        global_service=True,
        request=lambda e, r: {"maxItems": 100} if r.random() < 0.5 else None,
    ),
    Action(
        "iam",
        "GetRole",
        global_service=True,
        request=lambda e, r: {"roleName": r.choice(list(e.account.roles))},
    ),
    Action(
        "iam",
        "ListAttachedRolePolicies",
        global_service=True,
        request=lambda e, r: {"roleName": r.choice(list(e.account.roles))},
    ),
    Action(
        "iam",
        "ListAttachedUserPolicies",
        global_service=True,
        request=lambda e, r: {"userName": r.choice(list(e.account.users))},
        errors=(_IAM_DENY,),
    ),
    Action(
        "iam",
        "ListAccessKeys",
        global_service=True,
        request=lambda e, r: {"userName": r.choice(list(e.account.users))},
        errors=(_IAM_DENY,),
    ),
    Action(
        "iam",
        "ListMFADevices",
        global_service=True,
        request=lambda e, r: {"userName": r.choice(list(e.account.users))},
    ),
    Action("iam", "GetAccountSummary", global_service=True, request=lambda e, r: None),
    Action(
        "iam",
        "GetPolicyVersion",
        global_service=True,
        request=lambda e, r: {
            "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "versionId": "v114",
        },
    ),
    Action("sts", "GetCallerIdentity", request=lambda e, r: None),
    Action(
        "kms",
        "Decrypt",
        request=lambda e, r: {
            "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "encryptionContext": {"aws:s3:arn": f"arn:aws:s3:::{_bucket(e, r).name}"},
        },
        resources=_kms_resources,
        errors=(
            (
                0.002,
                "AccessDeniedException",
                "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.",
            ),
        ),
    ),
    Action(
        "kms",
        "GenerateDataKey",
        request=lambda e, r: {
            "keyId": r.choice(e.kms_keys[:2]).arn,
            "keySpec": "AES_256",
            "encryptionContext": {"aws:s3:arn": f"arn:aws:s3:::{_bucket(e, r).name}"},
        },
        resources=_kms_resources,
    ),
    Action(
        "kms",
        "DescribeKey",
        request=lambda e, r: {"keyId": r.choice(e.kms_keys).alias},
        resources=_kms_resources,
    ),
    Action("kms", "ListAliases", request=lambda e, r: None),
    Action(
        "ssm",
        "GetParameter",
        request=lambda e, r: {
            "name": r.choice(
                [
                    "/acme/app/db-host",
                    "/acme/app/feature-flags",
                    "/acme/app/log-level",
                    "/acme/app/api-url",
                ]
            ),
            "withDecryption": r.random() < 0.3,
        },
        errors=((0.005, "ParameterNotFound", ""),),
    ),
    Action("ssm", "DescribeInstanceInformation", request=lambda e, r: {"maxResults": 50}),
    Action(
        "ssm",
        "UpdateInstanceInformation",
        read_only=False,
        request=lambda e, r: {
            "instanceId": _instance(e, r),
            "agentVersion": "3.3.380.0",
            "agentStatus": "Active",
            "platformType": "Linux",
            "platformName": "Amazon Linux",
            "platformVersion": "2023",
            "iPAddress": r.choice(e.instances).private_ip,
            "computerName": "ip-10-0-0-1.ec2.internal",
            "agentName": "amazon-ssm-agent",
            "availabilityZone": e.instances[0].az,
        },
    ),
    Action(
        "ssm",
        "ListInstanceAssociations",
        request=lambda e, r: {"instanceId": _instance(e, r), "maxResults": 20},
    ),
    Action(
        "secretsmanager",
        "GetSecretValue",
        request=lambda e, r: {
            "secretId": f"arn:aws:secretsmanager:{e.region}:{e.account.id}:secret:acme/{r.choice(['db', 'stripe', 'sendgrid'])}-credentials-{r.choice(['a1B2c3', 'Zx9Yw8', 'Qp7Rs6'])}"
        },
    ),
    Action("secretsmanager", "ListSecrets", request=lambda e, r: None),
    Action(
        "logs",
        "DescribeLogGroups",
        request=lambda e, r: {"logGroupNamePrefix": r.choice(e.log_groups)},
    ),
    Action(
        "logs",
        "DescribeLogStreams",
        request=lambda e, r: {
            "logGroupName": r.choice(e.log_groups),
            "orderBy": "LastEventTime",
            "descending": True,
        },
    ),
    Action(
        "logs",
        "FilterLogEvents",
        request=lambda e, r: {
            "logGroupName": r.choice(e.log_groups),
            "filterPattern": r.choice(["ERROR", '"status":500', "timeout"]),
            "limit": 100,
        },
    ),
    Action("cloudwatch", "DescribeAlarms", request=lambda e, r: {"maxRecords": 100}),
    Action(
        "cloudwatch",
        "GetMetricData",
        request=lambda e, r: {
            "startTime": "",
            "endTime": "",
            "metricDataQueries": [
                {
                    "id": "m1",
                    "metricStat": {
                        "metric": {"namespace": "AWS/EC2", "metricName": "CPUUtilization"},
                        "period": 300,
                        "stat": "Average",
                    },
                }
            ],
        },
    ),
    Action(
        "cloudwatch",
        "ListMetrics",
        request=lambda e, r: {"namespace": r.choice(["AWS/EC2", "AWS/S3", "AWS/ApplicationELB"])},
    ),
    Action("cloudtrail", "DescribeTrails", request=lambda e, r: {"includeShadowTrails": True}),
    Action("cloudtrail", "GetTrailStatus", request=lambda e, r: {"name": "organization-trail"}),
    Action(
        "cloudtrail",
        "LookupEvents",
        request=lambda e, r: {
            "maxResults": 50,
            "lookupAttributes": [
                {
                    "attributeKey": "EventName",
                    "attributeValue": r.choice(["RunInstances", "ConsoleLogin", "CreateUser"]),
                }
            ],
        },
    ),
    Action("config", "DescribeConfigRules", request=lambda e, r: None),
    Action(
        "config",
        "DescribeComplianceByConfigRule",
        request=lambda e, r: {"complianceTypes": ["NON_COMPLIANT"]},
    ),
    Action("lambda", "ListFunctions20150331", request=lambda e, r: None, api_version="2015-03-31"),
    Action(
        "lambda",
        "GetFunction20150331v2",
        request=lambda e, r: {"functionName": r.choice(e.lambda_functions)},
        api_version="2015-03-31",
    ),
    Action("rds", "DescribeDBInstances", request=lambda e, r: None),
    Action(
        "elasticloadbalancing",
        "DescribeTargetHealth",
        request=lambda e, r: {
            "targetGroupArn": f"arn:aws:elasticloadbalancing:{e.region}:{e.account.id}:targetgroup/web-tg/{stable_hash(e.vpc_id, length=16)}"
        },
    ),
    Action(
        "s3",
        "GetObject",
        data_event=True,
        variants=160,
        errors=((0.01, "NoSuchKey", "The specified key does not exist."),),
    ),
    Action("s3", "PutObject", read_only=False, data_event=True, variants=96),
    Action(
        "s3",
        "HeadObject",
        data_event=True,
        variants=24,
        errors=((0.03, "NoSuchKey", "The specified key does not exist."),),
    ),
):
    _add(_a)


# What each kind of principal does, with relative weights.
HUMAN_CLI = {
    "ec2:DescribeInstances": 8,
    "ec2:DescribeSecurityGroups": 3,
    "ec2:DescribeVpcs": 1,
    "ec2:DescribeSubnets": 1,
    "ec2:DescribeVolumes": 1,
    "s3:ListBuckets": 2,
    "s3:GetBucketPolicy": 1,
    "iam:GetUser": 1,
    "iam:ListRoles": 1,
    "iam:GetRole": 1,
    "iam:ListAttachedRolePolicies": 1,
    "sts:GetCallerIdentity": 3,
    "logs:DescribeLogGroups": 2,
    "logs:FilterLogEvents": 3,
    "cloudwatch:GetMetricData": 2,
    "lambda:ListFunctions20150331": 1,
    "ssm:DescribeInstanceInformation": 1,
    "kms:ListAliases": 1,
    "s3:GetObject": 3,
    "s3:PutObject": 1,
    "cloudtrail:LookupEvents": 1,
    "rds:DescribeDBInstances": 1,
}
HUMAN_CONSOLE = {
    "ec2:DescribeInstances": 6,
    "ec2:DescribeInstanceStatus": 4,
    "ec2:DescribeSecurityGroups": 3,
    "ec2:DescribeTags": 2,
    "ec2:DescribeAddresses": 1,
    "ec2:DescribeAvailabilityZones": 2,
    "s3:ListBuckets": 3,
    "s3:GetBucketLocation": 3,
    "s3:GetBucketAcl": 2,
    "s3:GetBucketVersioning": 2,
    "s3:GetBucketPublicAccessBlock": 2,
    "s3:GetBucketEncryption": 1,
    "iam:ListUsers": 1,
    "iam:GetAccountSummary": 1,
    "iam:ListMFADevices": 1,
    "cloudwatch:DescribeAlarms": 3,
    "cloudwatch:GetMetricData": 5,
    "logs:DescribeLogStreams": 2,
    "config:DescribeComplianceByConfigRule": 1,
    "cloudtrail:DescribeTrails": 1,
    "lambda:GetFunction20150331v2": 1,
    "kms:DescribeKey": 1,
}
CI_ACTIONS = {
    "ec2:DescribeInstances": 6,
    "ec2:DescribeSecurityGroups": 6,
    "ec2:DescribeVpcs": 4,
    "ec2:DescribeSubnets": 4,
    "ec2:DescribeRouteTables": 3,
    "ec2:DescribeImages": 2,
    "ec2:DescribeVolumes": 2,
    "ec2:DescribeNetworkInterfaces": 2,
    "iam:GetRole": 4,
    "iam:ListAttachedRolePolicies": 3,
    "iam:GetPolicyVersion": 2,
    "iam:GetUser": 1,
    "s3:GetBucketPolicy": 3,
    "s3:GetBucketAcl": 2,
    "s3:GetBucketVersioning": 2,
    "s3:GetBucketEncryption": 2,
    "s3:GetBucketTagging": 2,
    "s3:GetBucketPublicAccessBlock": 2,
    "sts:GetCallerIdentity": 3,
    "kms:DescribeKey": 2,
    "lambda:GetFunction20150331v2": 2,
    "s3:PutObject": 2,
    "s3:GetObject": 2,
    "elasticloadbalancing:DescribeTargetHealth": 1,
}
WORKLOAD_ACTIONS = {
    "s3:GetObject": 30,
    "s3:PutObject": 10,
    "s3:HeadObject": 6,
    "kms:Decrypt": 12,
    "kms:GenerateDataKey": 6,
    "ssm:GetParameter": 5,
    "secretsmanager:GetSecretValue": 3,
    "sts:GetCallerIdentity": 1,
    "ssm:UpdateInstanceInformation": 1,
    "ssm:ListInstanceAssociations": 1,
}
MONITORING_ACTIONS = {
    "cloudwatch:ListMetrics": 3,
    "cloudwatch:GetMetricData": 8,
    "cloudwatch:DescribeAlarms": 2,
    "ec2:DescribeInstances": 3,
    "ec2:DescribeVolumes": 1,
    "rds:DescribeDBInstances": 1,
    "s3:ListBuckets": 1,
}
BACKUP_ACTIONS = {"s3:GetObject": 5, "s3:HeadObject": 2, "s3:PutObject": 4, "kms:Decrypt": 2}
CONFIG_SERVICE_ACTIONS = {
    "ec2:DescribeInstances": 4,
    "ec2:DescribeSecurityGroups": 4,
    "ec2:DescribeVolumes": 3,
    "ec2:DescribeVpcs": 2,
    "ec2:DescribeSubnets": 2,
    "ec2:DescribeNetworkInterfaces": 2,
    "s3:GetBucketAcl": 2,
    "s3:GetBucketVersioning": 2,
    "s3:GetBucketPolicy": 2,
    "s3:GetBucketTagging": 1,
    "s3:GetBucketEncryption": 1,
    "iam:GetRole": 1,
    "iam:ListAttachedRolePolicies": 1,
    "iam:GetUser": 1,
    "iam:ListAttachedUserPolicies": 1,
}
SERVICE_KMS_ACTIONS = {"kms:Decrypt": 6, "kms:GenerateDataKey": 3}
LAMBDA_ACTIONS = {
    "s3:GetObject": 6,
    "s3:PutObject": 4,
    "kms:Decrypt": 2,
    "ssm:GetParameter": 2,
    "secretsmanager:GetSecretValue": 1,
}
