"""The ``[security]`` table of ``metaxy.toml``: roles, principals (with API-key hashes) and the audit log.

::

    [security]
    audit_store = "audit"            # a configured store that keeps the audit log (optional)

    [security.roles.video_editor]    # a role grants permissions on feature-key patterns
    read = ["*"]
    write = ["video/*"]

    [security.principals.alice]
    roles = ["video_editor"]
    api_key_hash = "scrypt$16384$8$1$..."   # from `metaxy auth hash-key`; never the key itself
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RoleConfig(BaseModel):
    """One role: for each permission, the feature-key patterns it applies to (``*`` matches any text)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    admin: tuple[str, ...] = ()


class PrincipalConfig(BaseModel):
    """One principal (a person or a service): its roles and, to log in with a key, the key's hash."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: tuple[str, ...] = ()
    api_key_hash: str | None = None


class SecurityConfig(BaseModel):
    """Who may do what (roles, principals) and where attempted operations are recorded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: dict[str, RoleConfig] = Field(default_factory=dict)
    principals: dict[str, PrincipalConfig] = Field(default_factory=dict)
    audit_store: str | None = None

    @model_validator(mode="after")
    def _known_roles(self) -> SecurityConfig:
        for name, principal in self.principals.items():
            unknown = sorted(set(principal.roles) - set(self.roles))
            if unknown:
                raise ValueError(
                    f"principal {name!r} has unknown role(s) {unknown}; defined roles: {sorted(self.roles)}"
                )
        return self
