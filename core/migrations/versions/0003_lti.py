"""lti registrations, tool keys, contexts, links, line items, launch cache

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.storage

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lti_launch_cache",
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_lti_launch_cache")),
    )
    with op.batch_alter_table("lti_launch_cache", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lti_launch_cache_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "lti_platforms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=300), nullable=False),
        sa.Column("auth_login_url", sa.String(length=2000), nullable=False),
        sa.Column("auth_token_url", sa.String(length=2000), nullable=False),
        sa.Column("auth_audience", sa.String(length=2000), nullable=True),
        sa.Column("key_set_url", sa.String(length=2000), nullable=True),
        sa.Column("key_set", sa.JSON(), nullable=True),
        sa.Column("email_trusted", sa.Boolean(), nullable=False),
        sa.Column("product_family_code", sa.String(length=100), nullable=True),
        sa.Column("registered_via", sa.String(length=10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_platforms")),
        sa.UniqueConstraint("issuer", "client_id", name=op.f("uq_lti_platforms_issuer")),
        sa.UniqueConstraint("public_id", name=op.f("uq_lti_platforms_public_id")),
    )
    with op.batch_alter_table("lti_platforms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lti_platforms_issuer"), ["issuer"], unique=False)

    op.create_table(
        "lti_tool_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("encrypted_private_key", sa.Text(), nullable=False),
        sa.Column("created_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", core.storage.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retired_at", core.storage.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_tool_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_lti_tool_keys_kid")),
    )
    op.create_table(
        "lti_deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(length=300), nullable=False),
        sa.Column("created_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["lti_platforms.id"],
            name=op.f("fk_lti_deployments_platform_id_lti_platforms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_deployments")),
        sa.UniqueConstraint(
            "platform_id", "deployment_id", name=op.f("uq_lti_deployments_platform_id")
        ),
    )
    with op.batch_alter_table("lti_deployments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lti_deployments_platform_id"), ["platform_id"], unique=False
        )

    op.create_table(
        "lti_contexts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.String(length=300), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("types", sa.JSON(), nullable=False),
        sa.Column("created_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["lti_deployments.id"],
            name=op.f("fk_lti_contexts_deployment_id_lti_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_contexts")),
        sa.UniqueConstraint(
            "deployment_id", "context_id", name=op.f("uq_lti_contexts_deployment_id")
        ),
    )
    with op.batch_alter_table("lti_contexts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lti_contexts_deployment_id"), ["deployment_id"], unique=False
        )

    op.create_table(
        "lti_resource_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=True),
        sa.Column("resource_link_id", sa.String(length=300), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("custom", sa.JSON(), nullable=False),
        sa.Column("activity_public_id", sa.String(length=36), nullable=True),
        sa.Column("playlist_public_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["lti_contexts.id"],
            name=op.f("fk_lti_resource_links_context_id_lti_contexts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["lti_deployments.id"],
            name=op.f("fk_lti_resource_links_deployment_id_lti_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_resource_links")),
        sa.UniqueConstraint(
            "deployment_id", "resource_link_id", name=op.f("uq_lti_resource_links_deployment_id")
        ),
    )
    with op.batch_alter_table("lti_resource_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lti_resource_links_context_id"), ["context_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_lti_resource_links_deployment_id"), ["deployment_id"], unique=False
        )

    op.create_table(
        "lti_line_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=True),
        sa.Column("resource_link_id", sa.Integer(), nullable=True),
        sa.Column("line_item_url", sa.String(length=2000), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=True),
        sa.Column("score_maximum", sa.Float(), nullable=True),
        sa.Column("resource_id", sa.String(length=300), nullable=True),
        sa.Column("tag", sa.String(length=300), nullable=True),
        sa.Column("created_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["lti_contexts.id"],
            name=op.f("fk_lti_line_items_context_id_lti_contexts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["lti_deployments.id"],
            name=op.f("fk_lti_line_items_deployment_id_lti_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resource_link_id"],
            ["lti_resource_links.id"],
            name=op.f("fk_lti_line_items_resource_link_id_lti_resource_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_line_items")),
        sa.UniqueConstraint(
            "deployment_id", "line_item_url", name=op.f("uq_lti_line_items_deployment_id")
        ),
    )
    with op.batch_alter_table("lti_line_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lti_line_items_context_id"), ["context_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_lti_line_items_deployment_id"), ["deployment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_lti_line_items_resource_link_id"), ["resource_link_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("lti_line_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_line_items_resource_link_id"))
        batch_op.drop_index(batch_op.f("ix_lti_line_items_deployment_id"))
        batch_op.drop_index(batch_op.f("ix_lti_line_items_context_id"))

    op.drop_table("lti_line_items")
    with op.batch_alter_table("lti_resource_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_resource_links_deployment_id"))
        batch_op.drop_index(batch_op.f("ix_lti_resource_links_context_id"))

    op.drop_table("lti_resource_links")
    with op.batch_alter_table("lti_contexts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_contexts_deployment_id"))

    op.drop_table("lti_contexts")
    with op.batch_alter_table("lti_deployments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_deployments_platform_id"))

    op.drop_table("lti_deployments")
    op.drop_table("lti_tool_keys")
    with op.batch_alter_table("lti_platforms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_platforms_issuer"))

    op.drop_table("lti_platforms")
    with op.batch_alter_table("lti_launch_cache", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_launch_cache_expires_at"))

    op.drop_table("lti_launch_cache")
