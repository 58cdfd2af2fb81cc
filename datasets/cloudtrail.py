"""CloudTrail records: the bulk baseline from templated JSON fragments, and single records.

Speed comes from doing the JSON work once: every (principal, API call) pair becomes a
``%``-format template whose static parts are already serialised, with a handful of pre-serialised
variants of its ``requestParameters``/``responseElements``/``resources``. An event is then one
string formatting call with the event time, ids, address and identity of its session.
"""

from __future__ import annotations

import functools
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from . import identities as ids
from ._util import compact, date_parts, iso_seconds, rng_for, uuids
from .actions import (
    ACTIONS,
    BACKUP_ACTIONS,
    CI_ACTIONS,
    CONFIG_SERVICE_ACTIONS,
    HUMAN_CLI,
    HUMAN_CONSOLE,
    LAMBDA_ACTIONS,
    MONITORING_ACTIONS,
    SERVICE_KMS_ACTIONS,
    WORKLOAD_ACTIONS,
    Action,
    s3_object_call,
)
from .world import (
    BROWSER_UAS,
    CI_CIDRS,
    CLI_UAS,
    GHA_UA,
    HOME_CIDRS,
    LAMBDA_UA,
    OFFICE_CIDRS,
    TERRAFORM_UA,
    WORKLOAD_UAS,
    Account,
    IamUser,
    RegionEnv,
    World,
    random_ip,
)

WINDOW = 300  # CloudTrail delivers a file per account and region about every five minutes
CLASS_SHARE = {"workload": 0.40, "service": 0.22, "human": 0.20, "ci": 0.18}
TLS = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"}


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def record(
    *,
    identity: dict[str, Any],
    event_time: float,
    source: str,
    name: str,
    region: str,
    ip: str,
    user_agent: str,
    request: Any,
    response: Any,
    account_id: str,
    event_id: str,
    request_id: str | None,
    read_only: bool,
    error: tuple[str, str] | None = None,
    additional: dict[str, Any] | None = None,
    resources: list[dict[str, str]] | None = None,
    event_type: str = "AwsApiCall",
    category: str = "Management",
    tls_host: str | None = None,
    console_session: bool = False,
    vpce: str | None = None,
    version: str = "1.09",
    api_version: str | None = None,
) -> dict[str, Any]:
    """One CloudTrail record, keys in the order CloudTrail writes them."""
    ev: dict[str, Any] = {
        "eventVersion": version,
        "userIdentity": identity,
        "eventTime": iso_seconds(event_time),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": user_agent,
    }
    if error:
        code, message = error
        if code:
            ev["errorCode"] = code
        ev["errorMessage"] = message
    ev["requestParameters"] = request
    ev["responseElements"] = response
    if additional is not None:
        ev["additionalEventData"] = additional
    if request_id is not None:
        ev["requestID"] = request_id
    ev["eventID"] = event_id
    ev["readOnly"] = read_only
    if resources:
        ev["resources"] = resources
    ev["eventType"] = event_type
    if api_version:
        ev["apiVersion"] = api_version
    ev["managementEvent"] = category == "Management"
    ev["recipientAccountId"] = account_id
    if vpce:
        ev["vpcEndpointId"] = vpce
        ev["vpcEndpointAccountId"] = account_id
    ev["eventCategory"] = category
    if tls_host:
        ev["tlsDetails"] = {**TLS, "clientProvidedHostHeader": tls_host}
    if console_session:
        ev["sessionCredentialFromConsole"] = "true"
    return ev


@dataclass
class Principal:
    """A caller of the baseline: who it is, from where, with what tool, doing what."""

    name: str
    cls: str  # rhythm class: human | ci | service | workload
    weight: float
    actions: Mapping[str, float]
    ips: list[str]
    user_agents: list[str]
    identity: Callable[[float], dict[str, Any]]
    session_seconds: int = 0  # 0: the identity never changes (long-term access key)
    arn: str = ""
    invoked_by: str | None = None  # AWS service calling on the principal's behalf
    s3_ip: str | None = None  # address S3 sees (gateway endpoint) for workloads
    vpce: str | None = None
    console: bool = False
    current: str = ""  # identity JSON of the window being rendered
    # how each new session is obtained: ("ec2.amazonaws.com" | "lambda.amazonaws.com" | ... |
    # "web-identity", role name, session name); None when no STS call precedes the session
    session_start: tuple[str, str, str] | None = None
    _cache: dict[int, str] = field(default_factory=dict)

    def identity_json(self, t: float) -> str:
        if not self.session_seconds:
            block = 0
        else:
            block = int(t // self.session_seconds)
        cached = self._cache.get(block)
        if cached is None:
            if len(self._cache) > 64:
                self._cache.clear()
            start = block * self.session_seconds - 137 if self.session_seconds else 0
            cached = dumps(self.identity(start))
            self._cache[block] = cached
        return cached


def principals_for(world: World, env: RegionEnv) -> list[Principal]:
    acct = env.account
    seed = world.seed
    rng = rng_for(seed, "principals", acct.id, env.region)
    out: list[Principal] = []
    home_ips = {}
    for user in acct.users.values():
        home_ips[user.name] = [
            random_ip(rng_for(seed, "home-ip", acct.id, user.name), rng.choice(HOME_CIDRS)),
            random_ip(rng, OFFICE_CIDRS[0]),
        ]
        if user.kind == "human":
            out.append(
                Principal(
                    f"user/{user.name}/cli",
                    "human",
                    1.0,
                    HUMAN_CLI,
                    home_ips[user.name],
                    [CLI_UAS[hash_index(user.name, len(CLI_UAS))]],
                    functools.partial(_long_term_key, acct, user),
                    arn=f"arn:aws:iam::{acct.id}:user/{user.name}",
                )
            )
            out.append(
                Principal(
                    f"user/{user.name}/console",
                    "human",
                    0.8,
                    HUMAN_CONSOLE,
                    home_ips[user.name],
                    [BROWSER_UAS[hash_index(user.name, len(BROWSER_UAS))]],
                    functools.partial(ids.iam_user_console, acct, user, seed, mfa=True),
                    session_seconds=4 * 3600,
                    arn=f"arn:aws:iam::{acct.id}:user/{user.name}",
                    console=True,
                )
            )
        elif user.kind == "ci":
            ci_ips = [random_ip(rng, c) for c in CI_CIDRS]
            out.append(
                Principal(
                    f"user/{user.name}",
                    "ci",
                    1.0,
                    CI_ACTIONS,
                    ci_ips,
                    [TERRAFORM_UA],
                    functools.partial(_long_term_key, acct, user),
                    arn=f"arn:aws:iam::{acct.id}:user/{user.name}",
                )
            )
        elif user.name == "monitoring-exporter":
            out.append(
                Principal(
                    f"user/{user.name}",
                    "service",
                    0.6,
                    MONITORING_ACTIONS,
                    [random_ip(rng, OFFICE_CIDRS[1])],
                    [CLI_UAS[2]],
                    functools.partial(_long_term_key, acct, user),
                    arn=f"arn:aws:iam::{acct.id}:user/{user.name}",
                )
            )
        else:  # backup-operator: nightly copies from inside the VPC
            out.append(
                Principal(
                    f"user/{user.name}",
                    "service",
                    0.3,
                    BACKUP_ACTIONS,
                    [env.nat_ip],
                    [WORKLOAD_UAS[1]],
                    functools.partial(_long_term_key, acct, user),
                    arn=f"arn:aws:iam::{acct.id}:user/{user.name}",
                )
            )
    sso_admin = next(r for n, r in acct.roles.items() if n.startswith("AWSReservedSSO_Admin"))
    sso_ro = next(r for n, r in acct.roles.items() if n.startswith("AWSReservedSSO_ReadOnly"))
    for i, person in enumerate(acct.sso_people):
        role = sso_admin if i == 0 else sso_ro
        email = f"{person}@acme.example"
        ip = random_ip(rng_for(seed, "home-ip", acct.id, person), rng.choice(HOME_CIDRS))
        out.append(
            Principal(
                f"sso/{person}",
                "human",
                1.2,
                HUMAN_CONSOLE,
                [ip],
                [BROWSER_UAS[hash_index(person, len(BROWSER_UAS))]],
                functools.partial(ids.assumed_role, acct, role, email, seed),
                session_seconds=8 * 3600,
                arn=f"arn:aws:sts::{acct.id}:assumed-role/{role.name}/{email}",
                console=True,
            )
        )
    gha = acct.roles["github-actions-deploy"]
    out.append(
        Principal(
            "role/github-actions-deploy",
            "ci",
            1.4,
            CI_ACTIONS,
            [random_ip(rng, CI_CIDRS[1]) for _ in range(4)],
            [GHA_UA],
            lambda t: ids.assumed_role(acct, gha, "GitHubActions", seed, t),
            session_seconds=3600,
            arn=f"arn:aws:sts::{acct.id}:assumed-role/{gha.name}/GitHubActions",
            session_start=("web-identity", gha.name, "GitHubActions"),
        )
    )
    for inst in env.instances:
        if inst.tier == "db":
            continue
        role = acct.roles[inst.role_name]
        weight = {"web": 1.0, "app": 1.6, "batch": 2.0, "bastion": 0.1}[inst.tier]
        out.append(
            Principal(
                f"instance/{inst.id}",
                "workload",
                weight,
                WORKLOAD_ACTIONS,
                [inst.public_ip or env.nat_ip],
                [WORKLOAD_UAS[0] if inst.tier in ("app", "web") else WORKLOAD_UAS[1]],
                functools.partial(
                    ids.assumed_role, acct, role, inst.id, seed, ec2_role_delivery="2.0"
                ),
                session_seconds=6 * 3600,
                arn=f"arn:aws:sts::{acct.id}:assumed-role/{role.name}/{inst.id}",
                s3_ip=inst.private_ip,
                vpce=env.s3_endpoint,
                session_start=("ec2.amazonaws.com", role.name, inst.id),
            )
        )
        out.append(
            Principal(
                f"instance/{inst.id}/via-s3",
                "service",
                weight * 0.5,
                SERVICE_KMS_ACTIONS,
                ["s3.amazonaws.com"],
                ["s3.amazonaws.com"],
                functools.partial(
                    ids.assumed_role,
                    acct,
                    role,
                    inst.id,
                    seed,
                    invoked_by="s3.amazonaws.com",
                    ec2_role_delivery="2.0",
                ),
                session_seconds=6 * 3600,
                invoked_by="s3.amazonaws.com",
            )
        )
    lam = acct.roles["report-builder-lambda-role"]
    out.append(
        Principal(
            "role/report-builder-lambda-role",
            "workload",
            1.2,
            LAMBDA_ACTIONS,
            [random_ip(rng, "3.208.0.0/12") for _ in range(6)],
            [LAMBDA_UA],
            lambda t: ids.assumed_role(acct, lam, env.lambda_functions[0], seed, t),
            session_seconds=2 * 3600,
            arn=f"arn:aws:sts::{acct.id}:assumed-role/{lam.name}/{env.lambda_functions[0]}",
            session_start=("lambda.amazonaws.com", lam.name, env.lambda_functions[0]),
        )
    )
    cfg = acct.roles["AWSServiceRoleForConfig"]
    out.append(
        Principal(
            "role/AWSServiceRoleForConfig",
            "service",
            2.0,
            CONFIG_SERVICE_ACTIONS,
            ["config.amazonaws.com"],
            ["config.amazonaws.com"],
            lambda t: ids.assumed_role(
                acct, cfg, "AWSConfig-Describe", seed, t, invoked_by="config.amazonaws.com"
            ),
            session_seconds=3600,
            invoked_by="config.amazonaws.com",
            session_start=("config.amazonaws.com", cfg.name, "AWSConfig-Describe"),
        )
    )
    return out


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _long_term_key(acct: Account, user: IamUser, _created: float) -> dict[str, Any]:
    """An IAM user calling with its access key: the same identity whenever the session began."""
    return ids.iam_user(acct, user)


def java_date(t: float) -> str:
    """Dates as STS and IAM print them in responseElements (``May 6, 2024, 6:57:43 PM``)."""
    tm = time.gmtime(int(t))
    hour = tm.tm_hour % 12 or 12
    half = "AM" if tm.tm_hour < 12 else "PM"
    return f"{_MONTHS[tm.tm_mon - 1]} {tm.tm_mday}, {tm.tm_year}, {hour}:{tm.tm_min:02d}:{tm.tm_sec:02d} {half}"


def session_events(
    world: World, env: RegionEnv, principals: list[Principal], day_start: float
) -> list[tuple[float, dict[str, Any]]]:
    """The STS calls that start each role session used during a day (AssumeRole by the EC2,
    Lambda or Config service, AssumeRoleWithWebIdentity by GitHub Actions); their credentials are
    the ``accessKeyId`` the session's events carry."""
    acct = env.account
    out: list[tuple[float, dict[str, Any]]] = []
    for p in principals:
        if p.session_start is None or not p.session_seconds:
            continue
        via, role_name, session = p.session_start
        role = acct.roles[role_name]
        role_arn = ids.role_arn(acct, role)
        first = int(day_start // p.session_seconds)
        for block in range(first, first + 86400 // p.session_seconds + 2):
            created = block * p.session_seconds - 137
            if not day_start <= created < day_start + 86400:
                continue
            rng = rng_for(world.seed, "sts", acct.id, env.region, p.name, block)
            key = ids.assumed_role(acct, role, session, world.seed, created)["accessKeyId"]
            token = "IQoJb3JpZ2luX2Vj" + "".join(
                rng.choices(
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", k=340
                )
            )
            credentials = {
                "accessKeyId": key,
                "sessionToken": token,
                "expiration": java_date(created + p.session_seconds + 3600),
            }
            assumed = {
                "assumedRoleId": f"{role.role_id}:{session}",
                "arn": f"arn:aws:sts::{acct.id}:assumed-role/{role.name}/{session}",
            }
            request: dict[str, Any] = {"roleArn": role_arn, "roleSessionName": session}
            if via == "web-identity":
                subject = "repo:acme/infrastructure:ref:refs/heads/main"
                provider = (
                    f"arn:aws:iam::{acct.id}:oidc-provider/token.actions.githubusercontent.com"
                )
                identity = {
                    "type": "WebIdentityUser",
                    "principalId": f"{provider}:sts.amazonaws.com:{subject}",
                    "userName": subject,
                    "identityProvider": provider,
                }
                name = "AssumeRoleWithWebIdentity"
                ip = p.ips[block % len(p.ips)]
                ua = p.user_agents[0].replace("{service}", "sts")
                response = {
                    "credentials": credentials,
                    "subjectFromWebIdentityToken": subject,
                    "assumedRoleUser": assumed,
                    "provider": provider,
                    "audience": "sts.amazonaws.com",
                }
                tls = f"sts.{env.region}.amazonaws.com"
            else:
                identity = ids.aws_service(via)
                name = "AssumeRole"
                ip = ua = via
                request["durationSeconds"] = p.session_seconds + 3600
                response = {"credentials": credentials, "assumedRoleUser": assumed}
                tls = None
            ev = record(
                identity=identity,
                event_time=created,
                source="sts.amazonaws.com",
                name=name,
                region=env.region,
                ip=ip,
                user_agent=ua,
                request=request,
                response=response,
                account_id=acct.id,
                event_id=uuids(rng, 1)[0],
                request_id=uuids(rng, 1)[0],
                read_only=True,
                resources=[{"accountId": acct.id, "type": "AWS::IAM::Role", "ARN": role_arn}],
                tls_host=tls,
                version="1.08",
            )
            if via != "web-identity":
                # the service's call and the role's session are one cross-account pair
                ev = _with_shared_id(ev, uuids(rng, 1)[0])
            out.append((created, ev))
    return out


def _with_shared_id(ev: dict[str, Any], shared: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in ev.items():
        if k == "eventCategory":
            out["sharedEventID"] = shared
        out[k] = v
    return out


def hash_index(text: str, n: int) -> int:
    return sum(text.encode()) % n


@dataclass
class Template:
    fmt: str
    cls: str
    weight: float
    principal: Principal
    variants: list[tuple[str, str, str]]
    errors: list[tuple[str, str, str]]
    err_threshold: int  # out of 65536
    ips: list[str]
    uas: list[str]
    s3_request_id: bool
    action: str


def _escape(text: str) -> str:
    return text.replace("%", "%%")


def compile_templates(
    world: World, env: RegionEnv, principals: list[Principal]
) -> dict[str, list[Template]]:
    """All templates of one account and region, grouped by rhythm class."""
    by_class: dict[str, list[Template]] = {c: [] for c in CLASS_SHARE}
    acct = env.account
    for p in principals:
        total = sum(p.actions.values())
        for action_name, w in p.actions.items():
            action = ACTIONS[action_name]
            if action.global_service and not env.is_home:
                continue
            rng = rng_for(world.seed, "template", acct.id, env.region, p.name, action_name)
            tpl = _template(world, env, p, action, rng)
            tpl.weight = p.weight * w / total
            by_class[p.cls].append(tpl)
    return by_class


def _template(
    world: World, env: RegionEnv, p: Principal, action: Action, rng: random.Random
) -> Template:
    acct = env.account
    variants: list[tuple[str, str, str]] = []
    via_service = p.invoked_by is not None
    data = action.data_event
    for _ in range(action.variants):
        if data:
            call = s3_object_call(action.name, env, rng, None)
            req, res_list, add, host = (
                call["request"],
                call["resources"],
                call["additional"],
                call["host"],
            )
            resp = None
        else:
            req = action.request(env, rng) if action.request else None
            resp = action.response(env, rng) if action.response else None
            res_list = action.resources(env, rng) if action.resources else None
            add = action.additional(env, rng) if action.additional else None
            host = action.host(env)
            if action.service == "s3" and isinstance(req, dict) and "Host" in req:
                host = req["Host"]
        mid = ',"requestParameters":' + dumps(req) + ',"responseElements":' + dumps(resp)
        if add is not None:
            mid += ',"additionalEventData":' + dumps(add)
        res = ',"resources":' + dumps(res_list) if res_list else ""
        tls = (
            ""
            if via_service
            else ',"tlsDetails":' + dumps({**TLS, "clientProvidedHostHeader": host})
        )
        variants.append((mid, res, tls))
    errors: list[tuple[str, str, str]] = []
    threshold = 0
    target = rng.choice(list(acct.users))
    for prob, code, msg in action.errors:
        message = msg.format(arn=p.arn, name=action.name, account=acct.id, target=target)
        err = (
            ',"errorCode":' + dumps(code) + (',"errorMessage":' + dumps(message) if message else "")
        )
        base_mid, base_res, base_tls = variants[len(errors) % len(variants)]
        req_part = base_mid.split(',"responseElements":', 1)[0]
        added = base_mid.split(',"additionalEventData":', 1)
        add_part = ',"additionalEventData":' + added[1] if len(added) == 2 else ""
        # same request, resources and host as the variant it failed on, and a null response
        errors.append((err + req_part + ',"responseElements":null' + add_part, base_res, base_tls))
        threshold += int(prob * 65536)
    use_vpce = p.vpce is not None and action.service == "s3"
    ips = [p.s3_ip] if use_vpce and p.s3_ip else p.ips
    if action.service == "s3" and not via_service and p.cls != "workload":
        uas = [
            "[" + ua.replace("{service}", "s3").replace("{version}", "1.53.1") + "]"
            for ua in p.user_agents
        ]
    else:
        uas = [
            ua.replace("{service}", action.service).replace("{version}", "1.0.0")
            for ua in p.user_agents
        ]
    category = "Data" if data else "Management"
    tail = ',"eventType":"AwsApiCall"'
    if action.api_version:
        tail += ',"apiVersion":' + dumps(action.api_version)
    tail += ',"managementEvent":' + ("false" if data else "true")
    tail += ',"recipientAccountId":"' + acct.id + '"'
    if use_vpce:
        tail += ',"vpcEndpointId":"' + str(p.vpce) + '","vpcEndpointAccountId":"' + acct.id + '"'
    tail += ',"eventCategory":"' + category + '"'
    fmt = (
        '{"eventVersion":"'
        + ("1.10" if data else "1.09")
        + '","userIdentity":%s,"eventTime":"%s","eventSource":"'
        + action.event_source
        + '","eventName":"'
        + action.name
        + '","awsRegion":"'
        + env.region
        + '","sourceIPAddress":"%s","userAgent":%s%s,"requestID":"%s","eventID":"%s","readOnly":'
        + ("true" if action.read_only else "false")
        + "%s"
        + _escape(tail)
        + "%s"
        + (',"sessionCredentialFromConsole":"true"' if p.console else "")
        + "}"
    )
    return Template(
        fmt=fmt,
        cls=p.cls,
        weight=0.0,
        principal=p,
        variants=variants,
        errors=errors,
        err_threshold=threshold,
        ips=ips,
        uas=[dumps(u) for u in uas],
        s3_request_id=action.service == "s3",
        action=f"{action.service}:{action.name}",
    )


# ---------------------------------------------------------------- rhythm


def rhythm(cls: str, t: float, seed: int, account_id: str) -> float:
    """Relative activity of a class of callers at time ``t`` (UTC)."""
    tm = time.gmtime(int(t))
    hour = tm.tm_hour + tm.tm_min / 60.0
    weekend = tm.tm_wday >= 5
    if cls == "human":
        day = 0.04 + math.exp(-(((hour - 13.0) / 3.3) ** 2))
        return day * (0.12 if weekend else 1.0)
    if cls == "ci":
        base = 0.03
        if 1.9 <= hour < 2.4:  # nightly drift detection
            base += 2.5
        if not weekend and 8 <= hour < 19:
            slot = int(t // 1800)
            if rng_for(seed, "ci-burst", account_id, slot).random() < 0.45 and (t % 1800) < 900:
                base += 1.6
        return base
    if cls == "workload":
        return 0.55 + 0.45 * math.exp(-(((hour - 15.0) / 5.0) ** 2)) * (0.7 if weekend else 1.0)
    return 1.0 + 0.08 * math.sin(hour / 24 * 2 * math.pi)


def day_counts(
    seed: int, account_id: str, region: str, day_start: float, events_per_day: int
) -> list[dict[str, int]]:
    """Number of baseline events per class for each five-minute window of one day."""
    windows = 86400 // WINDOW
    rng = rng_for(seed, "counts", account_id, region, int(day_start))
    out: list[dict[str, int]] = [{} for _ in range(windows)]
    for cls, share in CLASS_SHARE.items():
        weights = [rhythm(cls, day_start + w * WINDOW, seed, account_id) for w in range(windows)]
        total = sum(weights)
        expected = events_per_day * share
        for w in range(windows):
            mean = expected * weights[w] / total
            noise = 1.0 + 0.15 * (rng.random() - 0.5)
            out[w][cls] = int(mean * noise + rng.random())
    return out


_SS = [f"{s:02d}Z" for s in range(60)]


def window_times(start: int) -> list[str]:
    """``eventTime`` strings for every second of a window starting on a minute boundary."""
    out: list[str] = []
    for minute in range(WINDOW // 60):
        prefix = iso_seconds(start + minute * 60)[:17]
        out.extend(prefix + ss for ss in _SS)
    return out


class WindowRenderer:
    """Renders the baseline events of one account and region window by window."""

    def __init__(self, world: World, env: RegionEnv) -> None:
        self.world = world
        self.env = env
        self.principals = principals_for(world, env)
        self.by_class = compile_templates(world, env, self.principals)
        self.cum: dict[str, list[float]] = {}
        for cls, tpls in self.by_class.items():
            acc = 0.0
            cum = []
            for t in tpls:
                acc += t.weight
                cum.append(acc)
            self.cum[cls] = cum
        self._second_cache: tuple[int, list[str]] | None = None

    def render(
        self, window_start: float, counts: dict[str, int], rng: random.Random
    ) -> tuple[list[str], float, float]:
        """The window's events, and the times of its oldest and newest event."""
        picks: list[Template] = []
        for cls, n in counts.items():
            if n and self.by_class[cls]:
                picks.extend(rng.choices(self.by_class[cls], cum_weights=self.cum[cls], k=n))
        n = len(picks)
        if not n:
            return [], window_start, window_start
        start = int(window_start)
        times = window_times(start)
        eids = uuids(rng, n)
        rids = uuids(rng, n)
        bits = [rng.getrandbits(64) for _ in range(n)]
        secs = [x % WINDOW for x in bits]
        # sessions start on hour boundaries, so a window sees one identity per principal
        for p in self.principals:
            p.current = p.identity_json(start)
        out: list[str] = []
        append = out.append
        for i in range(n):
            tp = picks[i]
            x = bits[i] >> 9
            sec = secs[i]
            if (x & 0xFFFF) < tp.err_threshold:
                mid, res, tls = tp.errors[(x >> 16) % len(tp.errors)]
            else:
                mid, res, tls = tp.variants[(x >> 16) % len(tp.variants)]
            x >>= 24
            rid = rids[i]
            if tp.s3_request_id:
                rid = (rid[:8] + rid[9:13] + rid[14:18]).upper()
            append(
                tp.fmt
                % (
                    tp.principal.current,
                    times[sec],
                    tp.ips[x % len(tp.ips)],
                    tp.uas[(x >> 8) % len(tp.uas)],
                    mid,
                    rid,
                    eids[i],
                    res,
                    tls,
                )
            )
        return out, start + min(secs), start + max(secs)


def file_key(
    account_id: str,
    region: str,
    delivered: float,
    unique: str,
    org_id: str | None,
    kind: str = "CloudTrail",
) -> str:
    y, m, d, _ = date_parts(delivered)
    org = f"{org_id}/" if org_id else ""
    return (
        f"AWSLogs/{org}{account_id}/{kind}/{region}/{y:04d}/{m:02d}/{d:02d}/"
        f"{account_id}_{kind}_{region}_{compact(delivered)}_{unique}.json.gz"
    )


def wrap(events: list[str]) -> bytes:
    return ('{"Records":[' + ",".join(events) + "]}").encode()
