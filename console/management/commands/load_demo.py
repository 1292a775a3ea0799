import json
import os
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.db import transaction

from gateways.enrolment import issue_token, revoke_tokens
from gateways.models import Gateway, Region
from policies.models import Policy, PolicyCategory, Rule
from policies.publishing import PublishRefused, publish
from tunnels.models import Tunnel

REGIONS = [
    ("Frankfurt", "eu-fra", "Primary EU data centre."),
    ("Amsterdam", "eu-ams", "Secondary EU site and IX peering."),
    ("Virginia", "us-iad", "US East production."),
    ("Singapore", "ap-sin", "APAC hub."),
]

# (name, region slug, address, capacity in Mbps, tags): 12 gateways in 4 regions,
# brought to life by the fleet simulator that `make run` starts.
GATEWAYS = [
    ("gw-fra-1", "eu-fra", "198.51.100.11", 10000, ["edge", "pci"]),
    ("gw-fra-2", "eu-fra", "198.51.100.12", 10000, ["edge"]),
    ("gw-fra-3", "eu-fra", "198.51.100.13", 1000, ["lab"]),
    ("gw-ams-1", "eu-ams", "198.51.100.21", 5000, ["edge"]),
    ("gw-ams-2", "eu-ams", "198.51.100.22", 5000, ["edge"]),
    ("gw-ams-3", "eu-ams", "gw-ams-3.example.net", 2500, ["edge", "backup"]),
    ("gw-iad-1", "us-iad", "203.0.113.31", 10000, ["edge", "pci"]),
    ("gw-iad-2", "us-iad", "203.0.113.32", 10000, ["edge"]),
    ("gw-iad-3", "us-iad", "203.0.113.33", 2500, ["edge"]),
    ("gw-sin-1", "ap-sin", "192.0.2.51", 2500, ["edge", "apac"]),
    ("gw-sin-2", "ap-sin", "192.0.2.52", 2500, ["apac"]),
    ("gw-sin-3", "ap-sin", "gw-sin-3.example.net", 1000, ["apac"]),
]

# (name, end A, end B or None, remote address, remote subnets, protocol)
TUNNELS = [
    ("fra-ams", "gw-fra-1", "gw-ams-1", "", "", "wireguard"),
    ("fra-iad", "gw-fra-2", "gw-iad-1", "", "", "wireguard"),
    ("ams-sin", "gw-ams-2", "gw-sin-1", "", "", "ipsec"),
    ("iad-sin", "gw-iad-2", "gw-sin-2", "", "", "wireguard"),
    ("ams-backup", "gw-ams-3", "gw-fra-3", "", "", "wireguard"),
    ("fra-hq-office", "gw-fra-1", None, "192.0.2.200", "10.20.0.0/16", "ipsec"),
    ("iad-branch", "gw-iad-3", None, "198.51.100.200", "10.30.0.0/24, 10.31.0.0/24", "ipsec"),
]


# (name, category, priority, description, rules); a rule is (action, source
# region slugs, source CIDRs, destination CIDRs, protocol, ports, comment).
POLICIES = [
    (
        "Management access",
        "Infrastructure",
        10,
        "Operators reach the gateways' management ports from the NOC networks only.",
        [
            (
                "allow",
                [],
                ["10.0.0.0/24"],
                ["198.51.100.0/24", "203.0.113.0/24"],
                "tcp",
                "22, 443",
                "NOC to gateway management",
            ),
            (
                "deny",
                [],
                [],
                ["198.51.100.0/24", "203.0.113.0/24"],
                "tcp",
                "22",
                "Nobody else gets SSH",
            ),
        ],
    ),
    (
        "EU payments",
        "PCI",
        20,
        "Card traffic from the European sites to the payment processors.",
        [
            ("allow", ["eu-fra", "eu-ams"], [], ["192.0.2.128/25"], "tcp", "443", "Payment API"),
            ("deny", [], [], ["192.0.2.128/25"], "any", "", "No other site reaches them"),
        ],
    ),
    (
        "Office web",
        "Offices",
        100,
        "Branch offices browse the web and resolve names.",
        [
            ("allow", [], ["10.20.0.0/16", "10.30.0.0/23"], ["0.0.0.0/0"], "tcp", "80, 443", "Web"),
            ("allow", [], ["10.20.0.0/16", "10.30.0.0/23"], ["0.0.0.0/0"], "udp", "53", "DNS"),
        ],
    ),
]


class Command(BaseCommand):
    help = "Load demo regions, gateways and tunnels; existing ones (by name) are left as they are."

    def add_arguments(self, parser):
        parser.add_argument(
            "--tokens-file",
            help="Also write fresh enrolment tokens for the demo gateways to this file "
            "(JSON, for `manage.py simulate_fleet --tokens-file`).",
        )

    @transaction.atomic
    def handle(self, *args, tokens_file=None, **options):
        regions = {}
        for name, slug, description in REGIONS:
            regions[slug], _ = Region.objects.get_or_create(
                slug=slug, defaults={"name": name, "description": description}
            )
        created = 0
        for name, region, address, capacity, tags in GATEWAYS:
            gateway, was_created = Gateway.objects.get_or_create(
                name=name,
                defaults={
                    "region": regions[region],
                    "public_address": address,
                    "capacity_mbps": capacity,
                    "description": f"Demo gateway in {regions[region].name}.",
                },
            )
            if was_created:
                gateway.tags.set(tags)
                created += 1
        tunnels = self.load_tunnels()
        policies = self.load_policies(regions)
        self.stdout.write(
            f"Demo data: {len(REGIONS)} regions, {created} gateways, {tunnels} tunnels and "
            f"{policies} policies added."
        )
        if tokens_file:
            self.write_tokens(Path(tokens_file))

    def load_tunnels(self) -> int:
        gateways = {g.name: g for g in Gateway.objects.filter(name__in=[r[0] for r in GATEWAYS])}
        created = 0
        for name, end_a, end_b, address, subnets, protocol in TUNNELS:
            if Tunnel.objects.filter(name=name).exists() or end_a not in gateways:
                continue
            tunnel = Tunnel(
                name=name,
                gateway_a=gateways[end_a],
                gateway_b=gateways.get(end_b) if end_b else None,
                remote_address=address,
                remote_subnets=subnets,
                protocol=protocol,
                description="Demo tunnel.",
            )
            try:
                tunnel.full_clean()
            except ValidationError:
                continue  # an admin changed the demo data; leave it be
            tunnel.save()
            created += 1
        return created

    def load_policies(self, regions) -> int:
        """The demo policies, published once as the first revision; a console
        that already has policies is left alone."""
        if Policy.objects.exists():
            return 0
        for name, category, priority, description, rules in POLICIES:
            policy = Policy.objects.create(
                name=name,
                description=description,
                category=PolicyCategory.objects.get_or_create(name=category)[0],
                priority=priority,
            )
            for position, (action, src_regions, src, dst, protocol, ports, comment) in enumerate(
                rules, start=1
            ):
                Rule.objects.create(
                    policy=policy,
                    position=position,
                    action=action,
                    src_regions=[
                        {"id": str(regions[slug].uuid), "name": regions[slug].name}
                        for slug in src_regions
                    ],
                    src_cidrs=src,
                    dst_cidrs=dst,
                    protocol=protocol,
                    ports=ports,
                    comment=comment,
                )
        try:
            publish(None, "Demo policies", confirm_warnings=True)
        except PublishRefused as refused:
            self.stderr.write(f"Demo policies left as a draft: {refused}")
        return len(POLICIES)

    def write_tokens(self, path: Path) -> None:
        """One fresh token per demo gateway; older unused ones are revoked."""
        entries = []
        for gateway in Gateway.objects.filter(name__in=[row[0] for row in GATEWAYS]):
            revoke_tokens(gateway)
            entries.append({"gateway": gateway.name, "token": issue_token(gateway, ttl=3600)})
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(entries, handle)
