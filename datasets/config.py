"""AWS Config configuration items, history files (per resource type, six-hour windows) and
daily snapshots, in the S3-file spelling (``ARN``, ``awsAccountId``, ``configurationItemVersion``).

Items are built from the world as it is when they are captured, so a history item written after
a CloudTrail call shows exactly what that call changed.
"""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

import orjson

from ._util import date_parts, iso_millis, parse_time, stable_hash
from .world import (
    Account,
    Bucket,
    IamRole,
    IamUser,
    Instance,
    KmsKey,
    RegionEnv,
    SecurityGroup,
    Trail,
    Volume,
)

HISTORY_WINDOW = 6 * 3600


def _tags_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in sorted(tags.items())]


def _ci(
    account: Account,
    capture_ms: int,
    status: str,
    resource_type: str,
    resource_id: str,
    name: str | None,
    arn: str,
    region: str,
    az: str,
    created: str | None,
    tags: dict[str, str],
    relationships: list[dict[str, str]],
    configuration: dict[str, Any],
    supplementary: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "relatedEvents": [],
        "relationships": relationships,
        "configuration": configuration,
        "supplementaryConfiguration": supplementary or {},
        "tags": dict(sorted(tags.items())),
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": iso_millis(capture_ms),
        "configurationStateId": capture_ms,
        "awsAccountId": account.id,
        "configurationItemStatus": status,
        "resourceType": resource_type,
        "resourceId": resource_id,
        "resourceName": name,
        "ARN": arn,
        "awsRegion": region,
        "availabilityZone": az,
        "configurationStateMd5Hash": "",
        "resourceCreationTime": created,
    }


def instance_ci(
    env: RegionEnv, inst: Instance, capture_ms: int, status: str = "OK"
) -> dict[str, Any]:
    acct = env.account
    groups = [{"groupName": env.sgs[s].name, "groupId": s} for s in inst.sg_ids]
    state_code = {"running": 16, "stopped": 80, "stopping": 64, "pending": 0}[inst.state]
    dns = f"ip-{inst.private_ip.replace('.', '-')}.{env.region}.compute.internal"
    config = {
        "amiLaunchIndex": 0,
        "imageId": inst.ami,
        "instanceId": inst.id,
        "instanceType": inst.instance_type,
        "launchTime": inst.launch_time,
        "monitoring": {"state": "disabled"},
        "placement": {"availabilityZone": inst.az, "groupName": "", "tenancy": "default"},
        "privateDnsName": dns,
        "privateIpAddress": inst.private_ip,
        "productCodes": [],
        "publicDnsName": f"ec2-{inst.public_ip.replace('.', '-')}.compute-1.amazonaws.com"
        if inst.public_ip
        else "",
        "publicIpAddress": inst.public_ip,
        "state": {"code": state_code, "name": inst.state},
        "stateTransitionReason": "" if inst.state == "running" else "User initiated",
        "subnetId": inst.subnet_id,
        "vpcId": env.vpc_id,
        "architecture": "x86_64",
        "blockDeviceMappings": [
            {
                "deviceName": env.volumes[v].device,
                "ebs": {
                    "attachTime": inst.launch_time,
                    "deleteOnTermination": True,
                    "status": "attached",
                    "volumeId": v,
                },
            }
            for v in inst.volume_ids
        ],
        "ebsOptimized": True,
        "enaSupport": True,
        "hypervisor": "xen",
        "iamInstanceProfile": {
            "arn": f"arn:aws:iam::{acct.id}:instance-profile/{inst.role_name}",
            "id": "AIPA" + stable_hash(inst.id, length=17).upper(),
        },
        "metadataOptions": {
            "state": "applied",
            "httpTokens": "required",
            "httpPutResponseHopLimit": 2,
            "httpEndpoint": "enabled",
        },
        "networkInterfaces": [
            {
                "attachment": {
                    "attachTime": inst.launch_time,
                    "attachmentId": "eni-attach-" + stable_hash(inst.eni, length=17),
                    "deleteOnTermination": True,
                    "deviceIndex": 0,
                    "status": "attached",
                },
                "description": "",
                "groups": groups,
                "macAddress": inst.mac,
                "networkInterfaceId": inst.eni,
                "ownerId": acct.id,
                "privateDnsName": dns,
                "privateIpAddress": inst.private_ip,
                "sourceDestCheck": True,
                "status": "in-use",
                "subnetId": inst.subnet_id,
                "vpcId": env.vpc_id,
            }
        ],
        "rootDeviceName": "/dev/xvda",
        "rootDeviceType": "ebs",
        "securityGroups": groups,
        "sourceDestCheck": True,
        "tags": _tags_list(inst.tags),
        "virtualizationType": "hvm",
    }
    rel = [
        {
            "resourceType": "AWS::EC2::NetworkInterface",
            "resourceId": inst.eni,
            "name": "Contains NetworkInterface",
        },
        *(
            {
                "resourceType": "AWS::EC2::SecurityGroup",
                "resourceId": s,
                "name": "Is associated with SecurityGroup",
            }
            for s in inst.sg_ids
        ),
        {
            "resourceType": "AWS::EC2::Subnet",
            "resourceId": inst.subnet_id,
            "name": "Is contained in Subnet",
        },
        *(
            {"resourceType": "AWS::EC2::Volume", "resourceId": v, "name": "Is attached to Volume"}
            for v in inst.volume_ids
        ),
        {"resourceType": "AWS::EC2::VPC", "resourceId": env.vpc_id, "name": "Is contained in Vpc"},
    ]
    return _ci(
        acct,
        capture_ms,
        status,
        "AWS::EC2::Instance",
        inst.id,
        None,
        f"arn:aws:ec2:{env.region}:{acct.id}:instance/{inst.id}",
        env.region,
        inst.az,
        inst.launch_time,
        inst.tags,
        rel,
        config,
    )


def security_group_ci(
    env: RegionEnv, sg: SecurityGroup, capture_ms: int, status: str = "OK"
) -> dict[str, Any]:
    acct = env.account
    config = {
        "description": sg.description,
        "groupName": sg.name,
        "ipPermissions": [r.config_shape() for r in sg.ingress],
        "ownerId": acct.id,
        "groupId": sg.id,
        "ipPermissionsEgress": [r.config_shape() for r in sg.egress],
        "tags": _tags_list(sg.tags),
        "vpcId": sg.vpc_id,
    }
    rel = [
        {"resourceType": "AWS::EC2::VPC", "resourceId": sg.vpc_id, "name": "Is contained in Vpc"}
    ]
    return _ci(
        acct,
        capture_ms,
        status,
        "AWS::EC2::SecurityGroup",
        sg.id,
        sg.name,
        f"arn:aws:ec2:{env.region}:{acct.id}:security-group/{sg.id}",
        env.region,
        "Not Applicable",
        None,
        sg.tags,
        rel,
        config,
    )


def volume_ci(env: RegionEnv, vol: Volume, capture_ms: int, status: str = "OK") -> dict[str, Any]:
    acct = env.account
    attachments = (
        [
            {
                "attachTime": vol.created,
                "device": vol.device,
                "instanceId": vol.instance_id,
                "state": "attached",
                "volumeId": vol.id,
                "deleteOnTermination": vol.device == "/dev/xvda",
            }
        ]
        if vol.instance_id
        else []
    )
    config = {
        "attachments": attachments,
        "availabilityZone": vol.az,
        "createTime": vol.created,
        "encrypted": vol.kms_key_arn is not None,
        "kmsKeyId": vol.kms_key_arn,
        "size": vol.size,
        "snapshotId": "",
        "state": "in-use" if vol.instance_id else "available",
        "volumeId": vol.id,
        "iops": 3000,
        "tags": _tags_list(vol.tags),
        "volumeType": vol.volume_type,
        "multiAttachEnabled": False,
        "throughput": 125,
    }
    rel = (
        [
            {
                "resourceType": "AWS::EC2::Instance",
                "resourceId": vol.instance_id,
                "name": "Is attached to Instance",
            }
        ]
        if vol.instance_id
        else []
    )
    return _ci(
        acct,
        capture_ms,
        status,
        "AWS::EC2::Volume",
        vol.id,
        None,
        f"arn:aws:ec2:{env.region}:{acct.id}:volume/{vol.id}",
        env.region,
        vol.az,
        vol.created,
        vol.tags,
        rel,
        config,
    )


def vpc_ci(env: RegionEnv, capture_ms: int, status: str = "OK") -> dict[str, Any]:
    acct = env.account
    config = {
        "cidrBlock": env.vpc_cidr,
        "dhcpOptionsId": "dopt-" + stable_hash(env.vpc_id, length=17),
        "state": "available",
        "vpcId": env.vpc_id,
        "ownerId": acct.id,
        "instanceTenancy": "default",
        "cidrBlockAssociationSet": [
            {
                "associationId": "vpc-cidr-assoc-" + stable_hash(env.vpc_cidr, length=17),
                "cidrBlock": env.vpc_cidr,
                "cidrBlockState": {"state": "associated"},
            }
        ],
        "isDefault": False,
        "tags": [{"key": "Name", "value": f"{acct.name}-main"}],
    }
    rel = [
        *(
            {"resourceType": "AWS::EC2::Instance", "resourceId": i.id, "name": "Contains Instance"}
            for i in env.instances
        ),
        {
            "resourceType": "AWS::EC2::InternetGateway",
            "resourceId": env.igw,
            "name": "Is attached to InternetGateway",
        },
        *(
            {
                "resourceType": "AWS::EC2::SecurityGroup",
                "resourceId": s,
                "name": "Contains SecurityGroup",
            }
            for s in env.sgs
        ),
        *(
            {"resourceType": "AWS::EC2::Subnet", "resourceId": s.id, "name": "Contains Subnet"}
            for s in env.subnets
        ),
    ]
    return _ci(
        acct,
        capture_ms,
        status,
        "AWS::EC2::VPC",
        env.vpc_id,
        None,
        f"arn:aws:ec2:{env.region}:{acct.id}:vpc/{env.vpc_id}",
        env.region,
        "Multiple Availability Zones",
        None,
        {"Name": f"{acct.name}-main"},
        rel,
        config,
    )


def bucket_ci(
    env: RegionEnv, bucket: Bucket, capture_ms: int, status: str = "OK"
) -> dict[str, Any]:
    acct = env.account
    owner = stable_hash(acct.id, "canonical", length=64)
    config = {
        "name": bucket.name,
        "owner": {"displayName": None, "id": owner},
        "creationDate": bucket.created,
    }
    acl = orjson.dumps(
        {
            "grantList": [
                {"grantee": {"id": owner, "displayName": None}, "permission": "FullControl"}
            ],
            "owner": {"displayName": None, "id": owner},
            "isRequesterCharged": False,
        }
    ).decode()
    supplementary = {
        "AccessControlList": acl,
        "BucketAccelerateConfiguration": {"status": None},
        "BucketLoggingConfiguration": {"destinationBucketName": None, "logFilePrefix": None},
        "BucketPolicy": {"policyText": _tls_only_policy(bucket.name)},
        "BucketVersioningConfiguration": {"status": bucket.versioning, "isMfaDeleteEnabled": None},
        "IsRequesterPaysEnabled": False,
        "PublicAccessBlockConfiguration": {
            "blockPublicAcls": True,
            "ignorePublicAcls": True,
            "blockPublicPolicy": True,
            "restrictPublicBuckets": True,
        },
        "ServerSideEncryptionConfiguration": {
            "rules": [
                {
                    "applyServerSideEncryptionByDefault": {
                        "sseAlgorithm": "aws:kms",
                        "kmsMasterKeyID": env.kms_keys[0].arn,
                    },
                    "bucketKeyEnabled": True,
                }
            ]
        },
    }
    return _ci(
        acct,
        capture_ms,
        status,
        "AWS::S3::Bucket",
        bucket.name,
        bucket.name,
        f"arn:aws:s3:::{bucket.name}",
        env.region,
        "Regional",
        bucket.created,
        bucket.tags,
        [],
        config,
        supplementary,
    )


def _tls_only_policy(bucket: str) -> str:
    """The bucket policy that denies every request made without TLS."""
    return orjson.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    ).decode()


def kms_key_ci(env: RegionEnv, key: KmsKey, capture_ms: int, status: str = "OK") -> dict[str, Any]:
    """A customer managed key, as DescribeKey shows it (rotation in the supplementary part)."""
    acct = env.account
    config: dict[str, Any] = {
        "keyId": key.id,
        "arn": key.arn,
        "creationDate": int(parse_time(env.created) * 1000),
        "enabled": key.state == "Enabled",
        "description": f"{key.alias} ({env.region})",
        "keyUsage": "ENCRYPT_DECRYPT",
        "keyState": key.state,
        "origin": "AWS_KMS",
        "keyManager": "CUSTOMER",
        "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "keySpec": "SYMMETRIC_DEFAULT",
        "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "signingAlgorithms": [],
        "multiRegion": False,
        "awsaccountId": acct.id,
    }
    if key.deletion_date is not None:
        config["deletionDate"] = key.deletion_date
    return _ci(
        acct,
        capture_ms,
        status,
        "AWS::KMS::Key",
        key.id,
        None,
        key.arn,
        env.region,
        "Not Applicable",
        env.created,
        {},
        [],
        config,
        {"KeyRotationStatus": key.rotation},
    )


def flow_log_ci(env: RegionEnv, capture_ms: int, status: str = "OK") -> dict[str, Any]:
    """The VPC's flow log, delivering to the log bucket (the key layout in ``flowlogs``)."""
    acct = env.account
    config = {
        "creationTime": env.created,
        "deliverLogsStatus": "SUCCESS",
        "flowLogId": env.flow_log_id,
        "flowLogStatus": "ACTIVE",
        "logDestination": f"arn:aws:s3:::acme-{acct.name}-flow-logs",
        "logDestinationType": "s3",
        "logFormat": "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} "
        "${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"
        if env.flow_format == "v2"
        else "custom v5",
        "maxAggregationInterval": 600,
        "resourceId": env.vpc_id,
        "trafficType": "ALL",
        "destinationOptions": {
            "fileFormat": "plain-text",
            "hiveCompatiblePartitions": False,
            "perHourPartition": False,
        },
    }
    rel = [
        {"resourceType": "AWS::EC2::VPC", "resourceId": env.vpc_id, "name": "Is attached to Vpc"}
    ]
    return _ci(
        acct,
        capture_ms,
        status,
        "AWS::EC2::FlowLog",
        env.flow_log_id,
        None,
        f"arn:aws:ec2:{env.region}:{acct.id}:vpc-flow-log/{env.flow_log_id}",
        env.region,
        "Not Applicable",
        env.created,
        {},
        rel,
        config,
    )


def trail_ci(env: RegionEnv, trail: Trail, capture_ms: int, status: str = "OK") -> dict[str, Any]:
    """A trail as DescribeTrails shows it (whether it is logging is not part of the item)."""
    config = {
        "name": trail.name,
        "s3BucketName": trail.bucket,
        "includeGlobalServiceEvents": True,
        "isMultiRegionTrail": trail.multi_region,
        "homeRegion": env.region,
        "trailARN": trail.arn,
        "logFileValidationEnabled": trail.validation,
        "kmsKeyId": trail.kms_key,
        "hasCustomEventSelectors": True,
        "hasInsightSelectors": trail.organization,
        "isOrganizationTrail": trail.organization,
    }
    return _ci(
        env.account,
        capture_ms,
        status,
        "AWS::CloudTrail::Trail",
        trail.name,
        trail.name,
        trail.arn,
        env.region,
        "Not Applicable",
        trail.created,
        {},
        [],
        config,
    )


def _policy_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def user_ci(account: Account, user: IamUser, capture_ms: int, status: str = "OK") -> dict[str, Any]:
    arn = f"arn:aws:iam::{account.id}:user/{user.name}"
    config = {
        "path": "/",
        "userName": user.name,
        "userId": user.user_id,
        "arn": arn,
        "createDate": user.created,
        "userPolicyList": [],
        "groupList": list(user.groups),
        "attachedManagedPolicies": [
            {"policyName": _policy_name(p), "policyArn": p} for p in user.policies
        ],
        "permissionsBoundary": None,
        "tags": _tags_list(user.tags),
    }
    rel = [
        {"resourceType": "AWS::IAM::Group", "resourceName": g, "name": "Is attached to Group"}
        for g in user.groups
    ]
    return _ci(
        account,
        capture_ms,
        status,
        "AWS::IAM::User",
        user.user_id,
        user.name,
        arn,
        "global",
        "Not Applicable",
        user.created,
        user.tags,
        rel,
        config,
    )


def role_ci(account: Account, role: IamRole, capture_ms: int, status: str = "OK") -> dict[str, Any]:
    arn = f"arn:aws:iam::{account.id}:role{role.path}{role.name}"
    config = {
        "path": role.path,
        "roleName": role.name,
        "roleId": role.role_id,
        "arn": arn,
        "createDate": role.created,
        "assumeRolePolicyDocument": urllib.parse.quote(
            orjson.dumps(role.trusted).decode(), safe=""
        ),
        "instanceProfileList": [],
        "rolePolicyList": [],
        "attachedManagedPolicies": [
            {"policyName": _policy_name(p), "policyArn": p} for p in role.policies
        ],
        "permissionsBoundary": None,
        "tags": _tags_list(role.tags),
        "roleLastUsed": None,
    }
    return _ci(
        account,
        capture_ms,
        status,
        "AWS::IAM::Role",
        role.role_id,
        role.name,
        arn,
        "global",
        "Not Applicable",
        role.created,
        role.tags,
        [],
        config,
    )


def all_items(env: RegionEnv, capture_ms: int, status: str = "OK") -> list[dict[str, Any]]:
    """Every recorded resource of an account and region (IAM only in the home region)."""
    items = [vpc_ci(env, capture_ms, status)]
    items += [security_group_ci(env, sg, capture_ms, status) for sg in env.sgs.values()]
    items += [instance_ci(env, i, capture_ms, status) for i in env.instances]
    items += [volume_ci(env, v, capture_ms, status) for v in env.volumes.values()]
    items += [bucket_ci(env, b, capture_ms, status) for b in env.buckets]
    if env.default_sg is not None:
        items.append(security_group_ci(env, env.default_sg, capture_ms, status))
    items += [kms_key_ci(env, k, capture_ms, status) for k in env.kms_keys]
    items.append(flow_log_ci(env, capture_ms, status))
    items += [trail_ci(env, t, capture_ms, status) for t in env.trails]
    if env.is_home:
        items += [user_ci(env.account, u, capture_ms, status) for u in env.account.users.values()]
        items += [role_ci(env.account, r, capture_ms, status) for r in env.account.roles.values()]
    return items


def history_key(
    env: RegionEnv, resource_type: str, window_start: float, window_end: float, part: int = 1
) -> str:
    y, m, d, _ = date_parts(window_end)
    acct = env.account.id
    start = _stamp(window_start)
    end = _stamp(window_end)
    return (
        f"AWSLogs/{acct}/Config/{env.region}/{y}/{m}/{d}/ConfigHistory/"
        f"{acct}_Config_{env.region}_ConfigHistory_{resource_type}_{start}_{end}_{part}.json.gz"
    )


def snapshot_key(env: RegionEnv, t: float, snapshot_id: str) -> str:
    y, m, d, _ = date_parts(t)
    acct = env.account.id
    return (
        f"AWSLogs/{acct}/Config/{env.region}/{y}/{m}/{d}/ConfigSnapshot/"
        f"{acct}_Config_{env.region}_ConfigSnapshot_{_stamp(t)}_{snapshot_id}.json.gz"
    )


def _stamp(t: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(int(t)))
