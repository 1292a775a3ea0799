from django.db.models.signals import pre_delete
from django.dispatch import receiver

from gateways.models import Gateway, RetiredCredential


@receiver(pre_delete, sender=Gateway)
def retire_credential(sender, instance: Gateway, **kwargs) -> None:
    """Remember a deleted gateway's credential so its agent hears 403, not 401."""
    if instance.credential_hash:
        RetiredCredential.objects.get_or_create(
            credential_hash=instance.credential_hash,
            defaults={"gateway_name": instance.name},
        )
