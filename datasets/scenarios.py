"""Incidents placed on top of the baseline, each with its ground truth.

A scenario is a short story told in CloudTrail records (and, where the story touches them, in
Config items and flow records). The baseline is built so that none of the scenario signatures
occur in it by accident: no root sign-in, no StopLogging or DeleteTrail, no port 22 open to the
world, no ScheduleKeyDeletion, no failed console sign-in.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from . import config as cfg
from . import identities as ids
from ._util import iso_seconds, parse_time, rng_for, uuid1
from .actions import s3_object_call
from .changes import console_login, sg_authorize_response, sg_permission_request, sg_touch
from .cloudtrail import java_date, record
from .flowlogs import Flow, connection
from .plan import ConfigTouch, FlowInjection, Injection, LoggingGap, ScenarioRecord
from .state import WorldState
from .world import (
    BROWSER_UAS,
    HOME_CIDRS,
    INTERNET_CIDRS,
    Account,
    Instance,
    RegionEnv,
    Rule,
    World,
    random_ip,
)

ATTACKER_CLI = "aws-cli/1.18.69 Python/3.9.2 Linux/6.1.0-kali5-amd64 botocore/1.16.19"
ATTACKER_SDK = "Boto3/1.9.201 Python/2.7.18 Linux/5.15.0-kali3-amd64 Botocore/1.12.201"


@dataclass(frozen=True)
class ScenarioSpec:
    """A scenario to place: its name and, optionally, when it starts (epoch seconds)."""

    name: str
    at: float | None = None


@dataclass
class Planned:
    injections: list[Injection]
    flows: list[FlowInjection]
    gaps: list[LoggingGap]
    record: ScenarioRecord


Builder = Callable[[World, float, random.Random], Planned]
SCENARIOS: dict[str, tuple[str, Builder]] = {}


def scenario(name: str, description: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        SCENARIOS[name] = (description, fn)
        return fn

    return register


def parse_scenarios(
    values: Iterable[str | ScenarioSpec], world: World, start: float, end: float
) -> list[tuple[ScenarioSpec, float]]:
    """Validate ``name[@ISO-time]`` strings (``all`` expands to every scenario) and give each a time.

    Scenarios without a time are spread over the period deterministically (one per day, in
    working hours), so a default run always has each incident on a different day.
    """
    specs: list[ScenarioSpec] = []
    for value in values:
        if isinstance(value, ScenarioSpec):
            specs.append(value)
            continue
        name, _, when = str(value).partition("@")
        name = name.strip().replace("-", "_")
        if name == "all":
            if when:
                raise ValueError("'all' takes no time; place scenarios one by one with name@time")
            specs.extend(ScenarioSpec(n) for n in SCENARIOS)
            continue
        if name not in SCENARIOS:
            raise ValueError(
                f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)} or all"
            )
        try:
            at = parse_time(when) if when else None
        except ValueError as exc:
            raise ValueError(f"scenario {value!r}: {when!r} is not an ISO-8601 time") from exc
        specs.append(ScenarioSpec(name, at))
    days = int((end - start) // 86400)
    out = []
    order = list(SCENARIOS)
    for spec in specs:
        at = spec.at
        if at is None:
            i = order.index(spec.name)
            rng = rng_for(world.seed, "scenario-time", spec.name)
            day = (i + 1) % days if days > 1 else 0
            at = start + day * 86400 + rng.randrange(9 * 3600, 17 * 3600)
        if not start <= at < end - 3 * 3600:
            raise ValueError(
                f"scenario {spec.name} at {iso_seconds(at)} is outside the generated period "
                f"{iso_seconds(start)} .. {iso_seconds(end - 3 * 3600)} (it needs three hours to play out)"
            )
        out.append((spec, at))
    return out


def plan_scenarios(
    world: World, specs: list[tuple[ScenarioSpec, float]]
) -> tuple[list[Injection], list[FlowInjection], list[LoggingGap], list[ScenarioRecord]]:
    injections: list[Injection] = []
    flows: list[FlowInjection] = []
    gaps: list[LoggingGap] = []
    records: list[ScenarioRecord] = []
    for n, (spec, at) in enumerate(specs):
        rng = rng_for(world.seed, "scenario", spec.name, n, int(at))
        planned = SCENARIOS[spec.name][1](world, at, rng)
        for inj in planned.injections:
            inj.scenario = planned.record
            if inj.event is not None:
                planned.record.events.append(
                    {
                        "eventID": inj.event["eventID"],
                        "eventTime": inj.event["eventTime"],
                        "eventSource": inj.event["eventSource"],
                        "eventName": inj.event["eventName"],
                        "awsRegion": inj.event["awsRegion"],
                        "phase": inj.phase or spec.name,
                    }
                )
        for fi in planned.flows:
            fi.scenario = planned.record
        injections += planned.injections
        flows += planned.flows
        gaps += planned.gaps
        records.append(planned.record)
    return injections, flows, gaps, records


# ------------------------------------------------------------------ helpers


def _target(world: World) -> tuple[Account, RegionEnv]:
    acct = world.accounts[0]
    return acct, acct.regions[-1]


def _call(
    acct: Account,
    region: str,
    t: float,
    ident: dict[str, Any],
    ip: str,
    ua: str,
    source: str,
    name: str,
    request: Any,
    rng: random.Random,
    *,
    response: Any = None,
    read_only: bool = True,
    error: tuple[str, str] | None = None,
    resources: list[dict[str, str]] | None = None,
    additional: dict[str, Any] | None = None,
    category: str = "Management",
    vpce: str | None = None,
    console: bool = False,
) -> dict[str, Any]:
    global_service = source in ("iam.amazonaws.com",)
    host = (
        source if global_service else source.replace(".amazonaws.com", f".{region}.amazonaws.com")
    )
    if category == "Data" and isinstance(request, dict) and "Host" in request:
        host = request["Host"]
    return record(
        identity=ident,
        event_time=t,
        source=source,
        name=name,
        region="us-east-1" if global_service else region,
        ip=ip,
        user_agent=ua,
        request=request,
        response=None if error else response,
        account_id=acct.id,
        event_id=uuid1(rng),
        request_id=uuid1(rng) if category != "Data" else uuid1(rng).replace("-", "")[:16].upper(),
        read_only=read_only,
        error=error,
        resources=resources,
        additional=additional,
        category=category,
        tls_host=host,
        vpce=vpce,
        console_session=console,
        version="1.10" if category == "Data" else "1.09",
    )


def _inj(
    t: float, acct: Account, env_index: int, event: dict[str, Any], phase: str, apply: Any = None
) -> Injection:
    return Injection(t, acct, env_index, event, apply, phase=phase)


# ------------------------------------------------------------------ scenarios


@scenario(
    "compromised_access_key",
    "The long-term access key of the ci-deploy user leaks. From a new address and tool the "
    "attacker enumerates the account, attaches AdministratorAccess to the user, creates an access "
    "key for another user, then uses the key on the web server it controls to copy objects from "
    "the customer-data bucket through the S3 gateway endpoint and ships them to its own host.",
)
def _compromised_key(world: World, at: float, rng: random.Random) -> Planned:
    acct, env = _target(world)
    user = acct.users["ci-deploy"]
    ip = random_ip(rng, INTERNET_CIDRS[1])
    ident = ids.iam_user(acct, user)
    rec = ScenarioRecord(
        "compromised_access_key",
        SCENARIOS["compromised_access_key"][0],
        acct.id,
        env.region,
        at,
        signature=(
            f"userIdentity.accessKeyId = '{user.access_key}' AND sourceIPAddress = '{ip}' (recon, "
            "privilege escalation), then GetObject data events with the same key from the web "
            "server and large egress flows from its interface"
        ),
    )
    out: list[Injection] = []
    t = at
    recon: list[tuple[str, str, Any, tuple[str, str] | None, str]] = [
        ("sts.amazonaws.com", "GetCallerIdentity", None, None, env.region),
        ("iam.amazonaws.com", "GetUser", None, None, "us-east-1"),
        (
            "iam.amazonaws.com",
            "ListAttachedUserPolicies",
            {"userName": user.name},
            None,
            "us-east-1",
        ),
        ("iam.amazonaws.com", "ListUserPolicies", {"userName": user.name}, None, "us-east-1"),
        ("iam.amazonaws.com", "ListGroupsForUser", {"userName": user.name}, None, "us-east-1"),
        (
            "iam.amazonaws.com",
            "GetAccountAuthorizationDetails",
            {"filter": ["User", "Role", "Group", "LocalManagedPolicy"]},
            (
                "AccessDenied",
                f"User: arn:aws:iam::{acct.id}:user/{user.name} is not authorized to perform: iam:GetAccountAuthorizationDetails on resource: * because no identity-based policy allows the iam:GetAccountAuthorizationDetails action",
            ),
            "us-east-1",
        ),
        ("iam.amazonaws.com", "ListUsers", None, None, "us-east-1"),
        ("iam.amazonaws.com", "ListRoles", None, None, "us-east-1"),
        (
            "iam.amazonaws.com",
            "ListPolicies",
            {"scope": "Local", "onlyAttached": False},
            None,
            "us-east-1",
        ),
        ("s3.amazonaws.com", "ListBuckets", {"Host": "s3.amazonaws.com"}, None, env.region),
        ("secretsmanager.amazonaws.com", "ListSecrets", None, None, env.region),
        ("kms.amazonaws.com", "ListKeys", None, None, env.region),
        ("lambda.amazonaws.com", "ListFunctions20150331", None, None, env.region),
        ("rds.amazonaws.com", "DescribeDBInstances", None, None, env.region),
        (
            "cloudtrail.amazonaws.com",
            "DescribeTrails",
            {"includeShadowTrails": True},
            None,
            env.region,
        ),
        (
            "guardduty.amazonaws.com",
            "ListDetectors",
            None,
            (
                "AccessDeniedException",
                f"User: arn:aws:iam::{acct.id}:user/{user.name} is not authorized to perform: guardduty:ListDetectors",
            ),
            env.region,
        ),
    ]
    for region_env in acct.regions:
        for name, req in (
            ("DescribeInstances", {"instancesSet": {}, "filterSet": {}}),
            (
                "DescribeSecurityGroups",
                {"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}},
            ),
            ("DescribeVpcs", {"vpcSet": {}, "filterSet": {}}),
            (
                "DescribeSnapshots",
                {
                    "snapshotSet": {},
                    "ownersSet": {"items": [{"owner": "self"}]},
                    "sharedUsersSet": {},
                    "filterSet": {},
                },
            ),
            ("DescribeKeyPairs", {"keySet": {}, "filterSet": {}}),
        ):
            recon.append(("ec2.amazonaws.com", name, req, None, region_env.region))
    for source, name, req, err, region in recon:
        t += rng.randrange(2, 12)
        env_index = (
            0
            if region == "us-east-1"
            else next(e.index for e in acct.regions if e.region == region)
        )
        ua = ATTACKER_CLI if source != "s3.amazonaws.com" else f"[{ATTACKER_CLI}]"
        ev = _call(acct, region, t, ident, ip, ua, source, name, req, rng, error=err)
        out.append(_inj(t, acct, env_index, ev, "recon"))
    # privilege escalation
    t += rng.randrange(240, 600)
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    attach = _call(
        acct,
        "us-east-1",
        t,
        ident,
        ip,
        ATTACKER_SDK,
        "iam.amazonaws.com",
        "AttachUserPolicy",
        {"userName": user.name, "policyArn": admin},
        rng,
        read_only=False,
    )
    home = acct.regions[0]

    def escalate(state: WorldState, t: float) -> list[ConfigTouch]:
        if admin not in user.policies:
            user.policies.append(admin)
        return [
            ConfigTouch(
                home, "AWS::IAM::User", user.user_id, lambda ms: cfg.user_ci(acct, user, ms)
            )
        ]

    out.append(_inj(t, acct, 0, attach, "privilege_escalation", escalate))
    t += rng.randrange(20, 90)
    victim = acct.users["backup-operator"]
    new_key = "AKIA" + "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", k=16))
    created = java_date(t)
    create_key = _call(
        acct,
        "us-east-1",
        t,
        ident,
        ip,
        ATTACKER_SDK,
        "iam.amazonaws.com",
        "CreateAccessKey",
        {"userName": victim.name},
        rng,
        read_only=False,
        response={
            "accessKey": {
                "accessKeyId": new_key,
                "status": "Active",
                "userName": victim.name,
                "createDate": created,
            }
        },
    )
    out.append(_inj(t, acct, 0, create_key, "privilege_escalation"))
    # exfiltration from the web server through the S3 gateway endpoint
    web = env.instance_by_tier("web")[0]
    t += rng.randrange(900, 1500)
    exfil_start = t
    total = 0
    objects: list[str] = []
    flows: list[FlowInjection] = []
    for _ in range(rng.randrange(60, 90)):
        t += rng.randrange(1, 6)
        call = s3_object_call(
            "GetObject", env, rng, "customer-data", size=int(rng.lognormvariate(15, 0.8))
        )
        total += call["bytes"]
        objects.append(call["key"])
        ev = _call(
            acct,
            env.region,
            t,
            ident,
            web.private_ip,
            f"[{ATTACKER_CLI} command/s3.cp]",
            "s3.amazonaws.com",
            "GetObject",
            call["request"],
            rng,
            resources=call["resources"],
            additional=call["additional"],
            category="Data",
            vpce=env.s3_endpoint,
        )
        out.append(_inj(t, acct, env.index, ev, "exfiltration"))
        size = call["bytes"]
        flows.append(
            FlowInjection(
                t,
                acct,
                env.index,
                functools.partial(_s3_download, web, size),
            )
        )
    drop = random_ip(rng, INTERNET_CIDRS[0])
    t += rng.randrange(60, 300)
    parts = 8
    for i in range(parts):
        tt = t + i * 40
        chunk = total // parts
        flows.append(
            FlowInjection(
                tt,
                acct,
                env.index,
                functools.partial(_exfiltration_upload, web, drop, chunk),
            )
        )
    rec.end = t + parts * 40 + 60
    rec.details = {
        "userName": user.name,
        "accessKeyId": user.access_key,
        "attackerIp": ip,
        "attackerUserAgent": ATTACKER_CLI,
        "createdAccessKeyId": new_key,
        "createdAccessKeyUser": victim.name,
        "policyAttached": admin,
        "exfiltrationInstanceId": web.id,
        "exfiltrationInterfaceId": web.eni,
        "exfiltrationDestinationIp": drop,
        "bucket": objects and next(b.name for b in env.buckets if b.purpose == "customer-data"),
        "objectsRead": len(objects),
        "bytesRead": total,
        "exfiltrationStart": iso_seconds(exfil_start),
    }
    return Planned(out, flows, [], rec)


@scenario(
    "root_console_login",
    "Someone signs in to the console as the account root user without MFA from an address never "
    "seen before and looks around.",
)
def _root_login(world: World, at: float, rng: random.Random) -> Planned:
    acct, _ = _target(world)
    ip = random_ip(rng, INTERNET_CIDRS[2])
    ua = BROWSER_UAS[2]
    root = ids.root(acct)
    login = record(
        identity=root,
        event_time=at,
        source="signin.amazonaws.com",
        name="ConsoleLogin",
        region="us-east-1",
        ip=ip,
        user_agent=ua,
        request=None,
        response={"ConsoleLogin": "Success"},
        account_id=acct.id,
        event_id=uuid1(rng),
        request_id=None,
        read_only=False,
        additional={
            "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
            "MobileVersion": "No",
            "MFAUsed": "No",
        },
        event_type="AwsConsoleSignIn",
        tls_host="signin.aws.amazon.com",
    )
    rec = ScenarioRecord(
        "root_console_login",
        SCENARIOS["root_console_login"][0],
        acct.id,
        "us-east-1",
        at,
        signature="eventName = 'ConsoleLogin' AND userIdentity.type = 'Root' AND additionalEventData.MFAUsed = 'No'",
    )
    out = [_inj(at, acct, 0, login, "sign_in")]
    t = at
    session = dict(root)
    session["accessKeyId"] = "ASIA" + "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", k=16))
    session["sessionContext"] = {
        "sessionIssuer": {},
        "webIdFederationData": {},
        "attributes": {"creationDate": iso_seconds(at), "mfaAuthenticated": "false"},
    }
    for source, name, req in (
        ("iam.amazonaws.com", "GetAccountSummary", None),
        ("iam.amazonaws.com", "ListUsers", None),
        ("iam.amazonaws.com", "ListAccessKeys", {"userName": "ci-deploy"}),
        (
            "ce.amazonaws.com",
            "GetCostAndUsage",
            {"granularity": "MONTHLY", "metrics": ["UnblendedCost"]},
        ),
    ):
        t += rng.randrange(10, 60)
        ev = _call(
            acct, "us-east-1", t, session, ip, "AWS Internal", source, name, req, rng, console=True
        )
        out.append(_inj(t, acct, 0, ev, "activity"))
    rec.end = t
    rec.details = {"sourceIp": ip, "userAgent": ua}
    return Planned(out, [], [], rec)


@scenario(
    "cloudtrail_tampering",
    "An administrator session from an unusual address stops the organisation trail and deletes "
    "the security team's regional trail; logging stays off until the on-call engineer turns it "
    "back on about forty minutes later. No events are delivered while logging is stopped.",
)
def _tampering(world: World, at: float, rng: random.Random) -> Planned:
    acct, _ = _target(world)
    home = acct.regions[0]
    role = acct.roles["OrganizationAccountAccessRole"]
    ip = random_ip(rng, INTERNET_CIDRS[3])
    session = ids.assumed_role(acct, role, "maintenance", world.seed, at - 300)
    trail_arn = f"arn:aws:cloudtrail:us-east-1:{acct.id}:trail/{world.trail_name}"
    second = f"arn:aws:cloudtrail:us-east-1:{acct.id}:trail/security-audit-trail"
    rec = ScenarioRecord(
        "cloudtrail_tampering",
        SCENARIOS["cloudtrail_tampering"][0],
        acct.id,
        "us-east-1",
        at,
        signature="eventSource = 'cloudtrail.amazonaws.com' AND eventName IN ('StopLogging', 'DeleteTrail')",
    )
    t = at
    delete = _call(
        acct,
        "us-east-1",
        t,
        session,
        ip,
        ATTACKER_CLI,
        "cloudtrail.amazonaws.com",
        "DeleteTrail",
        {"name": second},
        rng,
        read_only=False,
    )

    def deleted(state: WorldState, when: float) -> list[ConfigTouch]:
        gone = [tr for tr in home.trails if tr.arn == second]
        home.trails[:] = [tr for tr in home.trails if tr.arn != second]
        return [
            ConfigTouch(
                home,
                "AWS::CloudTrail::Trail",
                tr.name,
                functools.partial(cfg.trail_ci, home, tr, status="ResourceDeleted"),
            )
            for tr in gone
        ]

    out = [_inj(t, acct, 0, delete, "defense_evasion", deleted)]
    t += rng.randrange(30, 120)
    stop = _call(
        acct,
        "us-east-1",
        t,
        session,
        ip,
        ATTACKER_CLI,
        "cloudtrail.amazonaws.com",
        "StopLogging",
        {"name": trail_arn},
        rng,
        read_only=False,
    )
    out.append(_inj(t, acct, 0, stop, "defense_evasion"))
    stop_time = t
    restart = stop_time + rng.randrange(35 * 60, 45 * 60)
    person = acct.sso_people[0]
    admin = next(r for n, r in acct.roles.items() if n.startswith("AWSReservedSSO_Admin"))
    responder = ids.assumed_role(acct, admin, f"{person}@acme.example", world.seed, restart - 600)
    rip = random_ip(rng_for(world.seed, "home-ip", acct.id, person), HOME_CIDRS[0])
    start = _call(
        acct,
        "us-east-1",
        restart,
        responder,
        rip,
        BROWSER_UAS[0],
        "cloudtrail.amazonaws.com",
        "StartLogging",
        {"name": trail_arn},
        rng,
        read_only=False,
        console=True,
    )
    out.append(_inj(restart, acct, 0, start, "remediation"))
    rec.end = restart
    rec.logging_gaps.append(
        {"accountId": acct.id, "from": iso_seconds(stop_time + 1), "to": iso_seconds(restart)}
    )
    rec.details = {
        "trailArn": trail_arn,
        "deletedTrailArn": second,
        "sourceIp": ip,
        "homeRegion": home.region,
    }
    return Planned(out, [], [LoggingGap(acct.id, stop_time, restart)], rec)


@scenario(
    "security_group_open_ssh",
    "A developer opens SSH on the bastion's security group to 0.0.0.0/0. Config records the new "
    "rule, and internet scanners that used to be rejected on port 22 are now accepted, until the "
    "rule is revoked three hours later.",
)
def _open_ssh(world: World, at: float, rng: random.Random) -> Planned:
    acct, env = _target(world)
    sg = env.sg_by_name("bastion-sg")
    bastion = env.instance_by_tier("bastion")[0]
    user = next(u for u in acct.users.values() if u.kind == "human")
    ident = ids.iam_user(acct, user)
    ip = random_ip(rng_for(world.seed, "home-ip", acct.id, user.name), HOME_CIDRS[1])
    rule = Rule(
        "tcp",
        22,
        22,
        cidr="0.0.0.0/0",
        description="temp ssh",
        tag="security_group_open_ssh",
        rule_id="sgr-" + rng.randbytes(9).hex()[:17],
    )
    rid = uuid1(rng)
    ev = _call(
        acct,
        env.region,
        at,
        ident,
        ip,
        "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8 md/command#ec2.authorize-security-group-ingress",
        "ec2.amazonaws.com",
        "AuthorizeSecurityGroupIngress",
        sg_permission_request(sg.id, rule),
        rng,
        read_only=False,
        response=sg_authorize_response(env, sg.id, rule, rid),
    )
    ev["requestID"] = rid
    rec = ScenarioRecord(
        "security_group_open_ssh",
        SCENARIOS["security_group_open_ssh"][0],
        acct.id,
        env.region,
        at,
        signature="AuthorizeSecurityGroupIngress with cidrIp 0.0.0.0/0 and port 22; Config ipPermissions with 0.0.0.0/0 on 22; ACCEPT flows to port 22 from public addresses",
    )

    def open_(state: WorldState, t: float) -> list[ConfigTouch]:
        sg.ingress.append(rule)
        state.rules_changed(sg.id, t, sg.ingress)
        return [sg_touch(env, sg.id)]

    close_at = at + 3 * 3600
    person = acct.sso_people[0]
    admin = next(r for n, r in acct.roles.items() if n.startswith("AWSReservedSSO_Admin"))
    responder = ids.assumed_role(acct, admin, f"{person}@acme.example", world.seed, close_at - 600)
    rip = random_ip(rng_for(world.seed, "home-ip", acct.id, person), HOME_CIDRS[0])
    ev2 = _call(
        acct,
        env.region,
        close_at,
        responder,
        rip,
        BROWSER_UAS[0],
        "ec2.amazonaws.com",
        "RevokeSecurityGroupIngress",
        sg_permission_request(sg.id, rule),
        rng,
        read_only=False,
        response={"requestId": uuid1(rng), "_return": True},
        console=True,
    )

    def close(state: WorldState, t: float) -> list[ConfigTouch]:
        sg.ingress[:] = [r for r in sg.ingress if r is not rule]
        state.rules_changed(sg.id, t, sg.ingress)
        return [sg_touch(env, sg.id)]

    out = [
        _inj(at, acct, env.index, ev, "exposure", open_),
        _inj(close_at, acct, env.index, ev2, "remediation", close),
    ]
    flows = []
    t = at + rng.randrange(120, 600)
    while t < close_at - 300:
        src = random_ip(rng, rng.choice(INTERNET_CIDRS))
        flows.append(
            FlowInjection(
                t,
                acct,
                env.index,
                functools.partial(_ssh_attempt, src, bastion),
            )
        )
        t += rng.randrange(200, 900)
    rec.end = close_at
    rec.details = {
        "groupId": sg.id,
        "groupName": sg.name,
        "instanceId": bastion.id,
        "interfaceId": bastion.eni,
        "openedBy": ident["arn"],
        "revokedAt": iso_seconds(close_at),
    }
    return Planned(out, flows, [], rec)


@scenario(
    "kms_key_deletion",
    "A role session schedules the application's KMS key for deletion with the shortest waiting "
    "period, after disabling it.",
)
def _kms_deletion(world: World, at: float, rng: random.Random) -> Planned:
    acct, env = _target(world)
    key = env.kms_keys[0]
    role = acct.roles["OrganizationAccountAccessRole"]
    ip = random_ip(rng, INTERNET_CIDRS[4])
    session = ids.assumed_role(acct, role, "cleanup", world.seed, at - 900)
    res = [{"accountId": acct.id, "type": "AWS::KMS::Key", "ARN": key.arn}]
    disable = _call(
        acct,
        env.region,
        at,
        session,
        ip,
        ATTACKER_CLI,
        "kms.amazonaws.com",
        "DisableKey",
        {"keyId": key.id},
        rng,
        read_only=False,
        resources=res,
    )
    t = at + rng.randrange(20, 120)
    sched = _call(
        acct,
        env.region,
        t,
        session,
        ip,
        ATTACKER_CLI,
        "kms.amazonaws.com",
        "ScheduleKeyDeletion",
        {"keyId": key.id, "pendingWindowInDays": 7},
        rng,
        read_only=False,
        resources=res,
        response={
            "keyId": key.arn,
            "deletionDate": java_date(t + 7 * 86400),
            "keyState": "PendingDeletion",
            "pendingWindowInDays": 7,
        },
    )
    deletion_date = java_date(t + 7 * 86400)

    def disabled(state: WorldState, when: float) -> list[ConfigTouch]:
        key.state = "Disabled"
        return [ConfigTouch(env, "AWS::KMS::Key", key.id, lambda ms: cfg.kms_key_ci(env, key, ms))]

    def scheduled(state: WorldState, when: float) -> list[ConfigTouch]:
        key.state = "PendingDeletion"
        key.deletion_date = deletion_date
        return [ConfigTouch(env, "AWS::KMS::Key", key.id, lambda ms: cfg.kms_key_ci(env, key, ms))]

    rec = ScenarioRecord(
        "kms_key_deletion",
        SCENARIOS["kms_key_deletion"][0],
        acct.id,
        env.region,
        at,
        signature="eventSource = 'kms.amazonaws.com' AND eventName = 'ScheduleKeyDeletion'",
    )
    rec.end = t
    rec.details = {"keyArn": key.arn, "alias": key.alias, "pendingWindowInDays": 7, "sourceIp": ip}
    return Planned(
        [
            _inj(at, acct, env.index, disable, "impact", disabled),
            _inj(t, acct, env.index, sched, "impact", scheduled),
        ],
        [],
        [],
        rec,
    )


@scenario(
    "console_brute_force",
    "A burst of failed console sign-ins from one address against several user names, some of "
    "which do not exist (CloudTrail hides those names).",
)
def _brute_force(world: World, at: float, rng: random.Random) -> Planned:
    acct, _ = _target(world)
    ip = random_ip(rng, INTERNET_CIDRS[0])
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0"
    real = [u for u in acct.users.values() if u.kind == "human"]
    t = at
    out = []
    attempts = rng.randrange(25, 45)
    for _ in range(attempts):
        t += rng.randrange(3, 25)
        if rng.random() < 0.7:
            user = rng.choice(real)
            ev = console_login(
                world, acct, user, t, rng, success=False, mfa=False, ip=ip, user_agent=ua
            )
        else:
            ev = console_login(
                world, acct, real[0], t, rng, success=False, mfa=False, ip=ip, user_agent=ua
            )
            ev["userIdentity"] = {
                "type": "IAMUser",
                "principalId": "",
                "accountId": acct.id,
                "accessKeyId": "",
                "userName": "HIDDEN_DUE_TO_SECURITY_REASONS",
            }
        out.append(_inj(t, acct, 0, ev, "credential_access"))
    rec = ScenarioRecord(
        "console_brute_force",
        SCENARIOS["console_brute_force"][0],
        acct.id,
        "us-east-1",
        at,
        signature="eventName = 'ConsoleLogin' AND errorMessage = 'Failed authentication'",
    )
    rec.end = t
    rec.details = {"sourceIp": ip, "attempts": attempts, "userAgent": ua}
    rec.insights = _call_rate_insight(acct, at, t, attempts, ua, rng)
    return Planned(out, [], [], rec)


def _s3_download(
    web: Instance, size: int, r: random.Random, e: RegionEnv, s: WorldState, t: int
) -> list[Flow]:
    """The web server reading an object of ``size`` bytes through the S3 gateway endpoint."""
    return connection(
        r,
        e,
        s,
        t,
        web,
        web.private_ip,
        None,
        random_ip(r, "52.216.0.0/15"),
        443,
        req_bytes=r.randrange(600, 1500),
        resp_bytes=size,
        dst_service="S3",
        path="7",
        tag="compromised_access_key",
    )


def _exfiltration_upload(
    web: Instance, drop: str, size: int, r: random.Random, e: RegionEnv, s: WorldState, t: int
) -> list[Flow]:
    """The web server sending ``size`` bytes to the attacker's address."""
    return connection(
        r,
        e,
        s,
        t,
        web,
        web.private_ip,
        None,
        drop,
        443,
        req_bytes=size,
        resp_bytes=r.randrange(2000, 9000),
        path="8",
        tag="compromised_access_key",
    )


def _ssh_attempt(
    src: str, bastion: Instance, r: random.Random, e: RegionEnv, s: WorldState, t: int
) -> list[Flow]:
    """An address on the internet connecting to the bastion's SSH port."""
    return connection(
        r,
        e,
        s,
        t,
        None,
        src,
        bastion,
        bastion.private_ip,
        22,
        req_bytes=r.randrange(1500, 6000),
        resp_bytes=r.randrange(2000, 9000),
        tag="security_group_open_ssh",
    )


def _call_rate_insight(
    acct: Account, first: float, last: float, calls: int, user_agent: str, rng: random.Random
) -> list[tuple[float, dict[str, Any]]]:
    """The CloudTrail Insights pair (Start, End) an unusual rate of ConsoleLogin calls raises.

    Insights compare the per-minute rate of a write API with its weekly baseline; the events go to
    ``CloudTrail-Insight`` about half an hour after the minute they describe.
    """
    start = int(first // 60 * 60)
    end = int(last // 60 * 60) + 60
    minutes = max(1, (end - start) // 60)
    baseline = {"average": 0.0021}
    insight = {"average": round(calls / minutes, 4)}
    shared = uuid1(rng)
    records: list[tuple[float, dict[str, Any]]] = []
    for state, t in (("Start", start), ("End", end)):
        context: dict[str, Any] = {"statistics": {"baseline": baseline, "insight": insight}}
        if state == "End":
            context["statistics"]["insightDuration"] = minutes
            context["statistics"]["baselineDuration"] = 10080
            context["attributions"] = [
                {
                    "attribute": "userIdentityArn",
                    "insight": [
                        {
                            "value": f"arn:aws:iam::{acct.id}:user/HIDDEN_DUE_TO_SECURITY_REASONS",
                            "average": insight["average"],
                        }
                    ],
                    "baseline": [
                        {
                            "value": f"arn:aws:iam::{acct.id}:user/{next(iter(acct.users))}",
                            "average": baseline["average"],
                        }
                    ],
                },
                {
                    "attribute": "userAgent",
                    "insight": [{"value": user_agent, "average": insight["average"]}],
                    "baseline": [{"value": BROWSER_UAS[0], "average": baseline["average"]}],
                },
                {
                    "attribute": "errorCode",
                    "insight": [{"value": "null", "average": insight["average"]}],
                    "baseline": [{"value": "null", "average": baseline["average"]}],
                },
            ]
        records.append(
            (
                t + 1800 + rng.randrange(0, 300),
                {
                    "eventVersion": "1.08",
                    "eventTime": iso_seconds(t),
                    "awsRegion": "us-east-1",
                    "eventID": uuid1(rng),
                    "eventType": "AwsCloudTrailInsight",
                    "recipientAccountId": acct.id,
                    "sharedEventID": shared,
                    "insightDetails": {
                        "state": state,
                        "eventSource": "signin.amazonaws.com",
                        "eventName": "ConsoleLogin",
                        "insightType": "ApiCallRateInsight",
                        "insightContext": context,
                    },
                    "eventCategory": "Insight",
                },
            )
        )
    return records


__all__ = ["SCENARIOS", "ScenarioSpec", "parse_scenarios", "plan_scenarios"]
