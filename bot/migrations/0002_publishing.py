from tortoise import migrations
from tortoise.migrations import operations as ops
from bot.catalog.models import VersionState
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PolicyVersion',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('policy', fields.ForeignKeyField('models.Policy', source_field='policy_id', db_constraint=True, to_field='id', related_name='versions', on_delete=OnDelete.CASCADE)),
                ('number', fields.IntField()),
                ('state', fields.CharEnumField(default=VersionState.draft, db_index=True, description='draft: draft\nreview: review\npublished: published\nsuperseded: superseded', enum_type=VersionState, max_length=10)),
                ('snapshot', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('content_hash', fields.CharField(max_length=64)),
                ('authors', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('submitted_by', fields.CharField(null=True, max_length=64)),
                ('published_by', fields.CharField(null=True, max_length=64)),
                ('published_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('published_on', fields.DateField(null=True)),
                ('sent_back_reason', fields.CharField(default='', max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'policy_version', 'app': 'models', 'unique_together': (('policy', 'number'),), 'pk_attr': 'id', 'table_description': 'One version of a policy package made in the console or the admin API.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Policy',
            name='attachments',
            field=fields.JSONField(default=list, description='files shown on the page: [{"path", "title", "kind"}] (see ``bot.catalog.attachments``)', encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='Policy',
            name='published_at',
            field=fields.DatetimeField(null=True, description='when the service first published it (disclosure lateness counts from here)', auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Policy',
            name='version',
            field=fields.IntField(default=0, description='number of the version residents see (0: never published by the service)'),
        ),
    ]
