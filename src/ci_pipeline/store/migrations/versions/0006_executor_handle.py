"""stage_runs.executor_handle: the running attempt's handle, opaque text of its executor's, for pgid

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

stage_runs = sa.table("stage_runs", sa.column("id", sa.Integer()), sa.column("pgid", sa.Integer()),
                      sa.column("executor_handle", sa.Text()))


def upgrade() -> None:
    with op.batch_alter_table("stage_runs") as batch:
        batch.add_column(sa.Column("executor_handle", sa.Text(), nullable=True))
    # A process group id recorded before is the local executor's handle in its older, bare form.
    op.execute(
        stage_runs.update()
        .where(stage_runs.c.pgid.is_not(None))
        .values(executor_handle=sa.cast(stage_runs.c.pgid, sa.Text()))
    )
    with op.batch_alter_table("stage_runs") as batch:
        batch.drop_column("pgid")


def downgrade() -> None:
    # Handles are the executors' own text: only the bare process group ids of older ones go back.
    with op.batch_alter_table("stage_runs") as batch:
        batch.add_column(sa.Column("pgid", sa.Integer(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(stage_runs.c.id, stage_runs.c.executor_handle)
        .where(stage_runs.c.executor_handle.is_not(None))
    ).all()
    for row_id, handle in rows:
        number = str(handle).partition("@")[0]
        if number.isdigit():
            connection.execute(stage_runs.update().where(stage_runs.c.id == row_id).values(pgid=int(number)))
    with op.batch_alter_table("stage_runs") as batch:
        batch.drop_column("executor_handle")
