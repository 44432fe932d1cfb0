"""catalogue, learners, evidence, awards, outbox, users, oauth

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.storage

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "learners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("created_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", core.storage.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merged_into_id"], ["learners.id"], name=op.f("fk_learners_merged_into_id_learners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learners")),
        sa.UniqueConstraint("public_id", name=op.f("uq_learners_public_id")),
    )
    op.create_table(
        "oauth_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("client_secret", sa.String(length=200), nullable=True),
        sa.Column("client_id_issued_at", sa.Integer(), nullable=False),
        sa.Column("client_secret_expires_at", sa.Integer(), nullable=False),
        sa.Column("client_metadata", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_oauth_clients_client_id")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", core.storage.UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", core.storage.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_kind"), ["kind"], unique=False)
        batch_op.create_index(
            "ix_outbox_state_next_attempt_at", ["state", "next_attempt_at"], unique=False
        )

    op.create_table(
        "achievements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("criteria_narrative", sa.Text(), nullable=True),
        sa.Column("criteria_url", sa.String(length=2000), nullable=True),
        sa.Column("image", sa.String(length=2000), nullable=True),
        sa.Column("achievement_type", sa.String(length=60), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("esco_skills", sa.JSON(), nullable=False),
        sa.Column("microcredential", sa.JSON(), nullable=False),
        sa.Column("allows_repeats", sa.Boolean(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("created_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_achievements_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_achievements")),
        sa.UniqueConstraint("public_id", name=op.f("uq_achievements_public_id")),
    )
    with op.batch_alter_table("achievements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_achievements_issuer_id"), ["issuer_id"], unique=False)

    op.create_table(
        "endorsements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endorser_issuer_id", sa.Integer(), nullable=False),
        sa.Column("target_kind", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["endorser_issuer_id"],
            ["issuers.id"],
            name=op.f("fk_endorsements_endorser_issuer_id_issuers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_endorsements")),
    )
    with op.batch_alter_table("endorsements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_endorsements_endorser_issuer_id"), ["endorser_issuer_id"], unique=False
        )

    op.create_table(
        "learner_identifiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("platform", sa.String(length=500), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("created_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["learner_id"], ["learners.id"], name=op.f("fk_learner_identifiers_learner_id_learners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learner_identifiers")),
        sa.UniqueConstraint("kind", "platform", "value", name=op.f("uq_learner_identifiers_kind")),
    )
    with op.batch_alter_table("learner_identifiers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_learner_identifiers_learner_id"), ["learner_id"], unique=False
        )

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=True),
        sa.Column("learner_id", sa.Integer(), nullable=True),
        sa.Column("oidc_subject", sa.String(length=300), nullable=True),
        sa.Column("created_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_users_issuer_id_issuers")
        ),
        sa.ForeignKeyConstraint(
            ["learner_id"], ["learners.id"], name=op.f("fk_users_learner_id_learners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("oidc_subject", name=op.f("uq_users_oidc_subject")),
    )
    op.create_table(
        "login_throttle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", core.storage.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_throttle")),
        sa.UniqueConstraint("key", name=op.f("uq_login_throttle_key")),
    )
    op.create_table(
        "bulk_award_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("failures", sa.JSON(), nullable=False),
        sa.Column("done_count", sa.Integer(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("next_row_index", sa.Integer(), nullable=False),
        sa.Column("lease_until", core.storage.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", core.storage.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", core.storage.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_bulk_award_jobs_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_award_jobs")),
        sa.UniqueConstraint("public_id", name=op.f("uq_bulk_award_jobs_public_id")),
    )
    with op.batch_alter_table("bulk_award_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bulk_award_jobs_issuer_id"), ["issuer_id"], unique=False
        )

    op.create_table(
        "activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("achievement_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("location_name", sa.String(length=300), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("starts_at", core.storage.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ends_at", core.storage.UTCDateTime(timezone=True), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("completion_mode", sa.String(length=30), nullable=False),
        sa.Column("attendance_code_hash", sa.String(length=200), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("created_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["achievement_id"],
            ["achievements.id"],
            name=op.f("fk_activities_achievement_id_achievements"),
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_activities_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
        sa.UniqueConstraint("public_id", name=op.f("uq_activities_public_id")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activities_achievement_id"), ["achievement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_activities_city"), ["city"], unique=False)
        batch_op.create_index(batch_op.f("ix_activities_issuer_id"), ["issuer_id"], unique=False)

    op.create_table(
        "held_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("credential_key", sa.String(length=300), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_held_credentials_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_credentials")),
        sa.UniqueConstraint("user_id", "credential_key", name=op.f("uq_held_credentials_user_id")),
    )
    with op.batch_alter_table("held_credentials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_held_credentials_user_id"), ["user_id"], unique=False)

    op.create_table(
        "oauth_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=120), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("response_type", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("nonce", sa.Text(), nullable=True),
        sa.Column("auth_time", sa.Integer(), nullable=False),
        sa.Column("code_challenge", sa.Text(), nullable=True),
        sa.Column("code_challenge_method", sa.String(length=10), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_oauth_codes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_oauth_codes_code")),
    )
    op.create_table(
        "oauth_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_type", sa.String(length=40), nullable=False),
        sa.Column("access_token", sa.String(length=255), nullable=False),
        sa.Column("refresh_token", sa.String(length=255), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.Integer(), nullable=False),
        sa.Column("access_token_revoked_at", sa.Integer(), nullable=False),
        sa.Column("refresh_token_revoked_at", sa.Integer(), nullable=False),
        sa.Column("expires_in", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_oauth_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_tokens")),
        sa.UniqueConstraint("access_token", name=op.f("uq_oauth_tokens_access_token")),
    )
    with op.batch_alter_table("oauth_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_tokens_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_oauth_tokens_refresh_token"), ["refresh_token"], unique=False
        )

    op.create_table(
        "playlists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("achievement_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("rule", sa.String(length=10), nullable=False),
        sa.Column("required_count", sa.Integer(), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("created_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["achievement_id"],
            ["achievements.id"],
            name=op.f("fk_playlists_achievement_id_achievements"),
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_playlists_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playlists")),
        sa.UniqueConstraint("public_id", name=op.f("uq_playlists_public_id")),
    )
    with op.batch_alter_table("playlists", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_playlists_achievement_id"), ["achievement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_playlists_issuer_id"), ["issuer_id"], unique=False)

    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("file_name", sa.String(length=300), nullable=True),
        sa.Column("file_type", sa.String(length=100), nullable=True),
        sa.Column("file_data", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("submitted_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reviewer", sa.String(length=320), nullable=True),
        sa.Column("review_comment", sa.Text(), nullable=True),
        sa.Column("reviewed_at", core.storage.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activities.id"], name=op.f("fk_evidence_activity_id_activities")
        ),
        sa.ForeignKeyConstraint(
            ["learner_id"], ["learners.id"], name=op.f("fk_evidence_learner_id_learners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
        sa.UniqueConstraint("public_id", name=op.f("uq_evidence_public_id")),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_activity_id"), ["activity_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_evidence_learner_id"), ["learner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_evidence_status"), ["status"], unique=False)

    op.create_table(
        "playlist_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("playlist_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("achievement_id", sa.Integer(), nullable=True),
        sa.Column("external_achievement_id", sa.String(length=2000), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["achievement_id"],
            ["achievements.id"],
            name=op.f("fk_playlist_steps_achievement_id_achievements"),
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_playlist_steps_activity_id_activities"),
        ),
        sa.ForeignKeyConstraint(
            ["playlist_id"],
            ["playlists.id"],
            name=op.f("fk_playlist_steps_playlist_id_playlists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playlist_steps")),
        sa.UniqueConstraint("playlist_id", "position", name=op.f("uq_playlist_steps_playlist_id")),
    )
    with op.batch_alter_table("playlist_steps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_playlist_steps_achievement_id"), ["achievement_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_playlist_steps_external_achievement_id"),
            ["external_achievement_id"],
            unique=False,
        )

    op.create_table(
        "awards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("achievement_id", sa.Integer(), nullable=False),
        sa.Column("source_kind", sa.String(length=20), nullable=False),
        sa.Column("source_event_id", sa.String(length=300), nullable=False),
        sa.Column("active_key", sa.String(length=100), nullable=True),
        sa.Column("evidence_id", sa.Integer(), nullable=True),
        sa.Column("approved_by", sa.String(length=320), nullable=True),
        sa.Column("credential_id", sa.Integer(), nullable=True),
        sa.Column("created_at", core.storage.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["achievement_id"],
            ["achievements.id"],
            name=op.f("fk_awards_achievement_id_achievements"),
        ),
        sa.ForeignKeyConstraint(
            ["credential_id"], ["credentials.id"], name=op.f("fk_awards_credential_id_credentials")
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"], ["evidence.id"], name=op.f("fk_awards_evidence_id_evidence")
        ),
        sa.ForeignKeyConstraint(
            ["learner_id"], ["learners.id"], name=op.f("fk_awards_learner_id_learners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_awards")),
        sa.UniqueConstraint("active_key", name=op.f("uq_awards_active_key")),
        sa.UniqueConstraint("source_kind", "source_event_id", name=op.f("uq_awards_source_kind")),
    )
    with op.batch_alter_table("awards", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_awards_achievement_id"), ["achievement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_awards_learner_id"), ["learner_id"], unique=False)

    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("learner_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("achievement_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("visibility", sa.String(length=10), server_default="public", nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_credentials_achievement_id"), ["achievement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_credentials_learner_id"), ["learner_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_credentials_achievement_id_achievements"),
            "achievements",
            ["achievement_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_credentials_learner_id_learners"), "learners", ["learner_id"], ["id"]
        )

    with op.batch_alter_table("issuers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quality_label_since", sa.Date(), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("issuers", schema=None) as batch_op:
        batch_op.drop_column("quality_label_since")

    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_credentials_learner_id_learners"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_credentials_achievement_id_achievements"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_credentials_learner_id"))
        batch_op.drop_index(batch_op.f("ix_credentials_achievement_id"))
        batch_op.drop_column("visibility")
        batch_op.drop_column("achievement_id")
        batch_op.drop_column("learner_id")

    with op.batch_alter_table("awards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_awards_learner_id"))
        batch_op.drop_index(batch_op.f("ix_awards_achievement_id"))

    op.drop_table("awards")
    with op.batch_alter_table("playlist_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_playlist_steps_external_achievement_id"))
        batch_op.drop_index(batch_op.f("ix_playlist_steps_achievement_id"))

    op.drop_table("playlist_steps")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_status"))
        batch_op.drop_index(batch_op.f("ix_evidence_learner_id"))
        batch_op.drop_index(batch_op.f("ix_evidence_activity_id"))

    op.drop_table("evidence")
    with op.batch_alter_table("playlists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_playlists_issuer_id"))
        batch_op.drop_index(batch_op.f("ix_playlists_achievement_id"))

    op.drop_table("playlists")
    with op.batch_alter_table("oauth_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_tokens_refresh_token"))
        batch_op.drop_index(batch_op.f("ix_oauth_tokens_client_id"))

    op.drop_table("oauth_tokens")
    op.drop_table("oauth_codes")
    with op.batch_alter_table("held_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_held_credentials_user_id"))

    op.drop_table("held_credentials")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activities_issuer_id"))
        batch_op.drop_index(batch_op.f("ix_activities_city"))
        batch_op.drop_index(batch_op.f("ix_activities_achievement_id"))

    with op.batch_alter_table("bulk_award_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bulk_award_jobs_issuer_id"))

    op.drop_table("bulk_award_jobs")
    op.drop_table("login_throttle")
    op.drop_table("activities")
    op.drop_table("users")
    with op.batch_alter_table("learner_identifiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_learner_identifiers_learner_id"))

    op.drop_table("learner_identifiers")
    with op.batch_alter_table("endorsements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_endorsements_endorser_issuer_id"))

    op.drop_table("endorsements")
    with op.batch_alter_table("achievements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_achievements_issuer_id"))

    op.drop_table("achievements")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_state_next_attempt_at")
        batch_op.drop_index(batch_op.f("ix_outbox_kind"))

    op.drop_table("outbox")
    op.drop_table("oauth_clients")
    op.drop_table("learners")
