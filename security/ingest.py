"""Set-based storage of agent event batches: one query finds the ids already
stored, one INSERT stores the rest (ON CONFLICT DO NOTHING covers a retry racing
its original)."""

from __future__ import annotations

from security.models import SecurityEvent


def store_events(gateway, events) -> tuple[int, int]:
    unique = {}
    for event in events:
        unique.setdefault(event.id, event)
    existing = set(
        SecurityEvent.objects.filter(uuid__in=list(unique)).values_list("uuid", flat=True)
    )
    rows = [
        SecurityEvent(
            uuid=event.id,
            gateway_id=gateway.pk,
            occurred_at=event.occurred_at,
            severity=event.severity,
            category=event.category,
            signature=event.signature,
            src_ip=str(event.src_ip) if event.src_ip is not None else None,
            src_port=event.src_port,
            dst_ip=str(event.dst_ip) if event.dst_ip is not None else None,
            dst_port=event.dst_port,
            protocol=event.protocol,
            message=event.message,
            details=event.details,
        )
        for event_id, event in unique.items()
        if event_id not in existing
    ]
    if rows:
        SecurityEvent.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    accepted = len(rows)
    return accepted, len(events) - accepted
