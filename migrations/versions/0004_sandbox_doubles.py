"""Tables of the connectors' sandbox doubles (their own metadata: connectors/sandbox_store.py).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandbox_record",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
            nullable=False,
        ),
        sa.Column("system", sa.String(length=50), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("system", "kind", "external_id", name="uq_sandbox_record_key"),
    )
    op.create_index("ix_sandbox_record_system_kind", "sandbox_record", ["system", "kind"])
    op.create_table(
        "sandbox_fault",
        sa.Column("system", sa.String(length=50), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("system"),
    )


def downgrade() -> None:
    op.drop_table("sandbox_fault")
    op.drop_index("ix_sandbox_record_system_kind", table_name="sandbox_record")
    op.drop_table("sandbox_record")
