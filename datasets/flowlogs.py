"""VPC Flow Logs delivered to S3 as gzip text with a header line (default v2 or custom v5).

Traffic follows the world: the internet reaches the web tier on 80/443, the web tier calls the
application tier on 8080, the application tier the database on 5432, the office reaches the
bastion on 22, everything fetches from S3 through the gateway endpoint. Scanners knock on other
ports and are rejected unless a security group (as it is at that moment) lets them in. Each
connection gives an ingress and an egress record on every ENI of the VPC it touches.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ._util import compact, date_parts, rng_for
from .state import WorldState
from .world import (
    HOME_CIDRS,
    INTERNET_CIDRS,
    OFFICE_CIDRS,
    Instance,
    RegionEnv,
    Rule,
    az_id,
    random_ip,
)

V2_FIELDS = [
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
]
V5_FIELDS = [
    "version",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "start",
    "end",
    "type",
    "packets",
    "bytes",
    "account-id",
    "vpc-id",
    "subnet-id",
    "instance-id",
    "interface-id",
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    "action",
    "tcp-flags",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "traffic-path",
    "flow-direction",
    "log-status",
]
S3_CIDRS = {"us-east-1": "52.216.0.0/15", "eu-west-1": "52.218.0.0/17"}
SCAN_PORTS = [22, 23, 445, 3389, 3306, 5900, 8080, 6379, 9200, 2375, 443]
PUBLIC_SOURCES = INTERNET_CIDRS + HOME_CIDRS


@dataclass
class Flow:
    """One flow record before formatting (one direction on one ENI)."""

    inst: Instance
    src: str
    dst: str
    sport: int
    dport: int
    proto: int
    packets: int
    nbytes: int
    start: int
    end: int
    action: str
    direction: str  # ingress | egress
    tcp_flags: int
    src_service: str = "-"
    dst_service: str = "-"
    traffic_path: str = "-"
    tag: str | None = None  # scenario name, for the ground truth
    nodata: bool = False


def header(fmt: str) -> str:
    return " ".join(V5_FIELDS if fmt == "v5" else V2_FIELDS)


def format_line(env: RegionEnv, f: Flow, fmt: str) -> str:
    acct = env.account.id
    if f.nodata:
        if fmt == "v2":
            return f"2 {acct} {f.inst.eni} - - - - - - - {f.start} {f.end} - NODATA"
        return (
            f"5 - - - - - {f.start} {f.end} - - - {acct} {env.vpc_id} {f.inst.subnet_id} {f.inst.id} "
            f"{f.inst.eni} {env.region} {az_id(env.region, f.inst.az)} - - - - - - - - - - NODATA"
        )
    if fmt == "v2":
        return (
            f"2 {acct} {f.inst.eni} {f.src} {f.dst} {f.sport} {f.dport} {f.proto} {f.packets} "
            f"{f.nbytes} {f.start} {f.end} {f.action} OK"
        )
    return (
        f"5 {f.src} {f.dst} {f.sport} {f.dport} {f.proto} {f.start} {f.end} IPv4 {f.packets} {f.nbytes} "
        f"{acct} {env.vpc_id} {f.inst.subnet_id} {f.inst.id} {f.inst.eni} {env.region} "
        f"{az_id(env.region, f.inst.az)} - - {f.action} {f.tcp_flags} {f.src} {f.dst} "
        f"{f.src_service} {f.dst_service} {f.traffic_path} {f.direction} OK"
    )


def file_key(env: RegionEnv, window_start: float, unique: str) -> str:
    y, m, d, _ = date_parts(window_start)
    acct = env.account.id
    return (
        f"AWSLogs/{acct}/vpcflowlogs/{env.region}/{y:04d}/{m:02d}/{d:02d}/"
        f"{acct}_vpcflowlogs_{env.region}_{env.flow_log_id}_{compact(window_start)}_{unique}.log.gz"
    )


def allowed(
    state: WorldState,
    inst: Instance,
    port: int,
    proto: int,
    src: str,
    src_groups: set[str],
    t: float,
) -> Rule | None:
    """The first rule (as the groups are at ``t``) that lets the traffic in, if any."""
    return next(
        (
            rule
            for sg in inst.sg_ids
            for rule in state.rules_at(sg, t)
            if rule.allows(port, proto, src, src_groups)
        ),
        None,
    )


def connection(
    rng: random.Random,
    env: RegionEnv,
    state: WorldState,
    t: int,
    client: Instance | None,
    client_ip: str,
    server: Instance | None,
    server_ip: str,
    dport: int,
    *,
    req_bytes: int,
    resp_bytes: int,
    proto: int = 6,
    dst_service: str = "-",
    path: str = "-",
    tag: str | None = None,
) -> list[Flow]:
    """The records a connection leaves on the ENIs of this VPC (both directions)."""
    sport = rng.randrange(32768, 61000)
    start = t
    end = t + rng.randrange(1, 59)
    req_pk = max(1, req_bytes // 1200 + rng.randrange(2, 6))
    resp_pk = max(1, resp_bytes // 1400 + rng.randrange(2, 6))
    client_groups = set(client.sg_ids) if client else set()
    rule = None
    if server is not None:
        rule = allowed(state, server, dport, proto, client_ip, client_groups, t)
        if rule is not None and rule.tag and tag is None:
            tag = rule.tag
    out: list[Flow] = []
    if server is not None and rule is None:
        # the server's security group drops the SYN: one rejected ingress record, nothing back
        out.append(
            Flow(
                server,
                client_ip,
                server_ip,
                sport,
                dport,
                proto,
                1,
                44 + 16 * rng.randrange(0, 2),
                start,
                end,
                "REJECT",
                "ingress",
                2,
                tag=tag,
            )
        )
        if client is not None:
            out.append(
                Flow(
                    client,
                    client_ip,
                    server_ip,
                    sport,
                    dport,
                    proto,
                    2,
                    120,
                    start,
                    end,
                    "ACCEPT",
                    "egress",
                    2,
                    traffic_path="1",
                    tag=tag,
                )
            )
        return out
    if server is not None:
        out.append(
            Flow(
                server,
                client_ip,
                server_ip,
                sport,
                dport,
                proto,
                req_pk,
                req_bytes,
                start,
                end,
                "ACCEPT",
                "ingress",
                3,
                tag=tag,
            )
        )
        out.append(
            Flow(
                server,
                server_ip,
                client_ip,
                dport,
                sport,
                proto,
                resp_pk,
                resp_bytes,
                start,
                end,
                "ACCEPT",
                "egress",
                19,
                traffic_path="1" if client else "8",
                tag=tag,
            )
        )
    if client is not None:
        out.append(
            Flow(
                client,
                client_ip,
                server_ip,
                sport,
                dport,
                proto,
                req_pk,
                req_bytes,
                start,
                end,
                "ACCEPT",
                "egress",
                3,
                dst_service=dst_service,
                traffic_path=path,
                tag=tag,
            )
        )
        out.append(
            Flow(
                client,
                server_ip,
                client_ip,
                dport,
                sport,
                proto,
                resp_pk,
                resp_bytes,
                start,
                end,
                "ACCEPT",
                "ingress",
                19,
                src_service=dst_service,
                tag=tag,
            )
        )
    return out


def window_flows(
    env: RegionEnv,
    state: WorldState,
    window_start: float,
    n_connections: int,
    rng: random.Random,
) -> tuple[list[Flow], list[tuple[int, Instance, str, str]]]:
    """Baseline flows of one five-minute window, plus the HTTP requests the web tier served.

    The second list feeds the application logs: ``(time, web instance, client ip, kind)``.
    """
    flows: list[Flow] = []
    requests: list[tuple[int, Instance, str, str]] = []
    web = [i for i in env.instances if i.tier == "web"]
    app = [i for i in env.instances if i.tier == "app"]
    db = env.instance_by_tier("db")[0]
    bastion = env.instance_by_tier("bastion")[0]
    public = [i for i in env.instances if i.public_ip]
    s3_cidr = S3_CIDRS.get(env.region, "52.92.0.0/17")
    ws = int(window_start)

    def up(inst: Instance, t: int) -> bool:
        return state.running(inst.id, t)

    kinds = [
        "https",
        "https",
        "https",
        "http",
        "internal",
        "internal",
        "db",
        "s3",
        "egress",
        "scan",
        "scan",
        "ssh",
    ]
    for _ in range(n_connections):
        t = ws + rng.randrange(0, 300 - 60)
        kind = rng.choice(kinds)
        if kind in ("https", "http"):
            server = rng.choice(web)
            if not up(server, t):
                continue
            client_ip = random_ip(rng, rng.choice(PUBLIC_SOURCES))
            port = 443 if kind == "https" else 80
            resp = int(rng.lognormvariate(9, 1.3)) + 300
            flows += connection(
                rng,
                env,
                state,
                t,
                None,
                client_ip,
                server,
                server.private_ip,
                port,
                req_bytes=rng.randrange(300, 2500),
                resp_bytes=resp,
            )
            requests.append((t, server, client_ip, kind))
        elif kind == "internal":
            client, server = rng.choice(web), rng.choice(app)
            if up(client, t) and up(server, t):
                flows += connection(
                    rng,
                    env,
                    state,
                    t,
                    client,
                    client.private_ip,
                    server,
                    server.private_ip,
                    8080,
                    req_bytes=rng.randrange(400, 3000),
                    resp_bytes=rng.randrange(800, 60000),
                )
                requests.append((t, server, client.private_ip, "api"))
        elif kind == "db":
            client = rng.choice([*app, env.instance_by_tier("batch")[0]])
            if up(client, t) and up(db, t):
                flows += connection(
                    rng,
                    env,
                    state,
                    t,
                    client,
                    client.private_ip,
                    db,
                    db.private_ip,
                    5432,
                    req_bytes=rng.randrange(200, 4000),
                    resp_bytes=int(rng.lognormvariate(8, 1.5)) + 100,
                )
        elif kind == "s3":
            client = rng.choice([i for i in env.instances if i.tier != "db"])
            if up(client, t):
                flows += connection(
                    rng,
                    env,
                    state,
                    t,
                    client,
                    client.private_ip,
                    None,
                    random_ip(rng, s3_cidr),
                    443,
                    req_bytes=rng.randrange(500, 5000),
                    resp_bytes=int(rng.lognormvariate(10, 1.5)),
                    dst_service="S3",
                    path="7",
                )
        elif kind == "egress":
            client = rng.choice(env.instances)
            if up(client, t):
                dst = (
                    random_ip(rng, "151.101.0.0/16")
                    if rng.random() < 0.5
                    else random_ip(rng, "140.82.112.0/20")
                )
                flows += connection(
                    rng,
                    env,
                    state,
                    t,
                    client,
                    client.private_ip,
                    None,
                    dst,
                    443,
                    req_bytes=rng.randrange(500, 3000),
                    resp_bytes=int(rng.lognormvariate(9, 1.2)),
                    path="8" if client.public_ip else "1",
                )
        elif kind == "scan":
            server = rng.choice(public)
            if up(server, t):
                port = rng.choice(SCAN_PORTS)
                src = random_ip(rng, rng.choice(INTERNET_CIDRS))
                flows += connection(
                    rng,
                    env,
                    state,
                    t,
                    None,
                    src,
                    server,
                    server.private_ip,
                    port,
                    req_bytes=60,
                    resp_bytes=rng.randrange(200, 3000),
                )
        elif kind == "ssh" and up(bastion, t) and rng.random() < 0.3:
            src = random_ip(rng, OFFICE_CIDRS[0])
            flows += connection(
                rng,
                env,
                state,
                t,
                None,
                src,
                bastion,
                bastion.private_ip,
                22,
                req_bytes=rng.randrange(3000, 40000),
                resp_bytes=rng.randrange(5000, 200000),
            )
            target = rng.choice(app)
            if up(target, t):
                flows += connection(
                    rng,
                    env,
                    state,
                    t,
                    bastion,
                    bastion.private_ip,
                    target,
                    target.private_ip,
                    22,
                    req_bytes=rng.randrange(3000, 20000),
                    resp_bytes=rng.randrange(5000, 90000),
                )
    # an idle interface reports NODATA now and then
    if rng.random() < 0.1:
        idle = env.instance_by_tier("batch")[0]
        flows.append(
            Flow(idle, "-", "-", 0, 0, 0, 0, 0, ws + 10, ws + 70, "-", "-", 0, nodata=True)
        )
    return flows, requests


def render(env: RegionEnv, flows: list[Flow]) -> tuple[bytes, list[tuple[int, str, str]]]:
    """File body (header + lines, sorted by interface and time) and the tagged lines (line
    number, tag, line)."""
    flows.sort(key=lambda f: (f.inst.eni, f.start, f.end, f.src, f.dst, f.sport))
    lines = [header(env.flow_format)]
    tagged: list[tuple[int, str, str]] = []
    for f in flows:
        line = format_line(env, f, env.flow_format)
        lines.append(line)
        if f.tag:
            tagged.append((len(lines), f.tag, line))
    return ("\n".join(lines) + "\n").encode(), tagged


def unique_suffix(seed: int, env: RegionEnv, window_start: float) -> str:
    return (
        rng_for(seed, "flow-name", env.account.id, env.region, int(window_start)).randbytes(4).hex()
    )
