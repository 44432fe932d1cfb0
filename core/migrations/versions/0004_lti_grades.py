"""lti placements (who launched which course item, with their LTI user id) and grades sent
to the LMS (AGS)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.storage

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lti_grades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_item_id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("job_key", sa.String(length=300), nullable=True),
        sa.Column("sending_job_key", sa.String(length=300), nullable=True),
        sa.Column("handled_job_key", sa.String(length=300), nullable=True),
        sa.Column("activity_progress", sa.String(length=20), nullable=True),
        sa.Column("score_given", sa.Float(), nullable=True),
        sa.Column("score_maximum", sa.Float(), nullable=True),
        sa.Column("timestamp", core.storage.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["learners.id"],
            name=op.f("fk_lti_grades_learner_id_learners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["line_item_id"],
            ["lti_line_items.id"],
            name=op.f("fk_lti_grades_line_item_id_lti_line_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_grades")),
        sa.UniqueConstraint("line_item_id", "learner_id", name=op.f("uq_lti_grades_line_item_id")),
    )
    with op.batch_alter_table("lti_grades", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lti_grades_learner_id"), ["learner_id"], unique=False)

    op.create_table(
        "lti_placements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_link_id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("line_item_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["learners.id"],
            name=op.f("fk_lti_placements_learner_id_learners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["line_item_id"],
            ["lti_line_items.id"],
            name=op.f("fk_lti_placements_line_item_id_lti_line_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resource_link_id"],
            ["lti_resource_links.id"],
            name=op.f("fk_lti_placements_resource_link_id_lti_resource_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_placements")),
        sa.UniqueConstraint(
            "resource_link_id", "learner_id", name=op.f("uq_lti_placements_resource_link_id")
        ),
    )
    with op.batch_alter_table("lti_placements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lti_placements_learner_id"), ["learner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_lti_placements_line_item_id"), ["line_item_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("lti_placements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_placements_line_item_id"))
        batch_op.drop_index(batch_op.f("ix_lti_placements_learner_id"))

    op.drop_table("lti_placements")
    with op.batch_alter_table("lti_grades", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_grades_learner_id"))

    op.drop_table("lti_grades")
