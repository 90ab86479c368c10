"""Tenancy: both clouds share one store, so what belongs to a cloud is what lies inside its subscription."""
from typing import Optional

from ..plumbing.config import CloudConfig


def foreign_subscription(cloud: CloudConfig, path: str) -> Optional[str]:
    """The subscription a `/subscriptions/{id}/...` path names when it is not this cloud's; None otherwise."""
    if not names_a_subscription(path):
        return None
    named = path.split("/")[2]
    return named if named.lower() != cloud.subscription_id else None


def names_a_subscription(path: str) -> bool:
    segments = path.split("/")
    return len(segments) > 2 and segments[1].lower() == "subscriptions" and bool(segments[2])


def foreign_identities(cloud: CloudConfig, identity: Optional[dict]) -> list:
    """The user-assigned identities of `identity` that are not this cloud's: an identity's principal is derived from
    its id, so naming the other cloud's identity would borrow its role assignments and vault policies."""
    return [identity_id for identity_id in ((identity or {}).get("userAssignedIdentities") or {})
            if not identity_id.lower().startswith(f"/subscriptions/{cloud.subscription_id}/")]
