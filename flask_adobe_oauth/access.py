"""Who may enter: the rules a blueprint applies to a user Adobe signed in.

Any Adobe ID can be made in a minute, so a dashboard for one company must
decide who may look, not only who signed in. Adobe IMS's profile (User
Authentication API reference, ``GET /ims/profile/v1``) lists, with the scope
``additional_info.projectedProductContext``, the user's product contexts
``{"prodCtx": {"serviceCode", "owningEntity", ...}}`` (``owningEntity`` the
organisation, ``...@AdobeOrg``; ``serviceCode`` the product, ``dma_analytics``
for Analytics), and with ``additional_info.roles`` roles naming their
``organization``. :func:`decide` applies the rules to what it says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import Config
from .errors import NotAllowed


@dataclass(frozen=True)
class AdobeIdentity:
    """What Adobe said about the user at sign-in (or at a refresh)."""

    user_id: str | None
    email: str | None
    #: Only a verified address counts for ``allowed_email_domains``.
    email_verified: bool
    name: str | None
    #: Every organisation the profile names (product contexts and roles).
    orgs: frozenset[str]
    #: ``(organisation, serviceCode)`` of every product context.
    products: frozenset[tuple[str, str]]
    #: The profile as Adobe sent it, for the app's own ``authorize`` rule.
    profile: Mapping[str, Any] = field(repr=False, default_factory=dict)

    def products_in(self, orgs: frozenset[str]) -> frozenset[str]:
        """The product codes the user has in any of ``orgs``."""
        return frozenset(code for org, code in self.products if org in orgs)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def identity_from_profile(profile: Mapping[str, Any]) -> AdobeIdentity:
    """Read an IMS profile; fields of the wrong shape are left out, never trusted."""
    contexts = [item.get("prodCtx") for item in _dicts(profile.get("projectedProductContext"))]
    pairs = [(_text(c.get("owningEntity")), _text(c.get("serviceCode"))) for c in _dicts(contexts)]
    roles = [_text(role.get("organization")) for role in _dicts(profile.get("roles"))]
    orgs = {org for org, _ in pairs if org} | {org for org in roles if org}
    # IMS's profile says emailVerified ("true"/"false" as strings in some answers,
    # booleans in others); OpenID Connect's userinfo says email_verified.
    verified = profile.get("emailVerified", profile.get("email_verified"))
    return AdobeIdentity(
        user_id=_text(profile.get("userId")) or _text(profile.get("sub")),
        email=_text(profile.get("email")),
        email_verified=verified is True or (isinstance(verified, str) and verified.lower() == "true"),
        name=_text(profile.get("name")) or _text(profile.get("displayName")),
        orgs=frozenset(orgs),
        products=frozenset((org, code) for org, code in pairs if org and code),
        profile=dict(profile),
    )


def has_rules(config: Config) -> bool:
    """Whether the blueprint decides who may enter (and so reads the profile)."""
    return bool(
        config.allowed_orgs or config.required_products or config.allowed_email_domains or config.authorize
    )


def decide(config: Config, identity: AdobeIdentity) -> tuple[frozenset[str], frozenset[str]]:
    """The organisations the user is admitted for and the products they have
    there, or :class:`NotAllowed` saying why not, in the user's words."""
    orgs = identity.orgs
    if config.allowed_orgs:
        orgs = orgs & frozenset(config.allowed_orgs)
        if not orgs:
            raise NotAllowed("Your Adobe account is not in the organisation this site is for.")
    if config.required_products:
        wanted = frozenset(config.required_products)
        # Every required product in one and the same organisation.
        orgs = frozenset(org for org in orgs if wanted <= identity.products_in(frozenset({org})))
        if not orgs:
            raise NotAllowed(
                "Your Adobe account does not have the Adobe product this site needs "
                "in an organisation it is for."
            )
    if config.allowed_email_domains:
        domain = (identity.email or "").rpartition("@")[2].lower()
        if not identity.email_verified or domain not in config.allowed_email_domains:
            raise NotAllowed("Your Adobe account's e-mail address is not one this site admits.")
    if config.authorize is not None:
        verdict = config.authorize(identity)
        if verdict is not True:
            reason = (
                verdict if isinstance(verdict, str) and verdict else "This site does not admit your account."
            )
            raise NotAllowed(reason)
    return orgs, identity.products_in(orgs)
