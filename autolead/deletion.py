import datetime
import decimal
import json

from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.transaction import Transaction, without_check_access


class Deletion(ModelSQL, ModelView):
    "A trace of a record the administrator deleted"
    __name__ = 'autolead.deletion'
    __string__ = "Deleted Record"

    date = fields.DateTime("Date", required=True, readonly=True)
    user = fields.Many2One(
        'res.user', "User", readonly=True, ondelete='SET NULL',
        help="Who deleted the record.")
    user_name = fields.Char(
        "User Name", readonly=True,
        help="The name of who deleted it, kept if the user is removed.")
    model = fields.Char("Model", required=True, readonly=True)
    record_id = fields.Integer("Record ID", required=True, readonly=True)
    record_name = fields.Char("Record", readonly=True)
    content = fields.Text(
        "Content", readonly=True,
        help="The values of the record and how many related records "
        "(notes, calls, messages...) went with it.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def trace(cls, records):
        "Keep who deletes the records, when, and what they held"
        pool = Pool()
        User = pool.get('res.user')
        if not records:
            return
        Model = records[0].__class__
        transaction = Transaction()
        now = datetime.datetime.now()
        user_id = transaction.user or None
        with without_check_access():
            user_name = User(user_id).rec_name if user_id else None
            values = []
            for record in Model.browse([r.id for r in records]):
                values.append({
                        'date': now,
                        'user': user_id,
                        'user_name': user_name,
                        'model': Model.__name__,
                        'record_id': record.id,
                        'record_name': record.rec_name,
                        'content': json.dumps(
                            _content(record), default=_json_default,
                            indent=1, sort_keys=True),
                        })
            cls.create(values)


def _content(record):
    content = {}
    for name, field in record._fields.items():
        if isinstance(field, fields.Function):
            continue
        if field._type in {'one2many', 'many2many'}:
            content[name] = len(getattr(record, name))
        elif field._type == 'many2one':
            value = getattr(record, name)
            content[name] = value.rec_name if value else None
        elif field._type not in {'binary'}:
            content[name] = getattr(record, name)
    return content


def _json_default(value):
    if isinstance(value, (datetime.date, datetime.datetime,
                datetime.time, datetime.timedelta, decimal.Decimal)):
        return str(value)
    return repr(value)


class TraceDeletionMixin:
    "Leave a trace of the records deleted"
    __slots__ = ()

    @classmethod
    def delete(cls, records):
        Deletion = Pool().get('autolead.deletion')
        Deletion.trace(records)
        super().delete(records)
