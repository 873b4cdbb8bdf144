"""runs.cancel_source: where a run's cancel came from (cli or api); decisions.ignore_cause: why a
push was ignored, as a key, filled in for the decisions made before it from their reasons' words

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: The words of the reasons the trigger wrote before causes were kept, and the cause each names;
#: the first that matches wins, as the old metrics read them.
_REASON_WORDS = (
    ("%namespace%", "namespace"),
    ("%branch%", "branch"),
    ("%fork%", "fork"),
    ("%not part of%", "package"),
    ("%not in%", "package"),
    ("%already%", "duplicate"),
)


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("cancel_source", sa.String(length=8), nullable=True))
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("ignore_cause", sa.String(length=16), nullable=True))
    decisions = sa.table(
        "decisions", sa.column("decision", sa.String), sa.column("reason", sa.Text),
        sa.column("ignore_cause", sa.String),
    )
    for words, cause in _REASON_WORDS:
        op.execute(
            decisions.update()
            .where(
                decisions.c.decision == "ignore",
                decisions.c.ignore_cause.is_(None),
                sa.func.lower(decisions.c.reason).like(words),
            )
            .values(ignore_cause=cause)
        )


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("ignore_cause")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("cancel_source")
