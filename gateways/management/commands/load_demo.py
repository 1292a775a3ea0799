from django.core.management.base import BaseCommand
from django.db import transaction

from gateways.choices import GatewayStatus
from gateways.models import Gateway, Region

REGIONS = [
    ("Frankfurt", "eu-fra", "Primary EU data centre, Equinix FR5."),
    ("Amsterdam", "eu-ams", "Secondary EU site and IX peering."),
    ("Virginia", "us-iad", "US East production."),
    ("Oregon", "us-pdx", "US West production."),
    ("Singapore", "ap-sin", "APAC hub."),
]

# (name, region slug, address, capacity, version, status, tags)
GATEWAYS = [
    ("gw-fra-1", "eu-fra", "198.51.100.11", 10000, "1.8.2", GatewayStatus.PENDING, ["edge", "pci"]),
    ("gw-fra-2", "eu-fra", "198.51.100.12", 10000, "1.8.2", GatewayStatus.PENDING, ["edge"]),
    ("gw-fra-3", "eu-fra", "198.51.100.13", 1000, "1.8.1", GatewayStatus.MAINTENANCE, ["lab"]),
    ("gw-ams-1", "eu-ams", "198.51.100.21", 5000, "1.8.2", GatewayStatus.PENDING, ["edge"]),
    ("gw-ams-2", "eu-ams", "198.51.100.22", 5000, "1.7.9", GatewayStatus.PENDING, ["edge"]),
    ("gw-iad-1", "us-iad", "203.0.113.31", 10000, "1.8.2", GatewayStatus.PENDING, ["edge", "pci"]),
    ("gw-iad-2", "us-iad", "203.0.113.32", 10000, "1.8.2", GatewayStatus.PENDING, ["edge"]),
    ("gw-pdx-1", "us-pdx", "203.0.113.41", 2500, "1.8.0", GatewayStatus.PENDING, ["edge"]),
    ("gw-sin-1", "ap-sin", "192.0.2.51", 2500, "1.8.2", GatewayStatus.PENDING, ["edge", "apac"]),
    ("gw-sin-2", "ap-sin", "gw-sin-2.example.net", 1000, "", GatewayStatus.PENDING, ["apac"]),
]


class Command(BaseCommand):
    help = "Load demo regions and gateways; existing ones (by name) are left as they are."

    @transaction.atomic
    def handle(self, *args, **options):
        regions = {}
        for name, slug, description in REGIONS:
            regions[slug], _ = Region.objects.get_or_create(
                slug=slug, defaults={"name": name, "description": description}
            )
        created = 0
        for name, region, address, capacity, version, status, tags in GATEWAYS:
            gateway, was_created = Gateway.objects.get_or_create(
                name=name,
                defaults={
                    "region": regions[region],
                    "public_address": address,
                    "capacity_mbps": capacity,
                    "software_version": version,
                    "status": status,
                    "description": f"Demo gateway in {regions[region].name}.",
                },
            )
            if was_created:
                gateway.tags.set(tags)
                created += 1
        self.stdout.write(f"Demo data: {len(REGIONS)} regions, {created} gateways added.")
