"""The simulated organisation: accounts, regions, networks, instances, buckets, people and robots.

Built once from the seed; every source generator reads the same world, so flow logs talk about
the instances and security groups Config records, and CloudTrail names the same buckets, keys and
principals. Mutable parts (security-group rules, instance state, tags, attached policies) change
only through :mod:`loglake.datasets.changes`, which also writes the CloudTrail call that changed
them.
"""

from __future__ import annotations

import functools
import ipaddress
import random
import socket
from dataclasses import dataclass, field
from typing import Any

from ._util import hex_id, iso_millis, rng_for, stable_hash, uuid1

REGIONS = [
    "us-east-1",
    "eu-west-1",
    "us-west-2",
    "eu-central-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "us-east-2",
    "ca-central-1",
]
AZ_ID_PREFIX = {
    "us-east-1": "use1",
    "us-east-2": "use2",
    "us-west-2": "usw2",
    "eu-west-1": "euw1",
    "eu-central-1": "euc1",
    "ap-southeast-2": "apse2",
    "ap-northeast-1": "apne1",
    "ca-central-1": "cac1",
}
#: the role CIS asks for to manage incidents with AWS Support
SUPPORT_ROLE = "aws-support-access"
ACCOUNT_NAMES = ["prod", "staging", "dev", "data", "shared-services", "sandbox", "analytics", "ml"]

FIRST_NAMES = ["alice", "bob", "carol", "dan", "erin", "frank", "grace", "heidi", "ivan", "judy"]
LAST_NAMES = ["nguyen", "smith", "garcia", "kowalski", "tanaka", "okafor", "muller", "rossi"]

# Public ranges (documentation + ordinary ISP-looking space) for people and robots.
OFFICE_CIDRS = ["198.51.100.0/24", "203.0.113.0/24"]
HOME_CIDRS = ["81.2.69.0/24", "86.24.0.0/16", "73.162.0.0/16", "92.40.0.0/16", "24.5.0.0/16"]
CI_CIDRS = ["140.82.112.0/20", "4.175.0.0/16", "20.42.0.0/16"]
INTERNET_CIDRS = [
    "45.155.0.0/16",
    "185.220.0.0/16",
    "91.240.0.0/16",
    "162.142.125.0/24",
    "71.6.0.0/16",
]

BROWSER_UAS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
]
CLI_UAS = [
    "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/macos#23.4.0 md/arch#arm64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/prompt#off",
    "aws-cli/2.15.41 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0-1018-aws md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off",
    "Boto3/1.34.84 md/Botocore#1.34.84 ua/2.0 os/macos#23.4.0 md/arch#arm64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.84",
]
TERRAFORM_UA = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.45.0 "
    "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.26.1 ua/2.0 os/linux "
    "lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/{service}#{version}"
)
GHA_UA = "aws-sdk-js/3.554.0 ua/2.0 os/linux#6.5.0-1017-azure lang/js md/nodejs#20.12.1 api/{service}#3.554.0"
WORKLOAD_UAS = [
    "aws-sdk-java/2.25.40 Linux/6.1.84-99.169.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS Java/17.0.11 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
    "Boto3/1.34.84 md/Botocore#1.34.84 ua/2.0 os/linux#6.1.84-99.169.amzn2023.x86_64 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.84",
]
LAMBDA_UA = "Boto3/1.34.42 md/Botocore#1.34.42 ua/2.0 os/linux#5.10.214-223.801.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.42"


@functools.lru_cache(maxsize=1024)
def network(cidr: str) -> tuple[int, int]:
    """First address (as an integer) and size of an IPv4 CIDR block."""
    net = ipaddress.ip_network(cidr)
    return int(net.network_address), net.num_addresses


def ip_int(address: str) -> int:
    return int.from_bytes(socket.inet_aton(address), "big")


def random_ip(rng: random.Random, cidr: str) -> str:
    base, size = network(cidr)
    return socket.inet_ntoa((base + rng.randrange(1, size - 1)).to_bytes(4, "big"))


def az_id(region: str, az: str) -> str:
    letter = az[-1]
    return f"{AZ_ID_PREFIX.get(region, region.replace('-', '')[:5])}-az{'abcdef'.index(letter) + 1}"


@dataclass
class Rule:
    """One ingress or egress permission of a security group (a CIDR or a source group)."""

    protocol: str  # "tcp", "udp", "-1"
    from_port: int | None
    to_port: int | None
    cidr: str | None = None
    group_id: str | None = None
    description: str | None = None
    rule_id: str = ""
    tag: str | None = None  # scenario that added the rule: traffic it lets in belongs to it

    def allows(self, port: int, protocol: int, src_ip: str | None, src_groups: set[str]) -> bool:
        proto = {"tcp": 6, "udp": 17, "icmp": 1}.get(self.protocol, -1)
        if self.protocol != "-1" and proto != protocol:
            return False
        if self.from_port is not None and not (self.from_port <= port <= (self.to_port or 0)):
            return False
        if self.group_id is not None:
            return self.group_id in src_groups
        if self.cidr is None or src_ip is None:
            return False
        base, size = network(self.cidr)
        return 0 <= ip_int(src_ip) - base < size

    def config_shape(self) -> dict[str, Any]:
        perm: dict[str, Any] = {"ipProtocol": self.protocol}
        if self.from_port is not None:
            perm["fromPort"] = self.from_port
            perm["toPort"] = self.to_port
        perm["ipv6Ranges"] = []
        perm["prefixListIds"] = []
        if self.group_id:
            pair: dict[str, Any] = {"groupId": self.group_id}
            perm["userIdGroupPairs"] = [pair]
            perm["ipv4Ranges"] = []
            perm["ipRanges"] = []
        else:
            rng4: dict[str, Any] = {"cidrIp": self.cidr}
            if self.description:
                rng4["description"] = self.description
            perm["userIdGroupPairs"] = []
            perm["ipv4Ranges"] = [rng4]
            perm["ipRanges"] = [self.cidr]
        return perm


@dataclass
class SecurityGroup:
    id: str
    name: str
    description: str
    vpc_id: str
    ingress: list[Rule]
    egress: list[Rule]
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Volume:
    id: str
    size: int
    volume_type: str
    az: str
    instance_id: str | None
    device: str
    created: str
    kms_key_arn: str | None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Instance:
    id: str
    tier: str
    eni: str
    private_ip: str
    public_ip: str | None
    subnet_id: str
    az: str
    sg_ids: list[str]
    role_name: str
    instance_type: str
    ami: str
    launch_time: str
    volume_ids: list[str]
    mac: str
    state: str = "running"
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Subnet:
    id: str
    cidr: str
    az: str
    public: bool


@dataclass
class Bucket:
    name: str
    region: str
    created: str
    purpose: str
    key_prefixes: list[str]
    versioning: str = "Enabled"
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class KmsKey:
    id: str
    arn: str
    alias: str
    state: str = "Enabled"  # Enabled | Disabled | PendingDeletion
    deletion_date: str | None = None
    rotation: bool = True


@dataclass
class Trail:
    """A CloudTrail trail, recorded by AWS Config in its home region."""

    name: str
    arn: str
    bucket: str
    multi_region: bool
    organization: bool
    kms_key: str | None
    validation: bool = True
    created: str = ""


@dataclass
class IamUser:
    name: str
    user_id: str
    created: str
    access_key: str | None
    kind: str  # "human", "ci", "service-account"
    policies: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class IamRole:
    name: str
    role_id: str
    created: str
    path: str
    trusted: dict[str, Any]
    policies: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class RegionEnv:
    """Everything one account has in one region."""

    account: Account
    region: str
    index: int
    vpc_id: str
    vpc_cidr: str
    subnets: list[Subnet]
    sgs: dict[str, SecurityGroup]
    instances: list[Instance]
    volumes: dict[str, Volume]
    buckets: list[Bucket]
    kms_keys: list[KmsKey]
    nat_ip: str
    s3_endpoint: str
    igw: str
    flow_log_id: str
    flow_format: str  # "v2" or "v5"
    lambda_functions: list[str]
    log_groups: list[str]
    created: str
    #: the VPC's default security group (no rules: it restricts all traffic)
    default_sg: SecurityGroup | None = None
    #: trails whose home region this is
    trails: list[Trail] = field(default_factory=list)

    @property
    def is_home(self) -> bool:
        return self.index == 0

    def sg_by_name(self, name: str) -> SecurityGroup:
        for sg in self.sgs.values():
            if sg.name == name:
                return sg
        raise KeyError(name)

    def instance_by_tier(self, tier: str) -> list[Instance]:
        return [i for i in self.instances if i.tier == tier]


@dataclass
class Account:
    id: str
    name: str
    index: int
    alias: str
    users: dict[str, IamUser]
    roles: dict[str, IamRole]
    regions: list[RegionEnv] = field(default_factory=list)
    sso_people: list[str] = field(default_factory=list)


@dataclass
class World:
    seed: int
    accounts: list[Account]
    regions: list[str]
    org_id: str
    trail_name: str
    trail_bucket: str
    start: float

    def account(self, account_id: str) -> Account:
        for acct in self.accounts:
            if acct.id == account_id:
                return acct
        raise KeyError(account_id)


def _account_id(rng: random.Random, used: set[str]) -> str:
    while True:
        value = str(rng.randrange(100000000000, 999999999999))
        if value not in used:
            used.add(value)
            return value


def _iam_id(prefix: str, rng: random.Random) -> str:
    return prefix + "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", k=17))


def access_key_id(prefix: str, *parts: object) -> str:
    """A stable AKIA/ASIA id derived from what it belongs to."""
    digest = stable_hash(*parts, length=40)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return prefix + "".join(alphabet[int(digest[i : i + 2], 16) % 32] for i in range(0, 32, 2))


def build_world(seed: int, n_accounts: int, n_regions: int, start: float) -> World:
    """The deterministic world for a seed (independent of the number of days generated)."""
    if not 1 <= n_regions <= len(REGIONS):
        raise ValueError(f"regions must be between 1 and {len(REGIONS)}")
    if not 1 <= n_accounts <= 64:
        raise ValueError("accounts must be between 1 and 64")
    rng = rng_for(seed, "world")
    used: set[str] = set()
    org_id = "o-" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=10))
    regions = REGIONS[:n_regions]
    created = iso_millis(int(start - 400 * 86400) * 1000)
    accounts: list[Account] = []
    people = [f"{f}.{ln}" for f in FIRST_NAMES for ln in LAST_NAMES]
    rng.shuffle(people)
    for a in range(n_accounts):
        acct_id = _account_id(rng, used)
        name = ACCOUNT_NAMES[a % len(ACCOUNT_NAMES)] + ("" if a < len(ACCOUNT_NAMES) else str(a))
        arng = rng_for(seed, "account", a)
        users: dict[str, IamUser] = {}
        humans = people[(a * 3) % len(people) : (a * 3) % len(people) + 3]
        for person in humans:
            users[person] = IamUser(
                person,
                _iam_id("AIDA", arng),
                created,
                access_key_id("AKIA", seed, acct_id, person),
                "human",
                groups=["engineers"],
            )
        for robot, group in (
            ("ci-deploy", "deployers"),
            ("backup-operator", "backup-readers"),
            ("monitoring-exporter", "monitoring"),
        ):
            users[robot] = IamUser(
                robot,
                _iam_id("AIDA", arng),
                created,
                access_key_id("AKIA", seed, acct_id, robot),
                "ci" if robot == "ci-deploy" else "service-account",
                groups=[group],
            )
        roles: dict[str, IamRole] = {}

        def role(
            name: str,
            principal: dict[str, Any],
            policy: str,
            path: str = "/",
            roles: dict[str, IamRole] = roles,
            arng: random.Random = arng,
        ) -> None:
            roles[name] = IamRole(
                name,
                _iam_id("AROA", arng),
                created,
                path,
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
                    ],
                },
                policies=[policy],
            )

        role(
            "web-app-role",
            {"Service": "ec2.amazonaws.com"},
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        )
        role(
            "api-app-role",
            {"Service": "ec2.amazonaws.com"},
            "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        )
        role(
            "batch-worker-role",
            {"Service": "ec2.amazonaws.com"},
            "arn:aws:iam::aws:policy/AmazonS3FullAccess",
        )
        role(
            "bastion-role",
            {"Service": "ec2.amazonaws.com"},
            "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        )
        role(
            "report-builder-lambda-role",
            {"Service": "lambda.amazonaws.com"},
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        )
        role(
            "github-actions-deploy",
            {
                "Federated": f"arn:aws:iam::{acct_id}:oidc-provider/token.actions.githubusercontent.com"
            },
            "arn:aws:iam::aws:policy/PowerUserAccess",
        )
        role(
            "AWSReservedSSO_AdministratorAccess_" + stable_hash(seed, acct_id, "sso-admin"),
            {
                "Federated": f"arn:aws:iam::{acct_id}:saml-provider/AWSSSO_{stable_hash(seed, acct_id, 'saml')}_DO_NOT_DELETE"
            },
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "/aws-reserved/sso.amazonaws.com/",
        )
        role(
            "AWSReservedSSO_ReadOnlyAccess_" + stable_hash(seed, acct_id, "sso-ro"),
            {
                "Federated": f"arn:aws:iam::{acct_id}:saml-provider/AWSSSO_{stable_hash(seed, acct_id, 'saml')}_DO_NOT_DELETE"
            },
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "/aws-reserved/sso.amazonaws.com/",
        )
        role(
            "AWSServiceRoleForConfig",
            {"Service": "config.amazonaws.com"},
            "arn:aws:iam::aws:policy/aws-service-role/AWSConfigServiceRolePolicy",
            "/aws-service-role/config.amazonaws.com/",
        )
        role(
            "OrganizationAccountAccessRole",
            {"AWS": "arn:aws:iam::" + (accounts[0].id if accounts else acct_id) + ":root"},
            "arn:aws:iam::aws:policy/AdministratorAccess",
        )
        role(
            SUPPORT_ROLE,
            {"AWS": f"arn:aws:iam::{acct_id}:root"},
            "arn:aws:iam::aws:policy/AWSSupportAccess",
        )
        sso_people = people[(a * 5 + 40) % len(people) : (a * 5 + 40) % len(people) + 3]
        alias = f"acme-{name}"
        account = Account(acct_id, name, a, alias, users, roles, sso_people=sso_people)
        accounts.append(account)
        for r, region in enumerate(regions):
            account.regions.append(_build_region(seed, account, region, r, start, created))
    trail_bucket = (
        f"aws-cloudtrail-logs-{accounts[0].id}-{stable_hash(seed, 'trail-bucket', length=8)}"
    )
    home = accounts[0].regions[0]
    for name, multi, org in (
        ("organization-trail", True, True),
        ("security-audit-trail", False, False),
    ):
        home.trails.append(
            Trail(
                name,
                f"arn:aws:cloudtrail:{home.region}:{accounts[0].id}:trail/{name}",
                trail_bucket,
                multi_region=multi,
                organization=org,
                kms_key=home.kms_keys[1].arn,
                created=created,
            )
        )
    return World(seed, accounts, regions, org_id, "organization-trail", trail_bucket, start)


def _build_region(
    seed: int, account: Account, region: str, r: int, start: float, created: str
) -> RegionEnv:
    rng = rng_for(seed, "region", account.id, region)
    second = (account.index * len(REGIONS) + r) % 250 + 1
    vpc_cidr = f"10.{second}.0.0/16"
    vpc_id = "vpc-" + hex_id(rng)
    azs = [f"{region}a", f"{region}b"]
    subnets = [
        Subnet("subnet-" + hex_id(rng), f"10.{second}.0.0/24", azs[0], True),
        Subnet("subnet-" + hex_id(rng), f"10.{second}.1.0/24", azs[1], True),
        Subnet("subnet-" + hex_id(rng), f"10.{second}.10.0/24", azs[0], False),
        Subnet("subnet-" + hex_id(rng), f"10.{second}.11.0/24", azs[1], False),
    ]
    sgs: dict[str, SecurityGroup] = {}

    def sg(name: str, desc: str, ingress: list[Rule]) -> SecurityGroup:
        group = SecurityGroup(
            "sg-" + hex_id(rng),
            name,
            desc,
            vpc_id,
            ingress,
            [Rule("-1", None, None, cidr="0.0.0.0/0")],
            tags={"Name": name},
        )
        for rule in ingress:
            rule.rule_id = "sgr-" + hex_id(rng)
        sgs[group.id] = group
        return group

    web = sg(
        "web-alb-sg",
        "Public HTTPS for the web tier",
        [
            Rule("tcp", 443, 443, cidr="0.0.0.0/0", description="HTTPS from the internet"),
            Rule("tcp", 80, 80, cidr="0.0.0.0/0", description="HTTP redirect"),
        ],
    )
    app = sg(
        "app-sg",
        "Application servers",
        [Rule("tcp", 8080, 8080, group_id=web.id, description="from web tier")],
    )
    db = sg(
        "db-sg",
        "PostgreSQL",
        [Rule("tcp", 5432, 5432, cidr=vpc_cidr, description="VPC clients")],
    )
    bastion = sg(
        "bastion-sg",
        "SSH from the office only",
        [Rule("tcp", 22, 22, cidr=OFFICE_CIDRS[0], description="office VPN")],
    )
    batch = sg("batch-sg", "Batch workers (egress only)", [])
    app.ingress.append(Rule("tcp", 22, 22, group_id=bastion.id, description="from bastion"))
    app.ingress[-1].rule_id = "sgr-" + hex_id(rng)
    db.ingress.append(Rule("tcp", 22, 22, group_id=bastion.id, description="from bastion"))
    db.ingress[-1].rule_id = "sgr-" + hex_id(rng)

    instances: list[Instance] = []
    volumes: dict[str, Volume] = {}
    kms_keys = []
    for alias in ("alias/app-data", "alias/backups", "alias/ebs-default"):
        key_id = uuid1(rng)
        kms_keys.append(KmsKey(key_id, f"arn:aws:kms:{region}:{account.id}:key/{key_id}", alias))
    layout = [
        ("web", web, 0, "web-app-role", "t3.medium", True),
        ("web", web, 1, "web-app-role", "t3.medium", True),
        ("app", app, 2, "api-app-role", "m6i.large", False),
        ("app", app, 3, "api-app-role", "m6i.large", False),
        ("db", db, 2, "api-app-role", "r6i.xlarge", False),
        ("bastion", bastion, 0, "bastion-role", "t3.micro", True),
        ("batch", batch, 3, "batch-worker-role", "c6i.2xlarge", False),
    ]
    ami = "ami-" + hex_id(rng)
    for n, (tier, group, sub_i, role_name, itype, public) in enumerate(layout):
        subnet = subnets[sub_i]
        net = ipaddress.ip_network(subnet.cidr)
        private_ip = str(net.network_address + 10 + n * 7 + rng.randrange(5))
        public_ip = random_ip(rng, "3.80.0.0/12") if public else None
        iid = "i-" + hex_id(rng)
        launch = iso_millis(int(start - rng.randrange(5, 120) * 86400) * 1000)
        vols = []
        for dev, size in (("/dev/xvda", 30),) + ((("/dev/sdf", 500),) if tier == "db" else ()):
            vid = "vol-" + hex_id(rng)
            volumes[vid] = Volume(
                vid,
                size,
                "gp3",
                subnet.az,
                iid,
                dev,
                launch,
                kms_keys[2].arn,
                {"Name": f"{tier}-{n}"},
            )
            vols.append(vid)
        instances.append(
            Instance(
                iid,
                tier,
                "eni-" + hex_id(rng),
                private_ip,
                public_ip,
                subnet.id,
                subnet.az,
                [group.id],
                role_name,
                itype,
                ami,
                launch,
                vols,
                ":".join(["02"] + [f"{rng.randrange(256):02x}" for _ in range(5)]),
                tags={
                    "Name": f"{account.name}-{tier}-{n}",
                    "Environment": account.name,
                    "Tier": tier,
                },
            )
        )
    short = stable_hash(seed, account.id, region, "bucket", length=6)
    buckets = [
        Bucket(
            f"acme-{account.name}-app-assets-{region}-{short}",
            region,
            created,
            "assets",
            ["static/css/", "static/js/", "images/products/", "uploads/2024/"],
        ),
        Bucket(
            f"acme-{account.name}-customer-data-{region}-{short}",
            region,
            created,
            "customer-data",
            ["exports/", "invoices/2024/", "crm/snapshots/", "reports/monthly/"],
        ),
        Bucket(
            f"acme-{account.name}-backups-{region}-{short}",
            region,
            created,
            "backups",
            ["postgres/daily/", "postgres/wal/", "configs/"],
        ),
    ]
    for b in buckets:
        b.tags = {
            "Environment": account.name,
            "DataClass": "confidential" if b.purpose == "customer-data" else "internal",
        }
    default_sg = SecurityGroup(
        "sg-" + stable_hash(seed, account.id, region, "default-sg", length=17),
        "default",
        "default VPC security group",
        vpc_id,
        [],
        [],
    )
    return RegionEnv(
        default_sg=default_sg,
        account=account,
        region=region,
        index=r,
        vpc_id=vpc_id,
        vpc_cidr=vpc_cidr,
        subnets=subnets,
        sgs=sgs,
        instances=instances,
        volumes=volumes,
        buckets=buckets,
        kms_keys=kms_keys,
        nat_ip=random_ip(rng, "52.0.0.0/11"),
        s3_endpoint="vpce-" + hex_id(rng),
        igw="igw-" + hex_id(rng),
        flow_log_id="fl-" + hex_id(rng),
        flow_format="v5" if (account.index + r) % 2 else "v2",
        lambda_functions=[f"{account.name}-report-builder", f"{account.name}-image-resizer"],
        log_groups=["/acme/web/access", "/acme/web/app"],
        created=created,
    )
