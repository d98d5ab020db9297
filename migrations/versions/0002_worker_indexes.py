"""worker indexes: find an instance's timers, subscriptions and jobs without a table scan

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 07:00:00
"""
from alembic import op


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("timer", schema=None) as batch_op:
        batch_op.create_index("ix_timer_instance", ["instance_id"], unique=False)
    with op.batch_alter_table("message_subscription", schema=None) as batch_op:
        batch_op.create_index("ix_subscription_instance", ["instance_id"], unique=False)
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index("ix_job_instance", ["instance_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_instance")
    with op.batch_alter_table("message_subscription", schema=None) as batch_op:
        batch_op.drop_index("ix_subscription_instance")
    with op.batch_alter_table("timer", schema=None) as batch_op:
        batch_op.drop_index("ix_timer_instance")
