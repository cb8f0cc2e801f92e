from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_v0_2')]

    initial = False

    operations = [
        ops.CreateModel(
            name='EligibilityCheck',
            fields=[
                ('openid', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('data', fields.TextField(unique=False)),
                ('consent', fields.BooleanField(null=True)),
                ('asking', fields.CharField(null=True, max_length=32)),
                ('paused', fields.BooleanField(default=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'eligibility_check', 'app': 'models', 'pk_attr': 'openid', 'table_description': 'A 政策体检 under way in chat, so it survives processes and can be resumed.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='EligibilityNotice',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('openid', fields.CharField(max_length=64)),
                ('policy_id', fields.CharField(max_length=80)),
                ('kind', fields.CharField(max_length=16)),
                ('batch', fields.CharField(db_index=True, max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'eligibility_notice', 'app': 'models', 'unique_together': (('openid', 'policy_id', 'kind'),), 'pk_attr': 'id', 'table_description': 'A resident was (or is about to be) told of a policy: once per kind per policy.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='EligibilityRound',
            fields=[
                ('policy_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=80)),
                ('rule_hash', fields.CharField(default='', max_length=64)),
                ('note', fields.CharField(default='', max_length=255)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'eligibility_round', 'app': 'models', 'pk_attr': 'policy_id', 'table_description': 'The last rule of a policy residents were matched against: a published or'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ResidentProfile',
            fields=[
                ('openid', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('data', fields.TextField(unique=False)),
                ('consented_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'resident_profile', 'app': 'models', 'pk_attr': 'openid', 'table_description': "A consenting resident's answers (encrypted JSON ``{attribute: value}``)."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Policy',
            name='eligibility',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
    ]
