from tortoise import migrations
from tortoise.migrations import operations as ops
from bot.catalog.models import VersionState
from bot.push.models import NoticeState
from bot.search.models import MissKind
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ContentEntry',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('data', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('updated_at', fields.DatetimeField(db_index=True, auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'content_entry', 'app': 'models', 'pk_attr': 'name', 'table_description': 'A content file that is one value rather than rows (the menu, regions, synonyms,'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MoreResults',
            fields=[
                ('openid', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('query', fields.CharField(max_length=200)),
                ('shown', fields.IntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'more_results', 'app': 'models', 'pk_attr': 'openid', 'table_description': "A resident's last search that had more results than one reply shows, so that"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PolicyNotice',
            fields=[
                ('policy_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=80)),
                ('state', fields.CharEnumField(default=NoticeState.pending, db_index=True, description='pending: pending\npreparing: preparing\nprepared: prepared\nskipped: skipped', enum_type=NoticeState, max_length=9)),
                ('campaign_id', fields.IntField(null=True)),
                ('note', fields.CharField(default='', max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'policy_notice', 'app': 'models', 'pk_attr': 'policy_id', 'table_description': 'The one notice of a newly published policy: its subscribers hear of a policy'},
            bases=['Model'],
        ),
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
                ('sent_back_reason', fields.CharField(default='', description="the reviewer's reason when sending it back, shown to the authors", max_length=500)),
                ('sent_back_by', fields.CharField(null=True, max_length=64)),
                ('sent_back_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'policy_version', 'app': 'models', 'unique_together': (('policy', 'number'),), 'pk_attr': 'id', 'table_description': 'One version of a policy package made in the console or the admin API.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SearchMiss',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('query', fields.CharField(unique=True, max_length=200)),
                ('kind', fields.CharEnumField(default=MissKind.nothing, description='nothing: nothing\nfallback: fallback', enum_type=MissKind, max_length=8)),
                ('count', fields.IntField(default=1)),
                ('first_seen', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_seen', fields.DatetimeField(db_index=True, auto_now=True, auto_now_add=False)),
                ('resolved_by', fields.CharField(null=True, max_length=64)),
            ],
            options={'table': 'search_miss', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A query that found nothing or only a fallback, counted, never who asked.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SearchRule',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('word', fields.CharField(db_index=True, max_length=64)),
                ('terms', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('doc_kind', fields.CharField(null=True, max_length=32)),
                ('doc_id', fields.CharField(null=True, db_index=True, max_length=80)),
                ('created_by', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(db_index=True, auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'search_rule', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A fix staff made: ``word`` also means ``terms`` (a synonym, read at query'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Policy',
            name='attachments',
            field=fields.JSONField(default=list, description='files shown on the page: [{"file", "title"}] (see ``bot.catalog.attachments``)', encoder=JSON_DUMPS, decoder=loads),
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
