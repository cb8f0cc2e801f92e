from tortoise import migrations
from tortoise.migrations import operations as ops
from bot.search.models import MissKind
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
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
    ]
