"""Call attempts: when the destination answered, kept on the leg itself.

Time to answer was derived from the webhook receipts of "answered" status callbacks; it is now
recorded on the leg (``answered_at``). Existing legs are filled in from those receipts.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 21:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

#: The receipt steps of a leg's "answered" status callbacks (flow.status keys them this way).
ANSWERED_EVENTS = ("in-progress", "answered")


def upgrade():
    # A plain ADD COLUMN on both engines (no table rebuild).
    op.add_column('call_attempt',
                  sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True))
    attempt = sa.table('call_attempt', sa.column('id', sa.Integer), sa.column('leg_sid', sa.String),
                       sa.column('answered_at', sa.DateTime(timezone=True)))
    receipt = sa.table('webhook_receipt', sa.column('call_sid', sa.String),
                       sa.column('step', sa.String),
                       sa.column('created_at', sa.DateTime(timezone=True)))
    steps = [sa.literal('status:attempt=') + sa.cast(attempt.c.id, sa.String)
             + sa.literal(f':{event}') for event in ANSWERED_EVENTS]
    first_answer = (
        sa.select(sa.func.min(receipt.c.created_at))
        .where(receipt.c.call_sid == attempt.c.leg_sid,
               sa.or_(*(receipt.c.step == step for step in steps)))
        .scalar_subquery()
    )
    op.execute(attempt.update().where(attempt.c.leg_sid.is_not(None))
               .values(answered_at=first_answer))


def downgrade():
    with op.batch_alter_table('call_attempt', schema=None) as batch_op:
        batch_op.drop_column('answered_at')
