"""queue policies: per-queue rules (blind, FIFO, cool-down, online only, return), claims, presence

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00
"""
from alembic import op
import sqlalchemy as sa
import engine.models


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queue_policy",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("blind", sa.Boolean(), nullable=False),
        sa.Column("visible_fields", sa.JSON(), nullable=False),
        sa.Column("fifo", sa.Boolean(), nullable=False),
        sa.Column("cooldown_seconds", sa.Integer(), nullable=False),
        sa.Column("online_only", sa.Boolean(), nullable=False),
        sa.Column("return_after_minutes", sa.Integer(), nullable=False),
        sa.Column("updated_at", engine.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=150), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "queue_claim",
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("claimed_at", engine.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("queue", "username"),
    )
    op.create_table(
        "user_presence",
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("updated_at", engine.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username"),
    )


def downgrade() -> None:
    op.drop_table("user_presence")
    op.drop_table("queue_claim")
    op.drop_table("queue_policy")
