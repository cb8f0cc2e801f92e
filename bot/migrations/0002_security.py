from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    operations = [
        ops.CreateModel(
            name="RateCounter",
            fields=[
                ("key", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=160)),
                ("count", fields.IntField(default=0)),
                ("expires", fields.BigIntField(db_index=True)),
            ],
            options={"table": "rate_counter", "app": "models", "pk_attr": "key", "table_description": "Events counted in one fixed time window (failed logins, 留言), shared by every process."},
            bases=["Model"],
        ),
    ]
