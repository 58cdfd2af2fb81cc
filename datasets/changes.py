"""Ordinary changes of a working day: deployments tag instances, a pipeline opens and closes a
monitoring port, a scheduler stops the batch worker at night, people tag buckets and roles and
sign in to the console (with MFA). Each is one CloudTrail call and, where it changes a recorded
resource, a new Config item."""

from __future__ import annotations

import random
import time
from typing import Any

from . import config as cfg
from . import identities as ids
from ._util import rng_for, uuid1
from .cloudtrail import TLS, record
from .plan import ConfigTouch, Injection
from .state import WorldState
from .world import (
    BROWSER_UAS,
    CI_CIDRS,
    HOME_CIDRS,
    OFFICE_CIDRS,
    SUPPORT_ROLE,
    TERRAFORM_UA,
    Account,
    RegionEnv,
    Rule,
    World,
    random_ip,
)


def _ci_actor(world: World, acct: Account, service: str) -> tuple[dict[str, Any], str, str]:
    user = acct.users["ci-deploy"]
    rng = rng_for(world.seed, "ci-ip", acct.id)
    ip = random_ip(rng, CI_CIDRS[0])
    ua = TERRAFORM_UA.replace("{service}", service).replace("{version}", "1.0.0")
    return ids.iam_user(acct, user), ip, ua


def _sso_admin(world: World, acct: Account, t: float) -> tuple[dict[str, Any], str, str]:
    role = next(r for n, r in acct.roles.items() if n.startswith("AWSReservedSSO_Admin"))
    person = acct.sso_people[0]
    ip = random_ip(rng_for(world.seed, "home-ip", acct.id, person), HOME_CIDRS[0])
    ident = ids.assumed_role(acct, role, f"{person}@acme.example", world.seed, t - 1800)
    return ident, ip, BROWSER_UAS[sum(person.encode()) % len(BROWSER_UAS)]


def _ec2_event(
    env: RegionEnv,
    t: float,
    ident: dict[str, Any],
    ip: str,
    ua: str,
    name: str,
    request: Any,
    response: Any,
    rng: random.Random,
) -> dict[str, Any]:
    return record(
        identity=ident,
        event_time=t,
        source="ec2.amazonaws.com",
        name=name,
        region=env.region,
        ip=ip,
        user_agent=ua,
        request=request,
        response=response,
        account_id=env.account.id,
        event_id=uuid1(rng),
        request_id=uuid1(rng),
        read_only=False,
        tls_host=f"ec2.{env.region}.amazonaws.com",
    )


def sg_permission_request(group_id: str, rule: Rule) -> dict[str, Any]:
    """``requestParameters`` of Authorize/RevokeSecurityGroupIngress for one CIDR rule."""
    cidr: dict[str, Any] = {"cidrIp": rule.cidr}
    if rule.description:
        cidr["description"] = rule.description
    return {
        "groupId": group_id,
        "ipPermissions": {
            "items": [
                {
                    "ipProtocol": rule.protocol,
                    "fromPort": rule.from_port,
                    "toPort": rule.to_port,
                    "groups": {},
                    "ipRanges": {"items": [cidr]},
                    "ipv6Ranges": {},
                    "prefixListIds": {},
                }
            ]
        },
    }


def sg_authorize_response(
    env: RegionEnv, group_id: str, rule: Rule, request_id: str
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "groupOwnerId": env.account.id,
        "groupId": group_id,
        "securityGroupRuleId": rule.rule_id,
        "isEgress": False,
        "ipProtocol": rule.protocol,
        "fromPort": rule.from_port,
        "toPort": rule.to_port,
        "cidrIpv4": rule.cidr,
    }
    if rule.description:
        item["description"] = rule.description
    return {"requestId": request_id, "_return": True, "securityGroupRuleSet": {"items": [item]}}


def sg_touch(env: RegionEnv, group_id: str) -> ConfigTouch:
    sg = env.sgs[group_id]
    return ConfigTouch(
        env, "AWS::EC2::SecurityGroup", group_id, lambda ms: cfg.security_group_ci(env, sg, ms)
    )


def plan_day(world: World, acct: Account, day_start: float) -> list[Injection]:
    """The baseline changes of one account on one day."""
    rng = rng_for(world.seed, "changes", acct.id, int(day_start))
    weekday = time.gmtime(int(day_start)).tm_wday < 5
    out: list[Injection] = []
    envs = acct.regions

    # deployments tag instances (weekdays)
    for _ in range(rng.randrange(1, 4) if weekday else 0):
        env = rng.choice(envs)
        inst = rng.choice(env.instances)
        t = day_start + rng.randrange(9 * 3600, 18 * 3600)
        build = f"build-{rng.randrange(1000, 9999)}"
        ident, ip, ua = _ci_actor(world, acct, "ec2")
        req: dict[str, Any] = {
            "resourcesSet": {"items": [{"resourceId": inst.id}]},
            "tagSet": {"items": [{"key": "Deployment", "value": build}]},
        }
        ev = _ec2_event(
            env,
            t,
            ident,
            ip,
            ua,
            "CreateTags",
            req,
            {"requestId": uuid1(rng), "_return": True},
            rng,
        )

        def apply(
            state: WorldState, t: float, env: RegionEnv = env, inst: Any = inst, build: str = build
        ) -> list[ConfigTouch]:
            inst.tags["Deployment"] = build
            return [
                ConfigTouch(
                    env, "AWS::EC2::Instance", inst.id, lambda ms: cfg.instance_ci(env, inst, ms)
                )
            ]

        out.append(Injection(t, acct, env.index, ev, apply))

    # a pipeline opens the node-exporter port to the VPC for a few hours, then closes it
    if weekday and rng.random() < 0.6:
        env = rng.choice(envs)
        sg = env.sg_by_name("app-sg")
        rule = Rule(
            "tcp",
            9100,
            9100,
            cidr=env.vpc_cidr,
            description="node exporter scrape",
            rule_id="sgr-" + rng.randbytes(9).hex()[:17],
        )
        t_open = day_start + rng.randrange(9 * 3600, 12 * 3600)
        t_close = t_open + rng.randrange(2 * 3600, 6 * 3600)
        gha = acct.roles["github-actions-deploy"]
        ident = ids.assumed_role(acct, gha, "GitHubActions", world.seed, t_open - 600)
        ip = random_ip(rng, CI_CIDRS[1])
        ua = TERRAFORM_UA.replace("{service}", "ec2").replace("{version}", "1.0.0")
        rid = uuid1(rng)
        ev = _ec2_event(
            env,
            t_open,
            ident,
            ip,
            ua,
            "AuthorizeSecurityGroupIngress",
            sg_permission_request(sg.id, rule),
            sg_authorize_response(env, sg.id, rule, rid),
            rng,
        )
        ev["requestID"] = rid

        def open_(
            state: WorldState, t: float, env: RegionEnv = env, sg: Any = sg, rule: Rule = rule
        ) -> list[ConfigTouch]:
            sg.ingress.append(rule)
            state.rules_changed(sg.id, t, sg.ingress)
            return [sg_touch(env, sg.id)]

        out.append(Injection(t_open, acct, env.index, ev, open_))
        if t_close < day_start + 86400 - 900:
            ident2 = ids.assumed_role(acct, gha, "GitHubActions", world.seed, t_close - 600)
            rid2 = uuid1(rng)
            ev2 = _ec2_event(
                env,
                t_close,
                ident2,
                ip,
                ua,
                "RevokeSecurityGroupIngress",
                sg_permission_request(sg.id, rule),
                {"requestId": rid2, "_return": True},
                rng,
            )
            ev2["requestID"] = rid2

            def close(
                state: WorldState, t: float, env: RegionEnv = env, sg: Any = sg, rule: Rule = rule
            ) -> list[ConfigTouch]:
                sg.ingress[:] = [r for r in sg.ingress if r is not rule]
                state.rules_changed(sg.id, t, sg.ingress)
                return [sg_touch(env, sg.id)]

            out.append(Injection(t_close, acct, env.index, ev2, close))

    # the batch worker is stopped overnight and started in the morning (every region)
    for env in envs:
        inst = env.instance_by_tier("batch")[0]
        for hour, name, new_state, prev in (
            (5, "StartInstances", "running", "stopped"),
            (21, "StopInstances", "stopped", "running"),
        ):
            t = day_start + hour * 3600 + rng.randrange(0, 300)
            ident, ip, ua = _ci_actor(world, acct, "ec2")
            codes = {"running": 16, "stopped": 80, "pending": 0, "stopping": 64}
            current = "pending" if new_state == "running" else "stopping"
            req = {"instancesSet": {"items": [{"instanceId": inst.id}]}}
            if name == "StopInstances":
                req["force"] = False
            resp = {
                "requestId": uuid1(rng),
                "instancesSet": {
                    "items": [
                        {
                            "instanceId": inst.id,
                            "currentState": {"code": codes[current], "name": current},
                            "previousState": {"code": codes[prev], "name": prev},
                        }
                    ]
                },
            }
            ev = _ec2_event(env, t, ident, ip, ua, name, req, resp, rng)

            def switch(
                state: WorldState,
                t: float,
                env: RegionEnv = env,
                inst: Any = inst,
                new_state: str = new_state,
            ) -> list[ConfigTouch]:
                inst.state = new_state
                state.state_changed(inst.id, t, new_state)
                return [
                    ConfigTouch(
                        env,
                        "AWS::EC2::Instance",
                        inst.id,
                        lambda ms: cfg.instance_ci(env, inst, ms),
                    )
                ]

            out.append(Injection(t, acct, env.index, ev, switch))

    # people tag buckets and roles from the console now and then
    if rng.random() < 0.35:
        env = rng.choice(envs)
        bucket = rng.choice(env.buckets)
        t = day_start + rng.randrange(9 * 3600, 17 * 3600)
        ident, ip, ua = _sso_admin(world, acct, t)
        value = f"cc-{rng.randrange(100, 999)}"
        host = f"{bucket.name}.s3.{env.region}.amazonaws.com"
        req = {
            "bucketName": bucket.name,
            "Host": host,
            "tagging": "",
            "Tagging": {
                "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                "TagSet": {"Tag": [{"Key": "CostCenter", "Value": value}]},
            },
        }
        ev = record(
            identity=ident,
            event_time=t,
            source="s3.amazonaws.com",
            name="PutBucketTagging",
            region=env.region,
            ip=ip,
            user_agent="[" + ua + "]",
            request=req,
            response=None,
            account_id=acct.id,
            event_id=uuid1(rng),
            request_id=uuid1(rng)[:16].replace("-", "").upper(),
            read_only=False,
            additional={
                "SignatureVersion": "SigV4",
                "CipherSuite": TLS["cipherSuite"],
                "bytesTransferredIn": 180,
                "AuthenticationMethod": "AuthHeader",
                "bytesTransferredOut": 0,
            },
            resources=[
                {
                    "accountId": acct.id,
                    "type": "AWS::S3::Bucket",
                    "ARN": f"arn:aws:s3:::{bucket.name}",
                }
            ],
            tls_host=host,
            console_session=True,
        )

        def tag_bucket(
            state: WorldState,
            t: float,
            env: RegionEnv = env,
            bucket: Any = bucket,
            value: str = value,
        ) -> list[ConfigTouch]:
            bucket.tags["CostCenter"] = value
            return [
                ConfigTouch(
                    env, "AWS::S3::Bucket", bucket.name, lambda ms: cfg.bucket_ci(env, bucket, ms)
                )
            ]

        out.append(Injection(t, acct, env.index, ev, tag_bucket))
    if rng.random() < 0.25:
        env = envs[0]
        role = rng.choice(
            [
                r
                for r in acct.roles.values()
                if not r.path.startswith("/aws-") and r.name != SUPPORT_ROLE
            ]
        )
        t = day_start + rng.randrange(9 * 3600, 17 * 3600)
        ident, ip, ua = _sso_admin(world, acct, t)
        owner = rng.choice(["platform", "payments", "data", "security"])
        ev = record(
            identity=ident,
            event_time=t,
            source="iam.amazonaws.com",
            name="TagRole",
            region="us-east-1",
            ip=ip,
            user_agent=ua,
            request={"roleName": role.name, "tags": [{"key": "Owner", "value": owner}]},
            response=None,
            account_id=acct.id,
            event_id=uuid1(rng),
            request_id=uuid1(rng),
            read_only=False,
            tls_host="iam.amazonaws.com",
            console_session=True,
        )

        def tag_role(
            state: WorldState, t: float, env: RegionEnv = env, role: Any = role, owner: str = owner
        ) -> list[ConfigTouch]:
            role.tags["Owner"] = owner
            return [
                ConfigTouch(
                    env,
                    "AWS::IAM::Role",
                    role.role_id,
                    lambda ms: cfg.role_ci(env.account, role, ms),
                )
            ]

        out.append(Injection(t, acct, 0, ev, tag_role))
    if rng.random() < 0.1:
        env = rng.choice(envs)
        vol = next(v for v in env.volumes.values() if v.device == "/dev/sdf")
        t = day_start + rng.randrange(10 * 3600, 16 * 3600)
        ident, ip, ua = _sso_admin(world, acct, t)
        new_size = vol.size + 100
        req = {"ModifyVolumeRequest": {"VolumeId": vol.id, "Size": new_size}}
        resp = {
            "ModifyVolumeResponse": {
                "xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/",
                "requestId": uuid1(rng),
                "volumeModification": {
                    "modificationState": "modifying",
                    "originalSize": vol.size,
                    "targetSize": new_size,
                    "volumeId": vol.id,
                    "progress": 0,
                },
            }
        }
        ev = _ec2_event(env, t, ident, ip, ua, "ModifyVolume", req, resp, rng)
        ev["sessionCredentialFromConsole"] = "true"

        def grow(
            state: WorldState,
            t: float,
            env: RegionEnv = env,
            vol: Any = vol,
            new_size: int = new_size,
        ) -> list[ConfigTouch]:
            vol.size = new_size
            return [
                ConfigTouch(env, "AWS::EC2::Volume", vol.id, lambda ms: cfg.volume_ci(env, vol, ms))
            ]

        out.append(Injection(t, acct, env.index, ev, grow))

    # console sign-ins of people with IAM users (always with MFA in the baseline)
    if weekday:
        for user in acct.users.values():
            if user.kind != "human" or rng.random() < 0.3:
                continue
            t = day_start + rng.randrange(7 * 3600, 10 * 3600)
            out.append(
                Injection(
                    t, acct, 0, console_login(world, acct, user, t, rng, success=True, mfa=True)
                )
            )
    return out


def console_login(
    world: World,
    acct: Account,
    user: Any,
    t: float,
    rng: random.Random,
    *,
    success: bool,
    mfa: bool,
    ip: str | None = None,
    user_agent: str | None = None,
) -> dict[str, Any]:
    """A ConsoleLogin record of an IAM user (success or ``Failed authentication``)."""
    if ip is None:
        ip = random_ip(
            rng_for(world.seed, "home-ip", acct.id, user.name),
            rng.choice(HOME_CIDRS + OFFICE_CIDRS),
        )
    ua = user_agent or BROWSER_UAS[sum(user.name.encode()) % len(BROWSER_UAS)]
    ident = ids.iam_user(acct, user)
    ident.pop("accessKeyId", None)
    additional: dict[str, Any] = {
        "LoginTo": "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_"
        + rng.randbytes(8).hex(),
        "MobileVersion": "No",
        "MFAUsed": "Yes" if mfa and success else "No",
    }
    if mfa and success:
        additional["MFAIdentifier"] = f"arn:aws:iam::{acct.id}:mfa/{user.name}"
    return record(
        identity=ident,
        event_time=t,
        source="signin.amazonaws.com",
        name="ConsoleLogin",
        region="us-east-1",
        ip=ip,
        user_agent=ua,
        request=None,
        response={"ConsoleLogin": "Success" if success else "Failure"},
        account_id=acct.id,
        event_id=uuid1(rng),
        request_id=None,
        read_only=False,
        error=None if success else ("", "Failed authentication"),
        additional=additional,
        event_type="AwsConsoleSignIn",
        tls_host="us-east-1.signin.aws.amazon.com",
    )
