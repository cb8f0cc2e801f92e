from tortoise import migrations
from tortoise.migrations import operations as ops
from bot.push.models import Channel
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Contact',
            fields=[
                ('openid', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('phone', fields.TextField(null=True, unique=False)),
                ('phone_lookup', fields.CharField(null=True, db_index=True, max_length=64)),
                ('phone_consent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('phone_verified_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('sms_stopped_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('sms_stop_reason', fields.CharField(null=True, max_length=64)),
                ('email', fields.TextField(null=True, unique=False)),
                ('email_lookup', fields.CharField(null=True, db_index=True, max_length=64)),
                ('email_consent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('email_stopped_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('source', fields.CharField(default='chat', max_length=16)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'contact', 'app': 'models', 'pk_attr': 'openid', 'table_description': "One resident's phone and email, with when they consented and when they said stop."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ContactCode',
            fields=[
                ('openid', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('phone', fields.TextField(unique=False)),
                ('code_hash', fields.CharField(max_length=64)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('tries', fields.IntField(default=0)),
                ('sent_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'contact_code', 'app': 'models', 'pk_attr': 'openid', 'table_description': 'A verification code sent by SMS to a number a resident typed in chat.'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Campaign',
            name='channel',
            field=fields.CharEnumField(description='template: template\nmass: mass\ncustomer: customer\nsms: sms\nemail: email', enum_type=Channel, max_length=8),
        ),
        ops.AddField(
            model_name='Campaign',
            name='fallback',
            field=fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='Campaign',
            name='fallback_delay',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='CampaignRun',
            name='channel',
            field=fields.CharEnumField(null=True, description='template: template\nmass: mass\ncustomer: customer\nsms: sms\nemail: email', enum_type=Channel, max_length=8),
        ),
        ops.AlterField(
            model_name='Delivery',
            name='channel',
            field=fields.CharEnumField(default=Channel.template, description='template: template\nmass: mass\ncustomer: customer\nsms: sms\nemail: email', enum_type=Channel, max_length=8),
        ),
        ops.AlterField(
            model_name='Delivery',
            name='wechat_msgid',
            field=fields.CharField(null=True, db_index=True, max_length=64),
        ),
        ops.AddField(
            model_name='Delivery',
            name='delivered_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Delivery',
            name='opened',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Delivery',
            name='reason',
            field=fields.CharField(null=True, max_length=64),
        ),
    ]
