"""Who may enter: the rules a blueprint applies to a user Adobe signed in.

Any Adobe ID can be made in a minute, so a dashboard for one company must
decide who may look, not only who signed in. Adobe IMS says who the user is
and where they belong in its profile (Adobe Developer Console docs, User
Authentication API reference, ``GET /ims/profile/v1``): with the scope
``additional_info.projectedProductContext`` it lists the user's product
contexts, each ``{"prodCtx": {"serviceCode", "owningEntity", "label", ...}}``
where ``owningEntity`` is the organisation (``...@AdobeOrg``) and
``serviceCode`` the product (``dma_analytics`` for Adobe Analytics); with
``additional_info.roles`` it lists the user's roles, each naming its
``organization``.

:func:`decide` applies a blueprint's rules (``allowed_orgs``,
``required_products``, ``allowed_email_domains``, ``authorize``) to an
:class:`AdobeIdentity` read from that profile. It needs no Flask.
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


def identity_from_profile(profile: Mapping[str, Any]) -> AdobeIdentity:
    """Read an IMS profile; fields of the wrong shape are left out, never trusted."""
    orgs: set[str] = set()
    products: set[tuple[str, str]] = set()
    contexts = profile.get("projectedProductContext")
    for item in contexts if isinstance(contexts, list) else ():
        context = item.get("prodCtx") if isinstance(item, dict) else None
        if not isinstance(context, dict):
            continue
        org, code = _text(context.get("owningEntity")), _text(context.get("serviceCode"))
        if org:
            orgs.add(org)
            if code:
                products.add((org, code))
    roles = profile.get("roles")
    for role in roles if isinstance(roles, list) else ():
        org = _text(role.get("organization")) if isinstance(role, dict) else None
        if org:
            orgs.add(org)
    # IMS's profile says emailVerified (as a string or a boolean); OpenID
    # Connect's userinfo says email_verified.
    verified = profile.get("emailVerified", profile.get("email_verified"))
    return AdobeIdentity(
        user_id=_text(profile.get("userId")) or _text(profile.get("sub")),
        email=_text(profile.get("email")),
        # IMS sends "true"/"false" as strings in some answers, booleans in others.
        email_verified=verified is True or (isinstance(verified, str) and verified.lower() == "true"),
        name=_text(profile.get("name")) or _text(profile.get("displayName")),
        orgs=frozenset(orgs),
        products=frozenset(products),
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
