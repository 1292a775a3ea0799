from django.core.management.base import BaseCommand, CommandError

from gateways.enrolment import issue_token
from gateways.models import Gateway, Region


class Command(BaseCommand):
    help = (
        "Print a fresh one-time enrolment token for a gateway (for scripted roll-outs). "
        "With --create the gateway is created when it does not exist."
    )

    def add_arguments(self, parser):
        parser.add_argument("gateway_name")
        parser.add_argument("--region", help="Region slug (required with --create).")
        parser.add_argument("--create", action="store_true", help="Create the gateway if missing.")
        parser.add_argument("--ttl", type=int, help="Lifetime in seconds (default 24 h).")

    def handle(self, *args, gateway_name, region, create, ttl, **options):
        gateway = Gateway.objects.filter(name=gateway_name).first()
        if gateway is None:
            if not create:
                raise CommandError(f"No gateway named {gateway_name!r}; add --create to make it.")
            if not region:
                raise CommandError("--create needs --region SLUG.")
            try:
                region_obj = Region.objects.get(slug=region)
            except Region.DoesNotExist:
                raise CommandError(f"No region with slug {region!r}.") from None
            gateway = Gateway(name=gateway_name, region=region_obj)
            gateway.full_clean()
            gateway.save()
        elif region and gateway.region.slug != region:
            raise CommandError(
                f"Gateway {gateway_name!r} is in region {gateway.region.slug!r}, not {region!r}."
            )
        if ttl is not None and ttl < 60:
            raise CommandError("--ttl must be at least 60 seconds.")
        self.stdout.write(issue_token(gateway, ttl=ttl))
